"""float32 gradients checked as sharply as the arithmetic allows.

A float32 gradient carries round-off, and a blanket float32 floor summed over
every element of a random direction hides a 1 % error in one element of a
large block. Where the gradient is a function, it can be asked twice: with
your float32 params (the result under test) and with float64 copies. When the
float64 call really computes in float64 (its result differs from the float32
one), that result is your own code without float32 round-off: it is what the
finite-difference or autodiff oracle checks, at float64 sharpness. A bug is in
both results, so nothing hides it. What is left, |g32 - g64|, is checked on
its own against float32 round-off (generously: the float64 check already
holds every element to float64 sharpness; this one catches code whose float32
path differs from its float64 path, such as an overflow or a dtype branch).

A function that rounds to float32 inside returns the same values both times:
it is recognised and checked at float32 tolerances, as arrays would be.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from gradcheck import tolerances
from gradcheck.compare import Comparison, compare_arrays
from gradcheck.problem import Problem, flatten_like

# |g32 - g64| allowed per element. Where y - t nearly cancels (a loss near its minimum),
# float32 loses most digits of every term, and an element that is itself a sum with
# cancellation can be off by several percent of its value, or a few thousandths of the
# block's largest element (measured: 6 % and 0.2 %). The float64 rerun already holds every
# element to float64 sharpness, so this bar only has to catch a float32 path that
# computes something else (a cast, a branch on dtype): 10 % of the element or 1 % of
# the block's largest one.
NARROW_RTOL = 1e-1
NARROW_ATOL_FRAC = 1e-2


class Widened(NamedTuple):
    """The gradient to check per block, its dtype for tolerances, and the float32 result set aside."""

    user: list           # flat float64 arrays: your float64 result where widened, else yours as given
    dtypes: list         # float64 where widened, else the dtype you gave
    narrow: list         # your float32 result (flat float64 copy) where widened, else None
    narrow_dtypes: list  # the dtype of that result, else None


def widen(grads, problem: Problem, user: list, dtypes: list) -> Widened:
    """Call grads with float64 params where it may compute in float64; use that result if it does."""
    unchanged = Widened(user, dtypes, [None] * len(user), [None] * len(user))
    narrow_blocks = [np.dtype(d).itemsize < 8 for d in dtypes]
    if not callable(grads) or not any(narrow_blocks):
        return unchanged
    if any(leaf.kind not in ("numpy", "numpy_scalar", "python") for leaf in problem.leaves):
        return unchanged   # torch/JAX arrays: float64 needs their own switches (x64); not tried
    arg = problem.build(problem.x0, cast="float64")
    try:
        wide = flatten_like(problem, grads(arg), what="grads")
    except Exception:  # noqa: BLE001 - your function may insist on float32: then it is checked as float32
        return unchanged
    problem.check_unchanged(arg, problem.x0, who="your gradient function")
    out = Widened(list(user), list(dtypes), [None] * len(user), [None] * len(user))
    for k, (g, w, d, narrow) in enumerate(zip(user, wide, dtypes, narrow_blocks)):
        w = np.asarray(w)
        if not narrow or w.dtype.kind != "f" or w.dtype.itemsize < 8:
            continue       # float64 already, or the function computes in float32 anyway
        w = np.asarray(w, dtype=np.float64).reshape(-1)
        if np.array_equal(w, g) or not np.all(np.isfinite(w) == np.isfinite(g)):
            continue       # identical: it rounds to float32 inside; or it overflows only in one of them
        out.user[k], out.dtypes[k] = w, np.dtype(np.float64)
        out.narrow[k], out.narrow_dtypes[k] = g, np.dtype(d)
    return out


def narrow_comparison(narrow: np.ndarray, wide: np.ndarray, dtype, global_scale: float) -> Comparison:
    """Your float32 result against your float64 one, at float32 round-off (generous) tolerances."""
    scale = tolerances.finite_scale(wide)
    atol = tolerances.scaled_atol(NARROW_ATOL_FRAC, dtype, scale, global_scale)
    return compare_arrays(narrow, wide, rtol=NARROW_RTOL, atol=atol, dtype=dtype)


def attach(ctx, wide: Widened) -> None:
    """Keep the float32 results beside the blocks that are checked at float64."""
    for b, narrow, dtype in zip(ctx.blocks, wide.narrow, wide.narrow_dtypes):
        b.narrow, b.narrow_dtype = narrow, dtype


def narrow_report(ctx, b, rep) -> None:
    """Fill in what the float64 rerun means for this parameter's report (and fail it if |g32 - g64| is no round-off)."""
    if b.narrow is None:
        return
    rep.dtype = str(b.narrow_dtype)
    rep.checked_at_float64 = True
    cmp = narrow_comparison(b.narrow, _float32_target(b), b.narrow_dtype, ctx.global_scale)
    rep.float32_roundoff = cmp.max_abs
    if cmp.passed:
        return
    rep.passed = False
    idx = tuple(int(i) for i in np.unravel_index(cmp.worst_index[0], b.leaf.shape)) if b.leaf.shape else ()
    rep.float32_mismatch = {"n": cmp.n_mismatch, "index": idx, "float32": cmp.worst_actual,
                            "float64": cmp.worst_expected, "rtol": cmp.rtol, "atol": cmp.atol}


def _float32_target(b) -> np.ndarray:
    """Your float64 result, except at kinks: there float32 rounding may put params on the other side (relu'(z)
    with z = 0 in float32 and 1e-8 in float64), so your float32 result may equal the other one-sided slope
    instead. Only that value: a float32 path that computes something else lands between the two as often as
    not. The kink's interval is [min - m, max + m] of the two slopes, so the other one is lo + hi - yours."""
    if not np.any(b.kink):
        return b.user
    target = b.user.copy()
    at = b.idx[b.kink]
    other = b.lo[b.kink] + b.hi[b.kink] - b.user[at]
    target[at] = np.where(np.abs(other - b.narrow[at]) < np.abs(b.user[at] - b.narrow[at]), other, b.user[at])
    return target
