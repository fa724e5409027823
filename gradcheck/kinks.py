"""Blocks whose random directions cross kinks (ReLU, max, abs): examined element by element.

A directional derivative across a kink is not a number to compare with, so
such a direction is inconclusive, never a failure. The block is then checked
through its elements: all of them when it is small, a random sample otherwise
(the note says so, and mode='full' checks all).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from gradcheck.context import Block, Context, Stepping
from gradcheck.elements import check_elements
from gradcheck.ties import check_ties

MAX_KINK_BLOCK = 64       # blocks with kinks but no failure: every element up to this size, else a sample
SAMPLE = 32               # random elements checked in a large block


def examine_kinked_block(ctx: Context, st: Stepping, b: Block) -> None:
    """A block whose own directions met kinks but did not fail: check its elements."""
    if b.leaf.size <= MAX_KINK_BLOCK:
        check_elements(ctx, st, b, np.arange(b.leaf.size), "all elements")
        check_ties(ctx, st, b)
        return
    check_elements(ctx, st, b, ctx.rng.choice(b.leaf.size, SAMPLE, replace=False), "sampled")
    check_ties(ctx, st, b)
    ctx.notes.append(f"{b.leaf.path}: random directions cross kinks (not differentiable there), so "
                     f"{SAMPLE} random elements were checked one by one; mode='full' checks all of them")


def kink_free_stepping(st: Stepping, est) -> Stepping:
    """The stepping for the next random direction, after one that had to come closer.

    Where a direction crossed kinks, fd.derivative halved the step until it was
    clean; the next direction meets kinks about as densely, so it starts at twice
    that step (one halving from where the last one ended) instead of from the top.
    """
    if est.step >= st.t / 4:
        return st
    return replace(st, t=2.0 * est.step)
