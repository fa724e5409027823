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
    4: Floor(rtol=3e-4, atol_frac=3e-5),    # float32: round-off of a whole backward pass
    2: Floor(rtol=2e-2, atol_frac=5e-3),    # float16 / bfloat16
}


FLOOR_SIGMAS = 3.0        # directional floor: 3 standard deviations of the dtype's round-off

# Fast mode's first, sharp tier for float32/16 gradients given as arrays: the round-off a
# backward pass in that dtype usually carries (over random float32 MLPs, the relative error
# of <g, u> was 3e-8 to 5e-6, against 3e-4 for the blanket floor above). Exceeding it is
# never a failure by itself: it sends fast mode looking for wrong elements, which fail only
# by their own comparison at the dtype's floor (see fast.hunt_below_floor).
_SHARP_FLOORS = {4: Floor(rtol=3e-6, atol_frac=3e-7), 2: Floor(rtol=2e-4, atol_frac=5e-5)}


def sharp_floor(dtype) -> Floor | None:
    """The sharp tier's floor for a narrow dtype (None for float64: its floor is sharp already)."""
    if _is_bfloat16(dtype):
        return _SHARP_FLOORS[2]
    dtype = np.dtype(dtype)
    return _SHARP_FLOORS.get(dtype.itemsize) if dtype.kind == "f" and dtype.itemsize < 8 else None


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


def is_float(dtype) -> bool:
    """A real floating dtype: numpy's float16/32/64, or bfloat16 (ml_dtypes, as JAX and torch give it)."""
    return _is_bfloat16(dtype) or np.dtype(dtype).kind == "f"


def is_real_numeric(dtype) -> bool:
    """Integers or real floats (bfloat16 included): what gradcheck can differentiate and compare; not bool,
    complex or object."""
    return is_float(dtype) or np.dtype(dtype).kind in "iu"


def float_or_float64(dtype):
    """The dtype itself if it is floating, else float64 (integers are checked as float64)."""
    return dtype if is_float(dtype) else np.dtype(np.float64)


BFLOAT16_EPS = 2.0 ** -7


def eps_of(dtype) -> float:
    """Machine epsilon of a floating dtype (bfloat16 included); float64's for anything else."""
    if _is_bfloat16(dtype):
        return BFLOAT16_EPS
    return float(np.finfo(float_or_float64(dtype)).eps)


AUTODIFF_ERROR = 1e3 * float(np.finfo(np.float64).eps)  # JAX's float64 gradient: error bar per unit magnitude


def autodiff_error(expected: np.ndarray) -> np.ndarray:
    """The error bar of a float64 autodiff result, per element: AUTODIFF_ERROR of the element and of the largest
    (where terms cancel it can be far more: autodiff_oracle measures it where that matters)."""
    return AUTODIFF_ERROR * (np.abs(expected) + float(np.max(np.abs(expected), initial=0.0)))


def resolve(dtype, rtol: float | None, atol: float | None, scale: float,
            global_scale: float = 0.0, *, sharp: bool = False) -> tuple[float, float]:
    """(rtol, atol) for one block: the user's overrides win, otherwise the dtype floor.

    ``scale`` is the block's largest magnitude. ``global_scale``, the largest
    magnitude over all parameters, sets a second absolute floor of 100 eps of the
    dtype: a block whose units are saturated is tiny, but a float32 computation
    still carries round-off the size of the unsaturated terms (1 - tanh(v)^2
    loses its digits), so its relative error can reach percents. A user ``atol`` is absolute.
    ``sharp``: fast mode's first tier for a narrow dtype (sharp_floor), where the user set neither.
    """
    floor = (sharp and rtol is None and atol is None and sharp_floor(dtype)) or floor_for(dtype)
    r = floor.rtol if rtol is None else float(rtol)
    if atol is not None:
        return r, float(atol)
    return r, scaled_atol(floor.atol_frac, dtype, scale, global_scale)


def scaled_atol(frac: float, dtype, scale: float, global_scale: float) -> float:
    """frac of the block's largest magnitude, and 100 eps of the largest anywhere (a block of saturated units
    next to large ones), but at most frac of that too: 100 eps of float16 would be 10 %."""
    return max(frac * scale, min(100 * eps_of(dtype), frac) * global_scale)


def finite_scale(values: np.ndarray) -> float:
    """The largest finite magnitude in values (0 for none): the scale tolerances are relative to."""
    values = np.asarray(values)
    return float(np.max(np.abs(values[np.isfinite(values)]), initial=0.0))
