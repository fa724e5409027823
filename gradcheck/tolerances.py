"""The one place where tolerance floors live.

A correct gradient computed in a given dtype still carries that dtype's
round-off, so the floor depends on the dtype of the *user's* gradient; the
oracle's own uncertainty is added separately, from its error estimate.
``atol_frac`` is relative to the largest magnitude in the same parameter
block, so that cancellation inside one element does not false-fail while an
error on a small element of a large block is still seen.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Floor:
    rtol: float
    atol_frac: float


_FLOORS = {
    8: Floor(rtol=1e-10, atol_frac=1e-12),  # float64: round-off of a backward pass is ~1e-14
    4: Floor(rtol=1e-3, atol_frac=1e-4),    # float32: round-off of a whole backward pass
    2: Floor(rtol=2e-2, atol_frac=5e-3),    # float16 / bfloat16
}


def floor_for(dtype) -> Floor:
    """Default (rtol, atol_frac) for a gradient delivered in ``dtype``."""
    dtype = np.dtype(dtype) if not _is_bfloat16(dtype) else None
    if dtype is None:
        return _FLOORS[2]
    if dtype.kind != "f":
        return _FLOORS[8]
    return _FLOORS.get(min(dtype.itemsize, 8), _FLOORS[8])


def _is_bfloat16(dtype) -> bool:
    return "bfloat16" in str(dtype)


def resolve(dtype, rtol: float | None, atol: float | None, scale: float) -> tuple[float, float]:
    """(rtol, atol) for one block: the user's overrides win, otherwise the dtype floor.

    ``scale`` is the block's largest magnitude; a user ``atol`` is absolute.
    """
    floor = floor_for(dtype)
    r = floor.rtol if rtol is None else float(rtol)
    a = floor.atol_frac * scale if atol is None else float(atol)
    return r, a
