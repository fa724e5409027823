"""Element checks: coordinate finite differences for chosen elements, and their comparison.

Every unit that needs per-element truth (full mode, localization, kink
sampling, the JAX oracle's suspects) calls ``check_elements``; the verdict on
the elements known so far is ``compare_block``.
"""
from __future__ import annotations

import numpy as np

from gradcheck import fd, oracle_jax, tolerances
from gradcheck.batched import BatchedEvaluator, coordinate_values
from gradcheck.compare import Comparison, compare_arrays, subgradient_target
from gradcheck.context import Block, Context, Stepping
from gradcheck.numerics import block_tolerance, phi, step_units
from gradcheck.problem import Coordinate


def check_elements(ctx: Context, st: Stepping, b: Block, idx: np.ndarray, how: str) -> None:
    """Coordinate finite differences for the given flat indices of block b (added to b's evidence)."""
    idx = np.asarray(idx, dtype=np.int64)
    n = len(idx)
    scales = step_units(ctx, b, idx)
    vals, errs, los, his = (np.empty(n) for _ in range(4))
    kinks = np.zeros(n, dtype=bool)
    todo = np.arange(n)
    batched = batched_evaluator(ctx) if n > 4 else None
    if batched is not None:
        # all elements at once: the same scaled step t for every column of the grid
        grid = coordinate_values(batched, ctx.problem.x0, b.leaf.offset + idx, st.t * scales, fd.OFFSETS)
        est = fd.central(_Table(grid, st.t), np.full(n, ctx.f0), st.t, st.sigma)
        vals[:], errs[:], kinks[:], los[:], his[:] = est.value, est.error, est.kink, est.lo, est.hi
        todo = np.flatnonzero(fd.needs_refine(est, float(np.max(st.sigma)), st.t))
    for i in todo:
        j = int(idx[i])
        u = Coordinate(b.leaf.offset + j, float(scales[i]))
        est = fd.derivative(phi(ctx, u, f"{b.leaf.path}{element_label(b.leaf.shape, j)}"), ctx.f0, st.t, st.sigma)
        vals[i], errs[i], kinks[i], los[i], his[i] = est.value, est.error, est.kink, est.lo, est.hi
    b.add_elements(idx, vals / scales, errs / scales, kinks, los / scales, his / scales)
    if how == "all elements" or b.checked == "directional":
        b.checked = how


def batched_evaluator(ctx: Context):
    """A vmapped evaluator when f is JAX-traceable (built once per check), else None."""
    if "batched" not in ctx.cache:
        traceable = ctx.problem.involves("jax") and oracle_jax.is_traceable(ctx.problem.f, ctx.problem)
        ctx.cache["batched"] = BatchedEvaluator(ctx.problem) if traceable else None
    return ctx.cache["batched"]


def compare_block(ctx: Context, b: Block, sel=None) -> Comparison:
    """Yours against the oracle on b's checked elements (kinks resolved to their interval)."""
    sel = np.arange(len(b.idx)) if sel is None else sel
    user = b.user[b.idx[sel]]
    exp, err = subgradient_target(user, b.expected[sel], b.error[sel], b.kink[sel], b.lo[sel], b.hi[sel])
    scale = tolerances.finite_scale(b.expected)
    r, a = block_tolerance(ctx, b, scale)
    return compare_arrays(user, exp, rtol=r, atol=a, error_estimate=err, dtype=b.dtype)


def elements_bad(ctx: Context, b: Block, idx) -> np.ndarray:
    """Mismatch flags of the (already checked) elements idx of block b."""
    order = np.argsort(b.idx)
    pos = np.searchsorted(b.idx[order], idx)
    return compare_block(ctx, b, order[pos]).mismatch_mask


def element_label(shape, j) -> str:
    """'[i, k]' for flat index j of an array of this shape ('' for a scalar)."""
    if not shape:
        return ""
    return "[" + ", ".join(str(int(i)) for i in np.unravel_index(int(j), shape)) + "]"


class _Table:
    """phi for many coordinates at once, answered from the grid (one column per offset)."""

    def __init__(self, grid, t):
        self.columns = {k * t: grid[:, i] for i, k in enumerate(fd.OFFSETS)}

    def __call__(self, tau):
        return self.columns[tau]
