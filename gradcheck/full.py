"""Full mode: every element of every block by coordinate finite differences."""
from __future__ import annotations

import numpy as np

from gradcheck.context import Context, Stepping
from gradcheck.elements import check_elements
from gradcheck.ties import check_ties


def full_check(ctx: Context, st: Stepping) -> None:
    """Check every element; the verdict is then read from the blocks' evidence."""
    for b in ctx.blocks:
        check_elements(ctx, st, b, np.arange(b.leaf.size), "all elements")
        check_ties(ctx, st, b)
