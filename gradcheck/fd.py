"""Finite differences along a direction, with a noise estimate and an error bar.

phi(tau) = F(x0 + tau*u) is evaluated on a few points. Three things come out:
- the noise level sigma of F, measured (ECnoise, More & Wild 2011) rather than
  assumed from |F|: a loss computed in float32 inside, or a sum with
  cancellation, is far noisier than eps*|F|;
- a step t balancing round-off (sigma/t) against truncation;
- a Richardson-extrapolated central difference with an error estimate, and a
  kink test on the four one-sided slopes between -2t and 2t (Chainer's idea:
  slopes of a smooth function lie on a smooth curve; a kink breaks it).
Everything is element-wise, so phi may return a vector (Jacobian columns).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from math import factorial

import numpy as np

EPS = np.finfo(np.float64).eps


@dataclass
class Noise:
    sigma: np.ndarray      # noise level of F per output component
    slope: np.ndarray      # rough |dphi/dtau|, for choosing the step


@dataclass
class Estimate:
    value: np.ndarray      # Richardson central difference
    error: np.ndarray      # conservative bound on |value - true derivative|
    kink: np.ndarray       # bool: not differentiable within [-2t, 2t]
    lo: np.ndarray         # smallest one-sided slope seen (meaningful where kink)
    hi: np.ndarray         # largest one-sided slope seen
    step: float
    jump: np.ndarray = None  # the kink statistic: a kink at 0 keeps it whatever the step
    left: np.ndarray = None  # the one-sided slopes at 0, from the left and from the right
    right: np.ndarray = None
    margin: np.ndarray = None  # how far each one-sided slope may be off (noise and curvature)
    inner: np.ndarray = None   # bool: the kink shows in the inner points (at +-t, +-2t), not only the outer ones


SUSPECT_NOISE = 1e4   # noise above this many float64 roundings of f is looked at again, closer in


def estimate_noise(phi, f0, *, delta: float = 1e-6, half_width: int = 4, max_tries: int = 3) -> Noise:
    """Noise of phi near 0 from high-order differences of 2*half_width+1 values.

    If most differences are exactly zero, delta is below f's resolution (f
    rounds its inputs, e.g. to float32): widen it and try again. If f is not
    finite at some of the points, they cross a domain boundary (log of a tiny
    positive parameter): come closer.
    """
    f0 = np.asarray(f0, dtype=np.float64)
    offs = range(-half_width, half_width + 1)
    constant_near = None
    chosen, spacing, done = None, None, None
    for _ in range(max_tries + 3):
        vals = _table(phi, f0, offs, delta)
        if not np.all(np.isfinite(vals)) and delta > 1e-15:
            delta /= 1000.0
            continue
        if constant_near is None:
            constant_near = np.all(vals == f0, axis=0)
            chosen, spacing, done = vals.copy(), np.full(np.shape(f0), delta), np.zeros(np.shape(f0), bool)
        first = np.diff(vals, axis=0)
        # each output keeps the first table that resolves it: widened for a flat one (a dead unit's output),
        # another's table would cross its own kinks and read them as noise (a 1 % error then passed)
        now = ~done & (np.mean(first == 0, axis=0) <= 0.5)
        chosen[:, now], spacing[now], done = vals[:, now], delta, done | now
        if np.all(done) or delta >= 0.5:   # the widest table: steps of about the parameters' size
            break
        delta *= 100.0
    vals = np.where(done, chosen, vals)
    spacing = np.where(done, spacing, delta)
    sigma, lopsided = _table_noise(vals, half_width)
    # f exactly constant at the first delta and still on one whole side of the widened table, while the
    # other side moves: f is flat near the point (a ReLU unit dead there), and the widening crossed its
    # kink. The flat side is f's noise (none: the floor below), the kink is not.
    one_side_flat = np.all(vals[: half_width + 1] == f0, axis=0) | np.all(vals[half_width:] == f0, axis=0)
    flat_to_a_kink = constant_near & one_side_flat & lopsided
    sigma = np.where(flat_to_a_kink, 0.0, sigma)
    lopsided = lopsided & ~flat_to_a_kink
    scale = np.max(np.abs(vals), axis=0)
    grids = {}
    for dtype in (np.float16, np.float32):
        with np.errstate(over="ignore"):   # values beyond float16's range are simply not on its grid
            grids[dtype] = np.all(vals == vals.astype(dtype).astype(np.float64), axis=0) & np.any(vals != vals[0], axis=0)
    # one side of the table far noisier than the other, or both far noisier than float64 rounding (and f's
    # values not on the float32 grid): kinks crossed inside it (a ReLU net's pre-activations passing 0 near
    # the point), not noise. Closer in, fewer of them are inside, while real noise stays as it was: come
    # closer while that lowers the estimate; where f rounds too coarsely for it (flat differences), stop.
    # Jumps in value are not kinks: f rounds an intermediate coarsely (log(1 - sigmoid(25)) is a staircase
    # whose steps are 4e-6 apart), and closer in, between two steps, f is smooth with the wrong slope.
    suspect = (lopsided | ((sigma > SUSPECT_NOISE * EPS * scale) & ~grids[np.float32])) & ~_value_jumps(vals)
    near_delta = delta
    while np.any(suspect) and near_delta / 100 >= 1e-12:
        near_delta /= 100
        closer = _table(phi, f0, offs, near_delta)
        if not np.all(np.isfinite(closer)) or np.any(np.mean(np.diff(closer, axis=0) == 0, axis=0) > 0.5):
            break
        near, near_lopsided = _table_noise(closer, half_width)
        take = suspect & (lopsided | (near < sigma / 8)) & ~_value_jumps(closer)
        sigma = np.where(take, np.minimum(sigma, near), sigma)
        lopsided = near_lopsided
        suspect = take & (near_lopsided | (sigma > SUSPECT_NOISE * EPS * scale))
    sigma = np.maximum(sigma, 2 * EPS * scale)
    # An f that returns float32 (or float16) values rounds its output to that grid: the
    # differences can line up on it exactly and hide the rounding, so the grid sets a floor.
    for dtype, on_grid in grids.items():
        sigma = np.where(on_grid, np.maximum(sigma, np.finfo(dtype).eps * scale), sigma)
    slope = np.abs(vals[-1] - vals[0]) / (2 * half_width * spacing)
    return Noise(sigma=sigma, slope=slope)


def _table(phi, f0: np.ndarray, offs, delta: float) -> np.ndarray:
    """phi at offs * delta (f0 at 0, not evaluated again), one row per offset."""
    return np.stack([f0 if i == 0 else np.asarray(phi(i * delta), dtype=np.float64) for i in offs])


def _value_jumps(vals: np.ndarray) -> np.ndarray:
    """Where the table's differences show a jump in value rather than a kink.

    Outliers among the first differences (far from their median, beyond rounding): a jump in value sits
    inside one interval, so it is one outlier with ordinary differences on both sides; a kink changes the
    slope for good, so its outliers run on to an end of the table. Jumps: every run of outliers is a
    single one, and one of them lies inside.
    """
    d = np.diff(vals, axis=0)
    centre = np.median(d, axis=0)
    dev = np.abs(d - centre)
    floor = 8 * np.median(dev, axis=0) + 64 * EPS * np.max(np.abs(vals), axis=0)
    out = dev > floor
    return np.any(out[1:-1], axis=0) & ~np.any(out[:-1] & out[1:], axis=0)


def _table_noise(vals: np.ndarray, half_width: int):
    """(sigma, lopsided) from one table of values at -half_width..half_width steps.

    A kink at the point itself (relu at 0, |x|) makes every high-order difference
    that straddles 0 large, which would read as noise: each side alone is smooth,
    so the estimate is the smaller of the whole table's and the larger side's.
    ``lopsided``: one side over 8 times noisier than the other (a kink inside it).
    """
    whole = _ecnoise(vals, range(3, 7))
    left, right = _ecnoise(vals[: half_width + 1], (3, 4)), _ecnoise(vals[half_width:], (3, 4))
    sides = np.maximum(left, right)
    lopsided = sides > 8 * np.maximum(np.minimum(left, right), 1e-300)
    return np.minimum(whole, sides), lopsided


def _ecnoise(vals: np.ndarray, orders) -> np.ndarray:
    """Median over the given orders k of sqrt(gamma_k * mean((k-th differences)^2))."""
    sig = []
    for k in orders:
        table = np.diff(vals, n=k, axis=0)
        gamma = factorial(k) ** 2 / factorial(2 * k)
        sig.append(np.sqrt(gamma * np.mean(table**2, axis=0)))
    return np.median(np.stack(sig), axis=0)


def choose_step(noise: Noise, *, lo: float = 1e-7, hi: float = 0.1) -> float:
    """t ~ (sigma/|phi'|)^(1/5): round-off sigma/t against the fourth-order truncation t^4.

    Derivatives of phi of every order are taken to be of the size of its slope
    (the per-element scaling of directions makes that the natural unit).
    """
    ratio = noise.sigma / np.maximum(noise.slope, 1e-300)
    t = float(np.median(np.power(ratio, 0.2)))
    if not np.isfinite(t):
        t = hi
    return float(np.clip(t, lo, hi))


OFFSETS = (-4, -2, -1, 1, 2, 4)   # where central() evaluates phi, in units of the step t
REFINE = 16                       # derivative() comes closer by this factor where f is not finite within the step
MIN_STEP = 1e-12                  # the smallest step (directions are scaled by |x|: relative)


def central(phi, f0, t: float, sigma) -> Estimate:
    """Richardson central differences at steps t, 2t and 4t (six evaluations).

    Two fourth-order extrapolations, R1 from (t, 2t) and R2 from (2t, 4t), differ
    by about 15 times R1's truncation error, so 2|R1 - R2| bounds it with a wide
    margin (and survives an accidental cancellation of the leading term). R1
    carries about 0.95 sigma / t of round-off; 6 sigma / t allows for sigma
    itself being measured from few samples (it can be low by 2x).
    """
    f0 = np.asarray(f0, dtype=np.float64)
    sigma = np.asarray(sigma, dtype=np.float64)
    pm4, pm2, pm1, pp1, pp2, pp4 = (np.asarray(phi(k * t), dtype=np.float64) for k in OFFSETS)
    with np.errstate(all="ignore"):   # f overflowing at a probe point: its inf makes an infinite error bar below
        return _central(f0, sigma, t, pm4, pm2, pm1, pp1, pp2, pp4)


def _central(f0, sigma, t, pm4, pm2, pm1, pp1, pp2, pp4) -> Estimate:
    d1 = (pp1 - pm1) / (2 * t)
    d2 = (pp2 - pm2) / (4 * t)
    d4 = (pp4 - pm4) / (8 * t)
    value = (4 * d1 - d2) / 3
    coarse = (4 * d2 - d4) / 3
    roundoff = 6.0 * sigma / t
    error = 2.0 * np.abs(value - coarse) + roundoff + 16 * EPS * np.abs(value)
    slopes = np.stack([(pm1 - pm2) / t, (f0 - pm1) / t, (pp1 - f0) / t, (pp2 - pp1) / t])
    jump = np.abs(-0.5 * pm2 + 2 * pm1 - 3 * f0 + 2 * pp1 - 0.5 * pp2) / t
    # the same statistic on the outer points: a kink crossed near 2t/3, where the inner one is
    # blind, shows there (and one near 4t/3 shows in the inner one); at a large step (f
    # computed in float32) several crossed kinks could otherwise pass for a smooth curve
    outer = np.abs(-0.5 * pm4 + 2 * pm2 - 3 * f0 + 2 * pp2 - 0.5 * pp4) / (2 * t)
    slope_scale = np.max(np.abs(slopes), axis=0)
    # on a smooth curve both measure its fourth derivative: the inner one t^3/2 times it, the outer one 8
    # times that; an outer statistic up to 16 times the inner one is curvature, not a kink
    inner = (jump > 40.0 * sigma / t) & (jump > 1e-6 * slope_scale)
    kink = inner | ((outer > 20.0 * sigma / t) & (outer > 1e-6 * slope_scale) & (outer > 16.0 * jump))
    # one-sided limits at 0, extrapolated from the two slopes on each side; the margin
    # covers the noise and the curvature between the sample points
    left, right = 1.5 * slopes[1] - 0.5 * slopes[0], 1.5 * slopes[2] - 0.5 * slopes[3]
    hull = np.concatenate([slopes, left[None], right[None]])
    margin = 6.0 * sigma / t + np.abs(slopes[1] - slopes[0]) + np.abs(slopes[3] - slopes[2])
    lo = np.min(hull, axis=0) - margin
    hi = np.max(hull, axis=0) + margin
    error = np.where(np.isfinite(error), error, np.inf)
    return Estimate(value=value, error=error, kink=kink, lo=lo, hi=hi, step=t, jump=jump, left=left, right=right,
                    margin=margin, inner=inner)


def needs_refine(est: Estimate, sigma, t: float) -> np.ndarray:
    """Where a smaller step may help: a kink, or a bound 100x above its round-off part."""
    return est.kink | (np.abs(est.error) > 100 * 6.0 * np.asarray(sigma) / t)


def step_scale(x: np.ndarray, rms: float) -> np.ndarray:
    """Per-element step unit: |x|, but at least the block's rms (1 for an all-zero block).

    A new array: at a million parameters only one such temporary is made.
    """
    s = np.abs(x)
    return np.maximum(s, rms if rms > 0 else 1.0, out=s)


def own_step_scale(x: np.ndarray) -> np.ndarray:
    """step_scale with x's own rms: one array (a leaf, an input) that is its own block."""
    return step_scale(x, float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0)


def derivative(phi, f0, t: float, sigma, *, refine: bool = True, min_step: float = MIN_STEP) -> Estimate:
    """central(), retried at halved steps while that helps; the best estimate wins.

    A piecewise-smooth phi (ReLU, max-pool) is smooth on an interval around 0
    unless a kink sits exactly at 0. Where the table shows a kink, or an error
    bar far above its round-off (a kink crossed by the outer points), the step
    halves (two new evaluations each time: the others are reused) until the
    table is clean, or until the kink's jump has held its size over a 16-fold
    range of steps: a kink at the point, whose jump does not change with the
    step, while crossed kinks make it wander and then leave the table.
    Halving stops where the round-off at the next step, 6 sigma / t, would
    exceed what it could gain, or at min_step; the error bar always holds the
    round-off of the step actually used (report it as the resolution).
    """
    phi = _Memo(phi)
    est = central(phi, f0, t, sigma)
    if not np.all(np.isfinite(est.value)):
        # f is not finite within the step (a domain boundary: log of a tiny positive
        # parameter): come closer until it is, then well inside, where f is smooth again
        while not np.all(np.isfinite(est.value)) and t / REFINE >= 1e-14:
            t /= REFINE
            est = central(phi, f0, t, sigma)
        if np.all(np.isfinite(est.value)) and t / REFINE**2 >= 1e-16:
            t /= REFINE**2
            est = central(phi, f0, t, sigma)
    if not refine:
        return est
    sigma = np.asarray(sigma, dtype=np.float64)
    shape = np.shape(est.value)
    best = est                                   # the smallest error bar among clean tables
    clean = ~est.kink
    steps = np.full(shape, t)
    held = np.zeros(shape, dtype=int)            # halvings over which a kink's jump held its size
    stale = np.zeros(shape, dtype=int)           # halvings without a better clean table
    active = needs_refine(est, sigma, t)
    while np.any(active) and t / 2 >= min_step:
        h = t / 2
        # the round-off at the smaller step must stay below what halving can gain
        gain = np.where(clean, best.error, np.maximum(est.error, est.jump))
        active &= 6.0 * sigma / h < gain
        if not np.any(active):
            break
        small = central(phi, f0, h, sigma)
        # a kink at the point keeps its jump (to within noise and curvature) at every step;
        # crossed kinks make it wander, then leave the table
        steady = (np.abs(small.jump - est.jump) <= 0.1 * est.jump) & (est.jump > 40.0 * sigma / t)
        held = np.where(est.kink & steady, held + 1, 0)
        at_point = est.kink & steady & ((held >= 4) | ~small.kink)   # (noise can hide it at the smaller step)
        improves = active & ~at_point & ~small.kink & (~clean | (small.error < best.error))
        best = _pick(improves, best, small)
        steps = np.where(improves, h, steps)
        clean |= improves
        stale = np.where(improves, 0, stale + 1)
        kept = active & ~clean
        est = _pick(kept & ~at_point, est, small)
        steps = np.where(kept & ~at_point, h, steps)
        # kinked tables go on until clean or confirmed at the point; clean ones while they improve
        active &= ~at_point & (~clean | (needs_refine(best, sigma, h) & (stale < 8)))
        t = h
    # the outer statistic only sends the step down: a kink at the point shows in the inner one as much (both
    # measure its jump), so where only the outer one still fires when halving ends (the noise stops it), a kink
    # sits between 2t and 4t, outside the points the value uses and inside those of its error bar, or a smooth
    # curve's fourth derivative was read as one (f computed in float32, at a large step): the value and its
    # error bar are the answer, not an interval as wide as the curvature (which let a 50 % error pass)
    out = _pick(clean, replace(est, kink=est.kink & est.inner), best)
    out.step = float(np.min(steps))
    return out


class _Memo:
    """phi with its values remembered: halving the step reuses four of six points."""

    def __init__(self, phi):
        self.phi = phi
        self.values = {}

    def __call__(self, tau):
        if tau not in self.values:
            self.values[tau] = self.phi(tau)
        return self.values[tau]


def _pick(mask, a: Estimate, b: Estimate) -> Estimate:
    pick = lambda x, y: np.where(mask, y, x)  # noqa: E731
    return Estimate(value=pick(a.value, b.value), error=pick(a.error, b.error), kink=pick(a.kink, b.kink),
                    lo=pick(a.lo, b.lo), hi=pick(a.hi, b.hi), step=a.step, jump=pick(a.jump, b.jump),
                    left=pick(a.left, b.left), right=pick(a.right, b.right), margin=pick(a.margin, b.margin),
                    inner=pick(a.inner, b.inner))
