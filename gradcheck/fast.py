"""Fast mode: random directional derivatives, then localization only where they fail.

A fixed number of evaluations whatever the parameter count: <g, u> is
compared with d/dtau f(x0 + tau*u) along ``directions`` random directions.
When one fails (or meets a kink), each block gets its own directions; failing
blocks are checked element by element (small ones) or by bisection (large
ones), and blocks that only met kinks go to kinks.examine_kinked_block.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradcheck.context import Block, Context, Stepping
from gradcheck.elements import check_elements, compare_block, elements_bad
from gradcheck.kinks import SAMPLE, examine_kinked_block, kink_free_stepping
from gradcheck.numerics import directional_test, random_direction

MAX_FULL_BLOCK = 4096     # failing blocks up to this size are checked element by element
MAX_FOUND = 8             # elements located by bisection in one large block


@dataclass(frozen=True)
class FastOutcome:
    tolerance: float            # the largest tolerance of the decisive directions (sets the stated resolution)
    rel_error: float | None     # largest relative directional error away from kinks
    unlocalized: bool           # a direction failed, persistently, but no element showed why
    decisive: int = 0           # random directions over all blocks that met no kink at the point
    block_norms: tuple = ()     # per block, the smallest norm of its part of those directions


def fast_check(ctx: Context, st: Stepping, first: np.ndarray) -> FastOutcome:
    """``directions`` random directions over all blocks (the first is ``first``); localize on failure."""
    escalate = global_failed = False
    tolerance, sharp_tolerance, rel_error, decisive, below_floor = 0.0, 0.0, None, 0, False
    norms = [float("inf")] * len(ctx.blocks)
    for k in range(ctx.opts.directions):
        u = first if k == 0 else random_direction(ctx, ctx.blocks)
        d = directional_test(ctx, st, u, ctx.blocks, "a random direction")
        st = kink_free_stepping(st, d.estimate)
        if not d.kink:  # a kink at the point leaves the direction inconclusive: no resolution from it
            tolerance = max(tolerance, d.tolerance)
            # each block's weight in u differs per direction: its smallest part sets its resolution
            norms = [min(a, float(np.linalg.norm(u[b.leaf.slice]))) for a, b in zip(norms, ctx.blocks)]
            sharp_tolerance = max(sharp_tolerance, d.sharp_tolerance)
            decisive += 1
            below_floor |= d.passed and not d.sharp_passed
        if not d.kink and d.estimate.value != 0:
            rel = abs(d.yours - float(d.estimate.value)) / abs(float(d.estimate.value))
            rel_error = rel if rel_error is None else max(rel_error, rel)
        escalate |= (not d.passed) or d.kink
        global_failed |= (not d.passed) and not d.kink
    unlocalized = localize(ctx, st, global_failed) if escalate else False
    if not escalate and below_floor:
        hunt_below_floor(ctx, st)
    elif not escalate and decisive:
        tolerance = sharp_tolerance   # the round-off present was within the sharp tier: it sets the resolution
    return FastOutcome(tolerance, rel_error, unlocalized, decisive, tuple(norms))


def hunt_below_floor(ctx: Context, st: Stepping) -> None:
    """A float32 gradient within its dtype's blanket floor but not within the sharp tier: look closer.

    Either the round-off present is larger than usual, spread over every element,
    or one element is wrong by less than the blanket floor summed over the whole
    direction hides. Each block gets its own directions at the sharp tier, and
    bisection where they fail; the elements found are compared at the dtype's own
    element floor, which alone decides. Round-off that is spread out is never
    localized and fails nothing; the stated resolution is then the blanket one.
    """
    for b in ctx.blocks:
        suspect = False
        for _ in range(2):
            d = directional_test(ctx, st, random_direction(ctx, [b]), [b], f"a random direction in {b.leaf.path}")
            suspect |= d.kink or not d.sharp_passed
        if not suspect:
            continue
        if b.leaf.size <= 8:
            check_elements(ctx, st, b, np.arange(b.leaf.size), "all elements")
        else:
            bisect(ctx, st, b, sharp=True)
    if not any(len(b.idx) and not compare_block(ctx, b).passed for b in ctx.blocks):
        ctx.notes.append("random directions saw more round-off than a float32 backward pass usually carries, "
                         "and no element was found out of its tolerance; the stated resolution allows for "
                         "the dtype's full round-off")


def localize(ctx: Context, st: Stepping, global_failed: bool) -> bool:
    """Per block, then per element (small blocks) or by bisection (large ones).

    If no block fails on its own, every block is examined; if still no
    element is found, the global test is repeated: a failure that persists
    fails the check as "not localized" (returns True) rather than passing it.
    """
    flagged = [b for b in ctx.blocks if _block_directions(ctx, st, b)]
    exhaustive = global_failed and not any(b.failed_directional for b in flagged)
    if exhaustive:
        flagged = list(ctx.blocks)  # the error did not show per block: look at everything
    for b in flagged:
        if b.failed_directional or exhaustive:
            if b.leaf.size <= MAX_FULL_BLOCK:
                check_elements(ctx, st, b, np.arange(b.leaf.size), "all elements")
            else:
                bisect(ctx, st, b)
        else:
            examine_kinked_block(ctx, st, b)
    if not global_failed or any(b.failed_directional for b in ctx.blocks) \
            or any(not compare_block(ctx, b).passed for b in ctx.blocks if len(b.idx)):
        return False
    unlocalized = False
    for _ in range(2):
        d = directional_test(ctx, st, random_direction(ctx, ctx.blocks), ctx.blocks, "a random direction")
        if not d.passed and not d.kink:
            unlocalized = True
    if not unlocalized:
        ctx.notes.append("one random-direction test failed but no element or block confirmed it on "
                         "re-testing; treated as a finite-difference fluke")
    return unlocalized


def _block_directions(ctx: Context, st: Stepping, b: Block) -> bool:
    """Two directions in b alone; True when one fails or meets a kink (b needs a closer look)."""
    fails = kinks = 0
    for _ in range(2):
        u = random_direction(ctx, [b])
        d = directional_test(ctx, st, u, [b], f"a random direction in {b.leaf.path}")
        if d.kink:
            # several kinks along one direction: valid subgradients need not lie between
            # the one-sided slopes, so the direction is inconclusive, never a failure
            kinks += 1
            continue
        b.directional.add(u[b.leaf.slice], float(d.estimate.value), d.tolerance)
        fails += not d.passed
    b.failed_directional = bool(fails)
    return bool(fails or kinks)


def bisect(ctx: Context, st: Stepping, b: Block, *, sharp: bool = False) -> None:
    """Group testing: halve failing index sets; O(log n) directional checks per wrong element.

    ``sharp``: a part is suspect when it fails the sharp tier (hunt_below_floor).
    """
    found = 0
    queue = [np.arange(b.leaf.size)]
    checked_any = False
    while queue and found < MAX_FOUND:
        S = queue.pop(0)
        if len(S) <= 8:
            check_elements(ctx, st, b, S, "localized")
            checked_any = True
            found += int(np.sum(elements_bad(ctx, b, S)))
            continue
        halves = np.array_split(S, 2)
        # the parent failed; if neither half does, try once more with fresh directions
        bad = _suspect_parts(ctx, st, b, halves, sharp) or _suspect_parts(ctx, st, b, halves, sharp)
        queue.extend(bad)
        if len(queue) > 16 and sharp:
            return      # spread over the block: round-off, not a few wrong elements
        if len(queue) > 16:
            ctx.notes.append(f"{b.leaf.path}: errors are widespread; {SAMPLE} random elements were checked one by one")
            check_elements(ctx, st, b, ctx.rng.choice(b.leaf.size, SAMPLE, replace=False), "sampled")
            return
    if not checked_any and not sharp:
        check_elements(ctx, st, b, ctx.rng.choice(b.leaf.size, min(SAMPLE, b.leaf.size), replace=False), "sampled")
    elif checked_any:
        b.checked = "localized"


def _suspect_parts(ctx: Context, st: Stepping, b: Block, parts, sharp: bool = False) -> list:
    """The index sets of b whose own random direction fails (or meets a kink)."""
    out = []
    for part in parts:
        u = random_direction(ctx, [b], subset=part)
        d = directional_test(ctx, st, u, [b], f"a random direction in part of {b.leaf.path}")
        if not (d.sharp_passed if sharp else d.passed) or d.kink:
            out.append(part)
    return out
