"""The one private implementation behind grads_report / vjp_report and their assert_* twins.

The path: problem -> first evaluations (finite, deterministic, timed) -> the
user's gradient -> one Context -> the units (JAX oracle, full or fast finite
differences) -> evidence.assemble_report. Each unit lives in its own module:
fast.py, full.py, kinks.py, autodiff_oracle.py, over the shared helpers in
numerics.py and elements.py.
"""
from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np

from gradcheck import oracle_jax
from gradcheck.auto import choose_mode
from gradcheck.autodiff_oracle import jax_oracle_check
from gradcheck.context import MODES, ORACLES, Options, build_context, measure_stepping
from gradcheck.errors import GradcheckUsageError, NonDeterministic
from gradcheck.evidence import assemble_report
from gradcheck.fast import fast_check
from gradcheck.full import full_check
from gradcheck.problem import Problem
from gradcheck.roundoff import attach, widen
from gradcheck.user_grads import read_user_gradient

__all__ = ["ORACLES", "MODES", "Options", "Target", "run_check"]

clock = time.perf_counter   # the timer that prices one call of f (tests stub it)


class Target(NamedTuple):
    """What is being checked, for names in messages: a gradient, or a vjp through a scalarized f."""

    kind: str = "grads"        # grads | vjp
    root: str = "params"       # the name params go by in paths
    what: str = "grads"        # the name of the user's tree in messages
    call: object = None        # how f receives params (default f(params))


def run_check(f, params, grads, opts: Options, target: Target = Target()):
    """Validated options in (the api validates them), CheckReport out; usage errors raise."""
    start = clock()
    problem = Problem(f, params, call=target.call, root=target.root)
    f0, per_call = _first_evaluations(problem)
    user, dtypes = read_user_gradient(f, params, grads, problem, target.what)
    wide = widen(grads, problem, user, dtypes)   # float32 from a function: its float64 rerun is checked
    oracle = _resolve_oracle(opts, grads, problem)
    source = "autodiff" if grads is None else "function" if callable(grads) else "arrays"
    ctx = build_context(problem, f0, wide.user, wide.dtypes, opts, source)
    attach(ctx, wide)
    stepping = fast = None
    mode, reason = "full", "JAX autodiff gives every element at once"
    if oracle in ("jax", "both"):
        stepping = jax_oracle_check(ctx, opts.reference or f, "reference" if opts.reference else "f")
    if oracle in ("fd", "both"):
        mode, reason = _choose(opts, problem.n, per_call)
        stepping, first = measure_stepping(ctx)
        if mode == "full":
            full_check(ctx, stepping)
        else:
            fast = fast_check(ctx, stepping, first)
    return assemble_report(ctx, oracle=oracle, mode=mode, mode_reason=reason, stepping=stepping, fast=fast,
                           elapsed=clock() - start, kind=target.kind)


def _first_evaluations(problem: Problem) -> tuple[float, float]:
    """f(x0), checked finite and deterministic; and the cost of one call (the faster of two)."""
    t0 = clock()
    f0 = problem.first_evaluation()
    t1 = clock()
    if not np.isfinite(f0):
        raise GradcheckUsageError(f"f returned {f0} at your params; the loss must be finite where gradients are checked.")
    again = problem.evaluate(problem.x0)
    t2 = clock()
    if again != f0 and abs(again - f0) > 1e-10 * max(abs(f0), abs(again)):
        raise NonDeterministic(
            f"f returned {f0!r} and then {again!r} at the same params: f is not deterministic, so no "
            f"derivative of it can be checked. Fix its random seed (pass a seeded np.random.Generator "
            f"or jax PRNGKey), disable dropout and other noise, or check a pure function of params; or pass "
            f"replay_random=True to replay the random state (numpy, random, np.random.Generator, torch) at "
            f"every evaluation."
        )
    return f0, max(0.0, min(t1 - t0, t2 - t1))


def _choose(opts: Options, n: int, per_call: float) -> tuple[str, str]:
    from gradcheck.settings import default_mode

    mode = opts.mode or default_mode()
    if mode == "auto":
        return choose_mode(n, per_call, opts.directions)
    how = "asked for" if opts.mode else "the session default (set_default_mode)"
    return mode, f"mode={mode!r} was {how}"


def _resolve_oracle(opts: Options, grads, problem: Problem) -> str:
    if opts.oracle != "auto":
        if opts.oracle in ("jax", "both") or opts.reference is not None:
            oracle_jax.require_jax(f"oracle={opts.oracle!r}" if opts.reference is None else "reference=")
        if opts.oracle in ("jax", "both") and not oracle_jax.is_traceable(opts.reference or problem.f, problem):
            what = "reference" if opts.reference else "f"
            raise GradcheckUsageError(
                f"oracle={opts.oracle!r} needs a JAX-differentiable {what}, and JAX cannot trace it. "
                f"Use oracle='fd', or pass reference=g with a jax.numpy twin of f."
            )
        return opts.oracle
    if opts.reference is not None:
        oracle_jax.require_jax("reference=")
        return "jax"
    if grads is not None and problem.involves("jax") and oracle_jax.is_traceable(problem.f, problem):
        return "jax"
    return "fd"
