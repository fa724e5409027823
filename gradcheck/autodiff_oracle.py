"""JAX autodiff as the oracle: every element compared at once.

Where JAX and the user disagree, a kink may explain it (JAX picks one
subgradient): finite differences are asked about those elements, and the
kink interval is accepted where they show one.
"""
from __future__ import annotations

import numpy as np

from gradcheck import oracle_jax, tolerances
from gradcheck.context import Block, Context, Stepping, measure_stepping
from gradcheck.elements import check_elements, compare_block

MAX_SUSPECTS = 64         # disagreeing elements per block asked of finite differences


def jax_oracle_check(ctx: Context, fn, name: str) -> Stepping | None:
    """Compare every element with jax.grad(fn); returns the Stepping if finite differences were needed."""
    ref = oracle_jax.gradient(fn, ctx.problem, name=name)
    for b in ctx.blocks:
        exp = ref[b.leaf.slice]
        err = tolerances.AUTODIFF_ERROR * (np.abs(exp) + float(np.max(np.abs(exp), initial=0.0)))
        n = b.leaf.size
        b.add_elements(np.arange(n), exp, err, np.zeros(n, bool), exp, exp)
        b.checked = "all elements"
    st = None
    for b in ctx.blocks:
        suspects = np.flatnonzero(compare_block(ctx, b).mismatch_mask)
        if not 0 < len(suspects) <= MAX_SUSPECTS:
            continue
        if st is None:
            st, _ = measure_stepping(ctx)
        probe = Block(b.leaf, b.dtype, b.user, ctx.problem.x0[b.leaf.slice])
        check_elements(ctx, st, probe, suspects, "all elements")
        kinked = probe.kink
        if np.any(kinked):
            at = np.searchsorted(b.idx, probe.idx[kinked])
            b.kink[at], b.lo[at], b.hi[at] = True, probe.lo[kinked], probe.hi[kinked]
    return st
