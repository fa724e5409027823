"""Ties: where several elements share one kink, the gradient must be a subgradient as a vector.

At a tie p[0] = p[1] of max(p), each element of the gradient may lie anywhere
in [0, 1] on its own, yet [1, 1] is no subgradient: moving both together
changes max(p) at slope 1, not 2 (the classic max-pool bug of sending the
gradient to every tied maximum). The element-wise intervals cannot see that;
directions that move several kinked elements at once can.

Which kinked elements share a kink: i and j are coupled when the one-sided
slopes along e_i + e_j are not the sums of those along e_i and along e_j
(separate kinks, such as relu units of their own, add up, and their
element-wise intervals are already the whole truth). Along the sum of each
coupled pair, and of each coupled group, <g, u> must lie between the two
one-sided slopes, or equal the slope where f is smooth along it. Together
with each element's own interval that is exact for ties of max, max-pool,
min, sort and abs (f bends one way along each such direction: f'(x; u) >=
<g, u> >= -f'(x; -u) where it is convex, the reverse where it is concave).
"""
from __future__ import annotations

from itertools import combinations

import numpy as np

from gradcheck import fd
from gradcheck.context import Block, Context, Stepping
from gradcheck.elements import element_label
from gradcheck.numerics import phi, roundoff_floor, step_units

MAX_TIED = 8          # kinked elements per block examined in pairs (28 pairs at most)
COUPLED = 3.0         # non-additivity beyond this many error margins means a shared kink


def check_ties(ctx: Context, st: Stepping, b: Block) -> None:
    """Test the kinked elements of b together; failures go to b.tie_failures."""
    kinked = np.unique(b.idx[b.kink])
    if len(kinked) < 2:
        return
    if len(kinked) > MAX_TIED:
        kinked = np.sort(ctx.rng.choice(kinked, MAX_TIED, replace=False))
        ctx.notes.append(f"{b.leaf.path}: {int(np.sum(b.kink))} elements sit at kinks; {MAX_TIED} of them "
                         f"were tested together for ties")
    scales = step_units(ctx, b, kinked)
    single = [_along(ctx, st, b, [j], [s]) for j, s in zip(kinked, scales)]
    parent = list(range(len(kinked)))
    for a, c in combinations(range(len(kinked)), 2):
        pair = _along(ctx, st, b, [kinked[a], kinked[c]], [scales[a], scales[c]])
        if not _coupled(single[a], single[c], pair):
            continue
        parent[_root(parent, a)] = _root(parent, c)
        _test(ctx, b, [kinked[a], kinked[c]], [scales[a], scales[c]], pair)
    groups = {}
    for a in range(len(kinked)):
        groups.setdefault(_root(parent, a), []).append(a)
    for members in groups.values():
        if len(members) >= 3:
            idx, sc = [kinked[a] for a in members], [scales[a] for a in members]
            _test(ctx, b, idx, sc, _along(ctx, st, b, idx, sc))


class _Along:
    """One direction over a few elements of a block, and f's one-sided slopes along it."""

    def __init__(self, u: np.ndarray, est: fd.Estimate):
        self.u = u
        self.est = est
        self.left, self.right = float(est.left), float(est.right)
        self.margin = float(est.margin)


def _along(ctx: Context, st: Stepping, b: Block, idx, scales) -> _Along:
    u = np.zeros(ctx.problem.n, dtype=np.float32)
    u[b.leaf.offset + np.asarray(idx, dtype=np.int64)] = np.asarray(scales, dtype=np.float32)
    label = " + ".join(f"{b.leaf.path}{element_label(b.leaf.shape, j)}" for j in idx)
    est = fd.derivative(phi(ctx, u, f"the direction {label}"), ctx.f0, st.t, st.sigma)
    return _Along(u, est)


def _coupled(a: _Along, c: _Along, pair: _Along) -> bool:
    """Do the one-sided slopes along e_a + e_c fail to add up (one kink shared by both)?"""
    allowed = COUPLED * (a.margin + c.margin + pair.margin)
    return abs(pair.right - (a.right + c.right)) > allowed or abs(pair.left - (a.left + c.left)) > allowed


def _test(ctx: Context, b: Block, idx, scales, along: _Along) -> None:
    """<g, u> against the one-sided slopes along u; a violation is recorded on the block."""
    yours = float(np.dot(b.user[np.asarray(idx, dtype=np.int64)], np.asarray(scales, dtype=np.float32)))
    est = along.est
    tol = float(est.error) + roundoff_floor(ctx, along.u, [b])
    if bool(est.kink):
        lo = min(along.left, along.right) - along.margin
        hi = max(along.left, along.right) + along.margin
    else:
        lo = hi = float(est.value)
    if lo - tol <= yours <= hi + tol:
        return
    s0 = float(scales[0])   # reported per unit move of the first element
    b.tie_failures.append({
        "elements": [f"{b.leaf.path}{element_label(b.leaf.shape, j)}" for j in idx],
        "weights": [float(s) / s0 for s in scales],
        "yours": yours / s0, "lo": lo / s0, "hi": hi / s0,
    })


def _root(parent: list, a: int) -> int:
    while parent[a] != a:
        parent[a] = parent[parent[a]]
        a = parent[a]
    return a

