"""Numeric helpers every unit shares: step units, tolerances, random directions, one directional test.

Free functions over a Context (and a Stepping where f is evaluated), so the
fast, full and kink units compose them instead of sharing mutable state.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from gradcheck import fd, tolerances
from gradcheck.context import Block, Context, Stepping


def step_units(ctx: Context, b: Block, idx=None) -> np.ndarray:
    """Per-element step scale: |x|, or the block's rms for small or zero entries.

    Computed when needed rather than stored: at a million parameters every
    full-size array counts against the memory target.
    """
    x = ctx.problem.x0[b.leaf.slice]
    return fd.step_scale(x if idx is None else x[idx], b.rms)


def block_tolerance(ctx: Context, b: Block, scale_hint: float, *, sharp: bool = False) -> tuple[float, float]:
    """(rtol, atol) for block b: the user's overrides, else its dtype's floor (tolerances.py).

    ``sharp``: fast mode's first tier for a float32/16 gradient (tolerances.sharp_floor).
    """
    scale = max(scale_hint, b.scale)
    return tolerances.resolve(b.dtype, ctx.opts.rtol, ctx.opts.atol, scale, ctx.global_scale, sharp=sharp)


def roundoff_floor(ctx: Context, u: np.ndarray, support, *, sharp: bool = False) -> float:
    """Round-off the user's dtype allows in <g, u>, at FLOOR_SIGMAS standard deviations."""
    total = 0.0
    for b in support:
        r, a = block_tolerance(ctx, b, 0.0, sharp=sharp)
        w = np.abs(b.finite_user())
        w = w * r
        w += a
        w *= u[b.leaf.slice]
        total += float(w @ w)
    return tolerances.FLOOR_SIGMAS * float(np.sqrt(total))


def phi(ctx: Context, u, what: str):
    """tau -> f(x0 + tau*u), counted; ``what`` names the direction in f's error messages."""
    p = ctx.problem

    def along(tau):
        return p.evaluate(p.x0, where=what, u=u, tau=tau)
    return along


def random_direction(ctx: Context, blocks, subset=None) -> np.ndarray:
    """A random direction, scaled per element by the parameter's magnitude.

    Each block gets its own unit Gaussian direction; across several blocks,
    each is then weighted so that its share of <g, u> is about the same, so a
    block of small biases or small gradients is not drowned by a large weight
    matrix's round-off floor (the weights come from your gradient, capped at
    100x either way: any direction is a valid test, this one is a fair one).
    Stored in float32 (half the memory); the perturbation x0 + tau*u and the
    product <g, u> both use these exact values, so nothing is lost.
    """
    u = np.zeros(ctx.problem.n, dtype=np.float32)
    shares = []
    for b in blocks:
        sl = b.leaf.slice
        if subset is not None:
            z = ctx.rng.standard_normal(len(subset))
            z /= np.linalg.norm(z)
            u[sl][subset] = z * step_units(ctx, b, subset)
        else:
            seg = u[sl]
            ctx.rng.standard_normal(b.leaf.size, dtype=np.float32, out=seg)
            seg /= np.linalg.norm(seg)
            seg *= step_units(ctx, b)
        shares.append(float(np.linalg.norm(b.finite_user() * u[sl])))
    positive = [w for w in shares if w > 0]
    if len(blocks) > 1 and positive:
        target = float(np.exp(np.mean(np.log(positive))))
        for b, w in zip(blocks, shares):
            u[b.leaf.slice] *= np.float32(np.clip(target / w, 0.01, 100.0) if w > 0 else 1.0)
    return u


class Directional(NamedTuple):
    """One directional test: yours <g, u> against the finite-difference estimate."""

    passed: bool
    kink: bool
    estimate: fd.Estimate
    yours: float
    tolerance: float
    sharp_passed: bool = True        # also within the sharp tier (float32/16 gradients; else the same test)
    sharp_tolerance: float = 0.0


def directional_test(ctx: Context, st: Stepping, u: np.ndarray, support, what: str) -> Directional:
    """Compare <g, u> over the blocks in ``support`` with d/dtau f(x0 + tau*u)."""
    est = fd.derivative(phi(ctx, u, what), ctx.f0, st.t, st.sigma)
    finite = all(b.finite for b in support)
    mine = sum(float(b.user @ u[b.leaf.slice]) for b in support) if finite else float("nan")
    tol = float(est.error) + roundoff_floor(ctx, u, support)
    sharp = float(est.error) + roundoff_floor(ctx, u, support, sharp=True) if has_sharp_tier(ctx, support) else tol

    def within(t):
        if bool(est.kink):
            return float(est.lo) - t <= mine <= float(est.hi) + t
        return abs(mine - float(est.value)) <= t
    return Directional(within(tol), bool(est.kink), est, mine, tol, within(sharp), sharp)


def has_sharp_tier(ctx: Context, support) -> bool:
    """A float32/16 gradient given as such (not rerun in float64), with no rtol/atol of the user's."""
    if ctx.opts.rtol is not None or ctx.opts.atol is not None:
        return False
    return any(tolerances.sharp_floor(b.dtype) is not None for b in support)
