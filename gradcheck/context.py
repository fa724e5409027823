"""What one check knows before any test runs: built once, then read by every unit.

``Context`` holds the problem (f over one flat float64 vector), f(x0), the
user's gradient per parameter block, the options, the random generator and
the global gradient scale that the tolerances need. ``Stepping`` holds what
finite differences measure first (f's noise and the step); it is made by
``measure_stepping`` and passed to the units that use finite differences, so
nothing is left half-initialised. ``Block`` gathers the evidence about one
parameter leaf as the units add it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gradcheck import fd
from gradcheck.diagnose import DirectionalEvidence
from gradcheck.errors import GradcheckUsageError
from gradcheck.problem import Leaf, Problem

ORACLES = ("auto", "fd", "jax", "both")
MODES = ("auto", "fast", "full")


def check_tolerance(name: str, value) -> None:
    """rtol/atol: None (the dtype's default) or a real number >= 0, numpy scalars included."""
    if value is not None and (not isinstance(value, (int, float, np.floating, np.integer))
                              or isinstance(value, (bool, np.bool_)) or not value >= 0):
        raise GradcheckUsageError(f"{name}={value!r}; it must be a number >= 0 (or None for the dtype default)")


@dataclass(frozen=True)
class Options:
    """The options of one check, validated once (every public entry point goes through here)."""

    oracle: str = "auto"
    mode: str | None = None       # None: the session default (settings.default_mode)
    rtol: float | None = None
    atol: float | None = None
    seed: int = 0
    directions: int = 2
    reference: object = None
    network: object = None

    def validate(self) -> "Options":
        if self.oracle not in ORACLES:
            raise GradcheckUsageError(f"oracle={self.oracle!r}; choose one of {', '.join(map(repr, ORACLES))}")
        if self.mode is not None and self.mode not in MODES:
            raise GradcheckUsageError(f"mode={self.mode!r}; choose 'auto' (full where it is cheap, else fast), "
                                      f"'fast' (random directions) or 'full' (every element)")
        for name in ("rtol", "atol"):
            check_tolerance(name, getattr(self, name))
        if not isinstance(self.directions, (int, np.integer)) or isinstance(self.directions, bool) \
                or self.directions < 1:
            raise GradcheckUsageError(f"directions={self.directions!r}; it must be an int >= 1")
        if not isinstance(self.seed, (int, np.integer)) or isinstance(self.seed, bool):
            raise GradcheckUsageError(f"seed={self.seed!r}; it must be an int")
        if self.reference is not None and not callable(self.reference):
            raise GradcheckUsageError("reference must be a function reference(params) -> scalar (a JAX twin of f)")
        if self.network is not None and not (isinstance(self.network, tuple) and len(self.network) == 3):
            raise GradcheckUsageError("network=(spec, x, t): a reference_nets.NetSpec and the data f uses, "
                                      "so that failures can be matched against the bug catalog")
        return self


class Block:
    """What is known about one parameter leaf as the check proceeds."""

    def __init__(self, leaf: Leaf, dtype, user: np.ndarray, x: np.ndarray):
        self.leaf = leaf
        self.dtype = dtype
        self.user = user                                # the user's gradient, flat float64
        self.finite = bool(np.all(np.isfinite(user)))
        # the largest finite magnitude (tolerances scale with it; computed once: a million elements)
        self.scale = float(np.max(np.abs(user if self.finite else user[np.isfinite(user)]), initial=0.0))
        self.narrow = None          # your float32 result, where user is your float64 rerun (roundoff.py)
        self.narrow_dtype = None
        self.rms = float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0
        self.checked = "directional"
        self.idx = np.zeros(0, dtype=np.int64)        # flat indices within the block checked one by one
        self.expected = np.zeros(0)
        self.error = np.zeros(0)
        self.kink = np.zeros(0, dtype=bool)
        self.lo = np.zeros(0)
        self.hi = np.zeros(0)
        self.directional = DirectionalEvidence()
        self.failed_directional = False
        self.tie_failures = []                          # kinked elements valid one by one, not together (ties.py)

    def add_elements(self, idx, expected, error, kink, lo, hi) -> None:
        keep = ~np.isin(idx, self.idx)
        self.idx = np.concatenate([self.idx, idx[keep]])
        self.expected = np.concatenate([self.expected, expected[keep]])
        self.error = np.concatenate([self.error, error[keep]])
        self.kink = np.concatenate([self.kink, kink[keep]])
        self.lo = np.concatenate([self.lo, lo[keep]])
        self.hi = np.concatenate([self.hi, hi[keep]])

    def finite_user(self) -> np.ndarray:
        """The user's gradient with non-finite entries as 0 (for weights, never for verdicts)."""
        return self.user if self.finite else np.where(np.isfinite(self.user), self.user, 0.0)


@dataclass
class Context:
    """One check's fixed inputs plus the blocks' evidence and the notes gathered on the way."""

    problem: Problem
    f0: float
    blocks: list
    opts: Options
    rng: np.random.Generator
    global_scale: float
    source: str = "arrays"                        # how the gradient came: arrays | function | autodiff
    notes: list = field(default_factory=list)
    cache: dict = field(default_factory=dict)     # built on demand: the batched evaluator


def build_context(problem: Problem, f0: float, user: list, dtypes: list, opts: Options,
                  source: str = "arrays") -> Context:
    blocks = [Block(leaf, dt, g, problem.x0[leaf.slice]) for leaf, dt, g in zip(problem.leaves, dtypes, user)]
    global_scale = max((b.scale for b in blocks), default=0.0)
    return Context(problem, f0, blocks, opts, np.random.default_rng(opts.seed), global_scale, source)


@dataclass(frozen=True)
class Stepping:
    """f's measured noise and the finite-difference step chosen from it."""

    noise: fd.Noise
    t: float

    @property
    def sigma(self):
        return self.noise.sigma


def measure_stepping(ctx: Context) -> tuple[Stepping, np.ndarray]:
    """Noise and step along one random direction over all blocks; that direction is returned for reuse."""
    from gradcheck.numerics import phi, random_direction

    for _ in range(3):
        u = random_direction(ctx, ctx.blocks)
        noise = fd.estimate_noise(phi(ctx, u, "a point near params"), ctx.f0)
        # f exactly constant along u says nothing of its noise (u can keep a sum of two parameters fixed, and
        # f = (float32(w) + float32(b))**2 then never moves): another direction
        if np.any(noise.slope > 0):
            break
    return Stepping(noise, fd.choose_step(noise)), u
