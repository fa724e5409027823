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
from gradcheck.numerics import step_units
from gradcheck.ties import check_ties

MAX_SUSPECTS = 64         # disagreeing elements per block asked of finite differences
NOISE_STEP = 1e-8         # relative move of params that re-rounds JAX's intermediates
NOISE_DRAWS = 3
NOISE_SIGMAS = 3.0
KINK_JUMP = 1e-4          # a gradient that changes by this fraction across +-NOISE_STEP has a kink there


def jax_oracle_check(ctx: Context, fn, name: str) -> Stepping | None:
    """Compare every element with jax.grad(fn); returns the Stepping if finite differences were needed."""
    ref = oracle_jax.gradient(fn, ctx.problem, name=name)
    for b in ctx.blocks:
        exp = ref[b.leaf.slice]
        n = b.leaf.size
        b.add_elements(np.arange(n), exp, tolerances.autodiff_error(exp), np.zeros(n, bool), exp, exp)
        b.checked = "all elements"
    if not any(np.any(compare_block(ctx, b).mismatch_mask) for b in ctx.blocks):
        return None
    noise, jump = gradient_noise(ctx, fn, name, ref)
    for b in ctx.blocks:
        b.error = np.maximum(b.error, noise[b.leaf.slice][b.idx])
    st = None
    for b in ctx.blocks:
        suspects = np.flatnonzero(compare_block(ctx, b).mismatch_mask)
        if not 0 < len(suspects) <= MAX_SUSPECTS:
            continue
        jumps = jump[b.leaf.slice]
        # the elements whose gradient jumps at params are asked too, even where yours equals JAX's: at a tie
        # (max, max-pool) a vector is a subgradient only as a whole (ties.py), and JAX's share of it is one of many
        at_kink = np.flatnonzero(jumps)
        asked = np.union1d(suspects, at_kink[:max(0, MAX_SUSPECTS - len(suspects))])
        if st is None:
            st, _ = measure_stepping(ctx)
        probe = Block(b.leaf, b.dtype, b.user, ctx.problem.x0[b.leaf.slice])
        check_elements(ctx, st, probe, asked, "all elements")
        at = np.searchsorted(b.idx, probe.idx)
        probe_jumps = jumps[probe.idx]
        # JAX's own value jumping within a hair where f shows no kink is its round-off (tanh saturated at
        # 1 - 1e-16, where 1 - y**2 keeps a digit or two): there the finite differences' value and bar decide
        noisy = probe_jumps & ~probe.kink
        b.expected[at[noisy]], b.error[at[noisy]] = probe.expected[noisy], probe.error[noisy]
        kinked = probe.kink
        if np.dtype(b.dtype) == np.float64:
            # float64 code sits on the same side of a kink as JAX unless params are at the kink itself: there
            # JAX's gradient jumps between x - d and x + d. Farther away f is differentiable at x, and a kink that
            # finite differences straddle offers no other value (float32 code may round to the other side)
            kinked = kinked & probe_jumps
        if np.any(kinked):
            b.kink[at[kinked]], b.lo[at[kinked]], b.hi[at[kinked]] = True, probe.lo[kinked], probe.hi[kinked]
            check_ties(ctx, st, b)
    return st


def gradient_noise(ctx: Context, fn, name: str, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a bound on JAX's own round-off in each element of ref, where its gradient jumps right at params)."""
    base = np.empty_like(ctx.problem.x0)
    for b in ctx.blocks:
        base[b.leaf.slice] = step_units(ctx, b)   # |x|, or the block's rms: a zero param moves too
    return measured_noise(lambda x: oracle_jax.gradient(fn, ctx.problem, name=name, at=x), ctx.problem.x0, base,
                          ref, ctx.rng)


def measured_noise(evaluate, x0: np.ndarray, base: np.ndarray, ref: np.ndarray,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(a bound on the round-off in ref = evaluate(x0), where evaluate jumps right at x0).

    evaluate(x) is JAX's product (gradient, or Jacobian-vector product) at the flat point x; base is
    each element's step unit. JAX's float64 result is as exact as its formula: where terms cancel
    (1 - tanh(w)**2 at a saturated unit) it keeps only eps times the size of those terms, far less
    than eps times the result.  That error is re-drawn when x moves by a hair d: the second
    difference (g(x+d) + g(x-d)) / 2 - g(x) over a few random moves is that noise (the curvature in
    it is of order NOISE_STEP**2).  A wrong product's gap is the same at x +- d and is not covered by
    it.  Where g(x+d) and g(x-d) differ by a finite fraction, x sits on a kink, and that draw's second
    difference (half the jump) is left out of the bar.
    """
    widest, jump = np.zeros_like(ref), np.zeros(ref.shape, bool)
    for _ in range(NOISE_DRAWS):
        # random sizes as well as signs: a sign alone gives every element of a separable f the same draw
        d = NOISE_STEP * base * rng.uniform(0.5, 2.0, size=x0.shape) * rng.choice([-1.0, 1.0], size=x0.shape)
        plus, minus = evaluate(x0 + d), evaluate(x0 - d)
        with np.errstate(invalid="ignore", over="ignore"):
            second = np.abs((plus + minus) / 2 - ref)
            smooth = np.abs(plus - minus) <= KINK_JUMP * np.maximum(np.abs(plus), np.abs(minus))
        jump |= ~smooth
        # a draw that straddles a kink measures half its jump, not round-off: counted, such a bar would let
        # through values outside the kink's interval (-0.5 for relu'(0)) and vectors that are no subgradient
        widest = np.maximum(widest, np.where(smooth & np.isfinite(second), second, 0.0))
    return NOISE_SIGMAS * widest, jump
