"""grads_report: the data path problem -> oracles -> verdict -> report.

Fast mode (default) compares random directional derivatives with the user's
gradient: a fixed number of evaluations, whatever the parameter count. Only
when that fails (or meets a kink) does it localize: per parameter block,
then element by element for small blocks and by bisection for large ones.
Full mode checks every element.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from gradcheck import fd, oracle_jax, tolerances
from gradcheck.batched import BatchedEvaluator, coordinate_values
from gradcheck.compare import compare_arrays, subgradient_target
from gradcheck.diagnose import DirectionalEvidence, ElementEvidence, diagnose_block
from gradcheck.errors import FunctionRaised, GradcheckUsageError, NonDeterministic
from gradcheck.problem import Coordinate, Problem, flatten_like
from gradcheck.report import CheckReport, ParamReport

ORACLES = ("auto", "fd", "jax", "both")
MODES = ("fast", "full")
FLOOR_SIGMAS = 3.0        # directional floor: 3 standard deviations of the dtype's round-off
ROUNDOFF_SIGMAS = 4.0     # observed float32 round-off (|g32 - g64|) allowed per element, in multiples
MAX_FULL_BLOCK = 4096     # blocks up to this size are checked element by element when they fail
MAX_KINK_BLOCK = 64       # blocks with kinks but no failure: every element up to this size, else a sample
MAX_FOUND = 8             # elements located by bisection in one large block
SAMPLE = 32               # random elements checked in a large block with widespread errors


@dataclass
class Options:
    oracle: str = "auto"
    mode: str = "fast"
    rtol: float | None = None
    atol: float | None = None
    seed: int = 0
    directions: int = 2
    reference: object = None
    network: object = None

    def validate(self) -> None:
        if self.oracle not in ORACLES:
            raise GradcheckUsageError(f"oracle={self.oracle!r}; choose one of {', '.join(map(repr, ORACLES))}")
        if self.mode not in MODES:
            raise GradcheckUsageError(f"mode={self.mode!r}; choose 'fast' (random directions) or 'full' (every element)")
        for name in ("rtol", "atol"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool) or not v >= 0):
                raise GradcheckUsageError(f"{name}={v!r}; it must be a number >= 0 (or None for the dtype default)")
        if not isinstance(self.directions, int) or self.directions < 1:
            raise GradcheckUsageError(f"directions={self.directions!r}; it must be an int >= 1")
        if not isinstance(self.seed, (int, np.integer)):
            raise GradcheckUsageError(f"seed={self.seed!r}; it must be an int")
        if self.reference is not None and not callable(self.reference):
            raise GradcheckUsageError("reference must be a function reference(params) -> scalar (a JAX twin of f)")
        if self.network is not None and not (isinstance(self.network, tuple) and len(self.network) == 3):
            raise GradcheckUsageError("network=(spec, x, t): a reference_nets.NetSpec and the data f uses, "
                                      "so that failures can be matched against the bug catalog")


def grads_report(f, params, grads=None, *, oracle="auto", mode="fast", rtol=None, atol=None, seed=0,
                directions=2, reference=None, network=None, _call=None, _kind="grads", _root="params",
                _what="grads") -> CheckReport:
    """Compare the user's gradient of f at params with an oracle; return a CheckReport."""
    opts = Options(oracle, mode, rtol, atol, seed, directions, reference, network)
    opts.validate()
    start = time.perf_counter()
    problem = Problem(f, params, call=_call, root=_root)
    f0 = problem.first_evaluation()
    if not np.isfinite(f0):
        raise GradcheckUsageError(f"f returned {f0} at your params; the loss must be finite where gradients are checked.")
    _check_deterministic(problem, f0)
    user, dtypes = _user_gradient(f, params, grads, problem, _what)
    roundoff = _observed_roundoff(grads, problem, user, dtypes)
    oracle_name = _resolve_oracle(opts, grads, problem)
    run = _Run(problem, f0, user, dtypes, opts, roundoff)
    if oracle_name in ("jax", "both"):
        run.jax_check(opts.reference or f)
    if oracle_name in ("fd", "both"):
        run.fd_check()
    return run.report(oracle_name, time.perf_counter() - start, _kind)


def _check_deterministic(problem: Problem, f0: float) -> None:
    again = problem.evaluate(problem.x0)
    if again != f0 and abs(again - f0) > 1e-10 * max(abs(f0), abs(again)):
        raise NonDeterministic(
            f"f returned {f0!r} and then {again!r} at the same params: f is not deterministic, so no "
            f"derivative of it can be checked. Fix its random seed (pass a seeded np.random.Generator "
            f"or jax PRNGKey), disable dropout and other noise, or check a pure function of params."
        )


def _user_gradient(f, params, grads, problem, what):
    if grads is None:
        if not oracle_jax.is_traceable(f, problem):
            raise GradcheckUsageError(
                "grads was not given and f is not JAX-differentiable. Pass your gradient: "
                "grads=... (a pytree like params) or grads=lambda params: ... returning one."
            )
        tree = oracle_jax.user_gradient(f, problem.build(problem.x0, cast="original"), problem)
    elif callable(grads):
        arg = problem.build(problem.x0, cast="original")
        try:
            tree = grads(arg)
        except Exception as exc:  # noqa: BLE001
            raise FunctionRaised(f"your gradient function raised {type(exc).__name__}: {exc}") from exc
        problem.check_unchanged(arg, problem.x0, who="your gradient function")
    else:
        tree = grads
    arrays = flatten_like(problem, tree, what=what)
    dtypes = [a.dtype if a.dtype.kind == "f" else np.dtype(np.float64) for a in arrays]
    # float64 arrays are used as they are (no copy: memory matters at a million parameters)
    blocks = [np.asarray(a, dtype=np.float64).reshape(-1) for a in arrays]
    return blocks, dtypes


def _observed_roundoff(grads, problem, user, dtypes) -> list:
    """|g(float32 params) - g(float64 params)| per element, when the gradient function allows it.

    A float32 backward pass can lose far more than its dtype's floor suggests
    (y - t near a minimum, 1 - tanh(v)^2 when saturated): every element then
    carries the same relative error. Calling your gradient function once more with
    float64 params measures that round-off instead of assuming it; a bug is in
    both results, so the difference never hides one. None where not measurable.
    """
    none = [None] * len(user)
    if not callable(grads) or all(np.dtype(d).itemsize >= 8 for d in dtypes):
        return none
    try:
        wide = flatten_like(problem, grads(problem.build(problem.x0, cast="float64")), what="grads")
    except Exception:  # noqa: BLE001 - only an estimate: your function may insist on float32
        return none
    out = []
    for g, w, d in zip(user, wide, dtypes):
        w = np.asarray(w)
        if np.dtype(d).itemsize >= 8 or w.dtype.itemsize < 8:
            out.append(None)  # float64 already, or the function computes in float32 anyway
            continue
        diff = np.abs(g - w.astype(np.float64).reshape(-1))
        diff = np.where(np.isfinite(diff), diff, 0.0)
        eps = float(np.finfo(d).eps)
        if not np.max(diff, initial=0.0) > 1e-3 * eps * float(np.max(np.abs(g), initial=0.0)):
            out.append(None)  # identical results: the function rounds to float32 inside, nothing measured
            continue
        out.append(diff)
    return out


def _resolve_oracle(opts: Options, grads, problem) -> str:
    if opts.oracle != "auto":
        if opts.oracle in ("jax", "both") and not oracle_jax.is_traceable(opts.reference or problem.f, problem):
            what = "reference" if opts.reference else "f"
            raise GradcheckUsageError(
                f"oracle={opts.oracle!r} needs a JAX-differentiable {what}, and JAX cannot trace it. "
                f"Use oracle='fd', or pass reference=g with a jax.numpy twin of f."
            )
        return opts.oracle
    if opts.reference is not None:
        return "jax"
    if grads is not None and oracle_jax.is_traceable(problem.f, problem):
        return "jax"
    return "fd"


class _Block:
    """What is known about one parameter leaf as the check proceeds."""

    def __init__(self, leaf, dtype, user, roundoff=None):
        self.leaf = leaf
        self.dtype = dtype
        self.user = user                                # the user's gradient, flat float64
        self.finite = bool(np.all(np.isfinite(user)))
        self.roundoff = roundoff                        # observed float32 round-off per element, or None
        self.checked = "directional"
        self.idx = np.zeros(0, dtype=np.int64)        # flat indices within the block checked one by one
        self.expected = np.zeros(0)
        self.error = np.zeros(0)
        self.kink = np.zeros(0, dtype=bool)
        self.lo = np.zeros(0)
        self.hi = np.zeros(0)
        self.directional = DirectionalEvidence()
        self.failed_directional = False
        self.rms = None

    def add_elements(self, idx, expected, error, kink, lo, hi):
        keep = ~np.isin(idx, self.idx)
        self.idx = np.concatenate([self.idx, idx[keep]])
        self.expected = np.concatenate([self.expected, expected[keep]])
        self.error = np.concatenate([self.error, error[keep]])
        self.kink = np.concatenate([self.kink, kink[keep]])
        self.lo = np.concatenate([self.lo, lo[keep]])
        self.hi = np.concatenate([self.hi, hi[keep]])


class _Run:
    def __init__(self, problem: Problem, f0: float, user: np.ndarray, dtypes, opts: Options, roundoff=None):
        self.p = problem
        self.f0 = f0
        self.opts = opts
        self.rng = np.random.default_rng(opts.seed)
        roundoff = roundoff or [None] * len(user)
        self.blocks = [_Block(leaf, dt, g, r) for leaf, dt, g, r in zip(problem.leaves, dtypes, user, roundoff)]
        self.global_scale = max((float(np.max(np.abs(g[np.isfinite(g)]), initial=0.0)) for g in user), default=0.0)
        self.noise = None
        self.t = None
        self.dir_rel = None
        self.notes: list[str] = []
        self._batched_eval = None
        self.unlocalized = False
        self.global_tol = 0.0
        self.global_failed = False     # a random direction failed with no kink in the way

    # -- scaling and tolerances -----------------------------------------------
    def _scale(self, b: _Block, idx=None) -> np.ndarray:
        """Per-element step scale: |x|, or the block's rms for small or zero entries.

        Computed when needed rather than stored: at a million parameters every
        full-size array counts against the memory target.
        """
        x = self.p.x0[b.leaf.slice]
        if b.rms is None:
            b.rms = float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0
        return fd.step_scale(x if idx is None else x[idx], b.rms)

    def _tol(self, b: _Block, scale_hint: float) -> tuple[float, float]:
        user = b.user
        finite = user[np.isfinite(user)]
        scale = max(scale_hint, float(np.max(np.abs(finite))) if finite.size else 0.0)
        # with the round-off measured (|g32 - g64|, added per element), the dtype's
        # blanket floor is only needed as a margin: the float32 floor shrinks 30-fold
        return tolerances.resolve(b.dtype, self.opts.rtol, self.opts.atol, scale, self.global_scale,
                                  measured=b.roundoff is not None)

    def _floor(self, u: np.ndarray, support) -> float:
        """Round-off the user's dtype allows in <g, u>, at FLOOR_SIGMAS standard deviations."""
        total = 0.0
        for b in support:
            r, a = self._tol(b, 0.0)
            w = np.abs(b.user)
            if not b.finite:
                w[~np.isfinite(w)] = 0.0
            w *= r
            w += a
            if b.roundoff is not None:
                w += ROUNDOFF_SIGMAS * b.roundoff
            w *= u[b.leaf.slice]
            total += float(w @ w)
        return FLOOR_SIGMAS * float(np.sqrt(total))

    # -- evaluating along directions ---------------------------------------------
    def _phi(self, u: np.ndarray, what: str):
        def phi(tau):
            return self.p.evaluate(self.p.x0, where=what, u=u, tau=tau)
        return phi

    def _random_direction(self, blocks, subset=None) -> np.ndarray:
        """A random direction, scaled per element by the parameter's magnitude.

        Each block gets its own unit Gaussian direction; across several blocks,
        each is then weighted so that its share of <g, u> is about the same, so a
        block of small biases or small gradients is not drowned by a large weight
        matrix's round-off floor (the weights come from your gradient, capped at
        100x either way: any direction is a valid test, this one is a fair one).
        Stored in float32 (half the memory); the perturbation x0 + tau*u and the
        product <g, u> both use these exact values, so nothing is lost.
        """
        u = np.zeros(self.p.n, dtype=np.float32)
        shares = []
        for b in blocks:
            sl = b.leaf.slice
            if subset is not None:
                z = self.rng.standard_normal(len(subset))
                z /= np.linalg.norm(z)
                u[sl][subset] = z * self._scale(b, subset)
            else:
                seg = u[sl]
                self.rng.standard_normal(b.leaf.size, dtype=np.float32, out=seg)
                seg /= np.linalg.norm(seg)
                seg *= self._scale(b)
            g = np.where(np.isfinite(b.user), b.user, 0.0) if not b.finite else b.user
            shares.append(float(np.linalg.norm(g * u[sl])))
        positive = [w for w in shares if w > 0]
        if len(blocks) > 1 and positive:
            target = float(np.exp(np.mean(np.log(positive))))
            for b, w in zip(blocks, shares):
                u[b.leaf.slice] *= np.float32(np.clip(target / w, 0.01, 100.0) if w > 0 else 1.0)
        return u

    def _directional(self, u: np.ndarray, support, what: str):
        """(passed, kink, estimate, user value, tolerance) for one direction."""
        est = fd.derivative(self._phi(u, what), self.f0, self.t, self.noise.sigma)
        finite = all(b.finite for b in support)
        mine = sum(float(b.user @ u[b.leaf.slice]) for b in support) if finite else float("nan")
        tol = float(est.error) + self._floor(u, support)
        if bool(est.kink):
            ok = float(est.lo) - tol <= mine <= float(est.hi) + tol
        else:
            ok = abs(mine - float(est.value)) <= tol
        return ok, bool(est.kink), est, mine, tol

    # -- the finite-difference check -------------------------------------------------
    def _setup_noise(self) -> np.ndarray:
        u = self._random_direction(self.blocks)
        self.noise = fd.estimate_noise(self._phi(u, "a point near params"), self.f0)
        self.t = fd.choose_step(self.noise)
        return u

    def fd_check(self) -> None:
        u = self._setup_noise()
        if self.opts.mode == "full":
            for b in self.blocks:
                self._check_elements(b, np.arange(b.leaf.size), "all elements")
            return
        escalate = False
        for k in range(self.opts.directions):
            if k:
                u = self._random_direction(self.blocks)
            ok, kink, est, mine, tol = self._directional(u, self.blocks, "a random direction")
            self.global_tol = max(self.global_tol, tol)
            if not kink and est.value != 0:
                rel = abs(mine - float(est.value)) / abs(float(est.value))
                self.dir_rel = rel if self.dir_rel is None else max(self.dir_rel, rel)
            escalate |= (not ok) or kink
            self.global_failed |= (not ok) and not kink
        if escalate:
            self._localize()

    def _localize(self) -> None:
        """Per block, then per element (small blocks) or by bisection (large ones).

        If no block fails on its own, every block is examined; if still no
        element is found, the global test is repeated: a failure that persists
        fails the check as "not localized" rather than passing it.
        """
        flagged = []
        for b in self.blocks:
            fails = kinks = 0
            for _ in range(2):
                u = self._random_direction([b])
                ok, kink, est, mine, tol = self._directional(u, [b], f"a random direction in {b.leaf.path}")
                if kink:
                    # several kinks along one direction: valid subgradients need not lie between
                    # the one-sided slopes, so the direction is inconclusive, never a failure
                    kinks += 1
                    continue
                b.directional.add(u[b.leaf.slice], float(est.value), tol)
                fails += not ok
            if fails or kinks:
                b.failed_directional = bool(fails)
                flagged.append(b)
        if self.global_failed and not any(b.failed_directional for b in flagged):
            flagged = self.blocks  # the error did not show per block: look at everything
        for b in flagged:
            limit = MAX_FULL_BLOCK if (b.failed_directional or flagged is self.blocks) else MAX_KINK_BLOCK
            if b.leaf.size <= limit:
                self._check_elements(b, np.arange(b.leaf.size), "all elements")
            elif b.failed_directional or flagged is self.blocks:
                self._bisect(b)
            else:
                self._check_elements(b, self.rng.choice(b.leaf.size, SAMPLE, replace=False), "sampled")
                self.notes.append(f"{b.leaf.path}: random directions cross kinks (not differentiable there), so "
                                  f"{SAMPLE} random elements were checked one by one; mode='full' checks all of them")
        if self.global_failed and not any(not self._compare(b).passed for b in self.blocks if len(b.idx)) \
                and not any(b.failed_directional for b in self.blocks):
            for _ in range(2):
                ok, kink, *_ = self._directional(self._random_direction(self.blocks), self.blocks, "a random direction")
                if not ok and not kink:
                    self.unlocalized = True
            if not self.unlocalized:
                self.notes.append("one random-direction test failed but no element or block confirmed it on "
                                  "re-testing; treated as a finite-difference fluke")

    def _bisect(self, b: _Block) -> None:
        """Group testing: halve failing index sets; O(log n) directional checks per wrong element."""
        found = 0
        queue = [np.arange(b.leaf.size)]
        checked_any = False
        while queue and found < MAX_FOUND:
            S = queue.pop(0)
            if len(S) <= 8:
                self._check_elements(b, S, "localized")
                checked_any = True
                found += int(np.sum(self._element_bad(b, S)))
                continue
            halves = np.array_split(S, 2)
            # the parent failed; if neither half does, try once more with fresh directions
            bad = self._suspect_parts(b, halves) or self._suspect_parts(b, halves)
            queue.extend(bad)
            if len(queue) > 16:
                self.notes.append(f"{b.leaf.path}: errors are widespread; {SAMPLE} random elements were checked one by one")
                self._check_elements(b, self.rng.choice(b.leaf.size, SAMPLE, replace=False), "sampled")
                return
        if not checked_any:
            self._check_elements(b, self.rng.choice(b.leaf.size, min(SAMPLE, b.leaf.size), replace=False), "sampled")
        else:
            b.checked = "localized"

    def _suspect_parts(self, b: _Block, parts) -> list:
        """The index sets of b whose own random direction fails (or meets a kink)."""
        out = []
        for part in parts:
            u = self._random_direction([b], subset=part)
            ok, kink, *_ = self._directional(u, [b], f"a random direction in part of {b.leaf.path}")
            if not ok or kink:
                out.append(part)
        return out

    def _check_elements(self, b: _Block, idx: np.ndarray, how: str) -> None:
        """Coordinate finite differences for the given flat indices of block b."""
        idx = np.asarray(idx, dtype=np.int64)
        n = len(idx)
        scales = self._scale(b, idx)
        vals, errs, los, his = (np.empty(n) for _ in range(4))
        kinks = np.zeros(n, dtype=bool)
        todo = np.arange(n)
        batched = self._batched() if n > 4 else None
        if batched is not None:
            # all elements at once: the same scaled step t for every column of the grid
            grid = coordinate_values(batched, self.p.x0, b.leaf.offset + idx, self.t * scales, fd.OFFSETS)
            est = fd.central(_Table(grid, self.t), np.full(n, self.f0), self.t, self.noise.sigma)
            vals[:], errs[:], kinks[:], los[:], his[:] = est.value, est.error, est.kink, est.lo, est.hi
            todo = np.flatnonzero(fd.needs_refine(est, float(np.max(self.noise.sigma)), self.t))
        for i in todo:
            j = int(idx[i])
            u = Coordinate(b.leaf.offset + j, float(scales[i]))
            phi = self._phi(u, f"{b.leaf.path}{_index(b.leaf.shape, j)}")
            est = fd.derivative(phi, self.f0, self.t, self.noise.sigma)
            vals[i], errs[i], kinks[i], los[i], his[i] = est.value, est.error, est.kink, est.lo, est.hi
        b.add_elements(idx, vals / scales, errs / scales, kinks, los / scales, his / scales)
        if how == "all elements" or b.checked == "directional":
            b.checked = how

    def _batched(self):
        """A vmapped evaluator when f is JAX-traceable (built once), else None."""
        if self._batched_eval is None:
            self._batched_eval = False
            if oracle_jax.is_traceable(self.p.f, self.p):
                self._batched_eval = BatchedEvaluator(self.p)
        return self._batched_eval or None

    def _element_bad(self, b: _Block, idx) -> np.ndarray:
        """Mismatch flags of the (already checked) elements idx of block b."""
        pos = np.searchsorted(np.sort(b.idx), idx)
        order = np.argsort(b.idx)
        sel = order[pos]
        cmp = self._compare(b, sel)
        return cmp.mismatch_mask

    def _compare(self, b: _Block, sel=None):
        sel = np.arange(len(b.idx)) if sel is None else sel
        user = b.user[b.idx[sel]]
        exp, err = subgradient_target(user, b.expected[sel], b.error[sel], b.kink[sel], b.lo[sel], b.hi[sel])
        if b.roundoff is not None:
            err = err + ROUNDOFF_SIGMAS * b.roundoff[b.idx[sel]]
        scale = float(np.max(np.abs(b.expected[np.isfinite(b.expected)]), initial=0.0))
        r, a = self._tol(b, scale)
        return compare_arrays(user, exp, rtol=r, atol=a, error_estimate=err, dtype=b.dtype)

    # -- the JAX oracle -----------------------------------------------------------------
    def jax_check(self, fn) -> None:
        ref = oracle_jax.gradient(fn, self.p, name="reference" if self.opts.reference else "f")
        for b in self.blocks:
            sl = b.leaf.slice
            exp = ref[sl]
            err = 1e3 * fd.EPS * (np.abs(exp) + float(np.max(np.abs(exp), initial=0.0)))
            n = b.leaf.size
            b.add_elements(np.arange(n), exp, err, np.zeros(n, bool), exp, exp)
            b.checked = "all elements"
        # where JAX and the user disagree, a kink may explain it (JAX picks one subgradient):
        # ask finite differences about those elements, and accept the kink interval where it shows one
        for b in self.blocks:
            suspects = np.flatnonzero(self._compare(b).mismatch_mask)
            if not 0 < len(suspects) <= 64:
                continue
            if self.noise is None:
                self._setup_noise()
            probe = _Block(b.leaf, b.dtype, b.user, b.roundoff)
            self._check_elements(probe, suspects, "all elements")
            kinked = probe.kink
            if np.any(kinked):
                at = np.searchsorted(b.idx, probe.idx[kinked])
                b.kink[at], b.lo[at], b.hi[at] = True, probe.lo[kinked], probe.hi[kinked]

    # -- the report --------------------------------------------------------------------------
    def report(self, oracle: str, elapsed: float, kind: str) -> CheckReport:
        params = []
        user_tree = {b.leaf.path: b.user.reshape(b.leaf.shape) for b in self.blocks}
        for b in self.blocks:
            params.append(self._param_report(b, user_tree))
        if self.opts.network is not None and not all(p.passed for p in params):
            _catalog_diagnosis(self.opts.network, self.p, self.blocks, params)
        passed = all(p.passed for p in params) and not self.unlocalized
        narrow = [b for b, p in zip(self.blocks, params) if not p.passed and np.dtype(b.dtype).itemsize < 8]
        if narrow and all(b.roundoff is None for b in narrow):
            self.notes.append(f"your gradient is {narrow[0].dtype}: if these differences are its round-off, "
                              f"pass grads as a function (grads=lambda p: backward(p)) that also accepts "
                              f"float64 params, so gradcheck can measure that round-off, or loosen rtol/atol")
        if self.unlocalized:
            self.notes.append("your gradient disagrees with finite differences along random directions, but the "
                              "wrong elements could not be localized; run with mode='full' to compare every element")
        return CheckReport(
            passed=passed, oracle=oracle, mode=self.opts.mode, n_evals=self.p.n_evals, time=elapsed,
            seed=int(self.opts.seed), params=params, n_params=self.p.n,
            noise=None if self.noise is None else float(np.max(self.noise.sigma)),
            step=self.t, directional_rel_error=self.dir_rel, notes=self.notes, kind=kind,
        )

    def _resolution(self, b: _Block) -> float | None:
        """Smallest single-element error the random directions miss with under 1% probability.

        Element j's error e enters a direction's residual as e * s_j * z_j / |z|, z
        standard normal; the test flags |residual| > T. So it escapes one direction
        with probability P(|N(0,1)| < sqrt(n) T / (s_j |e|)) <= 0.8 sqrt(n) T / (s_j |e|),
        and all K directions with that to the power K.
        """
        if self.opts.mode != "fast" or not self.global_tol:
            return None
        k = self.opts.directions
        c = 0.8 / 0.01 ** (1.0 / k)
        return float(c * np.sqrt(b.leaf.size) * self.global_tol / np.median(self._scale(b)))

    def _param_report(self, b: _Block, user_tree) -> ParamReport:
        leaf = b.leaf
        rep = ParamReport(path=leaf.path, shape=tuple(leaf.shape), dtype=str(b.dtype), size=leaf.size,
                          passed=not b.failed_directional, checked=b.checked, step=self.t,
                          resolution=self._resolution(b))
        if len(b.idx):
            cmp = self._compare(b)
            pos = b.idx[cmp.worst_index[0]]
            rep.n_checked, rep.n_mismatch = cmp.n_total, cmp.n_mismatch
            rep.max_abs, rep.max_rel = cmp.max_abs, cmp.max_rel
            rep.worst_index = tuple(int(i) for i in np.unravel_index(int(pos), leaf.shape)) if leaf.shape else ()
            rep.worst_actual, rep.worst_expected = cmp.worst_actual, cmp.worst_expected
            k = int(np.flatnonzero(b.idx == pos)[0])
            rep.worst_error_estimate = None if b.kink[k] else float(b.error[k])
            if b.kink[k]:
                rep.worst_kink_interval = (float(b.lo[k]), float(b.hi[k]))
            finite_err = b.error[~b.kink & np.isfinite(b.error)]
            rep.error_estimate = float(finite_err.max()) if finite_err.size else None
            rep.rtol, rep.atol = cmp.rtol, cmp.atol
            rep.passed = cmp.passed
            if b.failed_directional and cmp.passed and b.checked in ("localized", "sampled"):
                rep.passed = False  # the directional test failed; the elements seen so far do not show why
            kink_idx = b.idx[b.kink]
            rep.n_kinks = int(len(kink_idx))
            rep.kink_indices = [tuple(int(i) for i in np.unravel_index(int(j), leaf.shape)) for j in kink_idx[:10]]
            if not rep.passed:
                ev = ElementEvidence(b.idx, b.expected, _abs_tol(cmp, b))
                rep.diagnosis = diagnose_block(leaf.path, user_tree, ev if len(b.idx) >= 2 else b.directional)
                spread = cmp.n_mismatch >= max(2, cmp.n_total // 2)  # round-off touches most elements
                if np.dtype(b.dtype).itemsize >= 8 and cmp.max_rel is not None and 1e-9 < cmp.max_rel < 1e-3 \
                        and spread and not rep.diagnosis:
                    rep.diagnosis.append(f"the differences are at float32 precision (relative {cmp.max_rel:.1e}): "
                                         f"does part of your computation run in float32? If so, that is its "
                                         f"round-off: return float32 arrays, or pass rtol=1e-4")
        elif not rep.passed:
            r, a = self._tol(b, 0.0)
            rep.rtol, rep.atol = r, a
            rep.diagnosis = diagnose_block(leaf.path, user_tree, b.directional)
        return rep


class _Table:
    """phi for many coordinates at once, answered from the grid (one column per offset)."""

    def __init__(self, grid, t):
        self.columns = {k * t: grid[:, i] for i, k in enumerate(fd.OFFSETS)}

    def __call__(self, tau):
        return self.columns[tau]


def _catalog_diagnosis(network, problem, blocks, reports) -> None:
    """Name the bug-catalog entries (reference_nets) that reproduce the user's wrong gradients."""
    from reference_nets import CATALOG, diagnose

    spec, x, t = network
    params = problem.unflatten(problem.x0)
    grads = problem.unflatten(np.concatenate([b.user for b in blocks]))
    if not isinstance(params, dict):
        return
    found = diagnose(spec, params, x, t, grads)
    by_path = {f"{problem.root}[{k!r}]": names for k, names in found.items()}
    for rep in reports:
        for name in by_path.get(rep.path, []) if not rep.passed else []:
            rep.diagnosis.insert(0, f"{CATALOG[name].title} (bug catalog: {name})")


def _abs_tol(cmp, b: _Block) -> np.ndarray:
    return cmp.atol + cmp.rtol * np.abs(b.expected) + np.where(b.kink, 0.0, b.error)


def _index(shape, j) -> str:
    if not shape:
        return ""
    return "[" + ", ".join(str(int(i)) for i in np.unravel_index(int(j), shape)) + "]"
