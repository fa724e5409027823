"""Element-wise comparison of an actual array with an expected one.

Used wherever the expected value of every element is known (full mode, the
elements found by localization, the auditor's exact reference).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradcheck import tolerances


@dataclass
class Comparison:
    passed: bool
    n_mismatch: int
    n_total: int
    max_abs: float
    max_rel: float
    worst_index: tuple
    worst_actual: float
    worst_expected: float
    rtol: float
    atol: float
    mismatch_mask: np.ndarray | None = None


def subgradient_target(actual, expected, error, kink, lo, hi):
    """(expected, error) with kinks resolved: any value between the one-sided slopes is valid.

    Where an element is at a kink, yours is compared with the nearest point of
    [lo, hi] (itself when inside) and the oracle's error bar no longer applies.
    """
    inside = kink & (actual >= lo) & (actual <= hi)
    target = np.where(inside, actual, np.where(kink, np.clip(actual, lo, hi), expected))
    return target, np.where(kink, 0.0, error)


def compare_arrays(actual, expected, *, rtol=None, atol=None, error_estimate=0.0, dtype=None,
                   global_scale=0.0) -> Comparison:
    """Compare like numpy.testing.assert_allclose, with an oracle error term.

    An element passes when |actual - expected| <= atol + rtol*|expected| + error_estimate.
    Tolerances default from ``dtype`` (or actual's dtype); ``global_scale``, the
    largest magnitude among all the arrays checked together, sets the dtype's
    absolute floor for saturated (tiny) arrays (see tolerances.resolve). NaN or
    inf in actual where expected is finite always mismatches.
    """
    dtype = dtype if dtype is not None else getattr(actual, "dtype", np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        raise ValueError(f"shapes differ: actual {actual.shape} vs expected {expected.shape}")
    finite_exp = expected[np.isfinite(expected)]
    scale = float(np.max(np.abs(finite_exp))) if finite_exp.size else 0.0
    r, a = tolerances.resolve(dtype, rtol, atol, scale, global_scale)
    err = np.broadcast_to(np.asarray(error_estimate, dtype=np.float64), expected.shape)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(actual - expected)
        bound = a + r * np.abs(expected) + err
        bad = ~(diff <= bound)
        both_inf_same = np.isinf(actual) & (actual == expected)
        bad &= ~both_inf_same
        rel = diff / np.where(np.abs(expected) > 0, np.abs(expected), np.inf)
    n_bad = int(bad.sum())
    if actual.size == 0:
        return Comparison(True, 0, 0, 0.0, 0.0, (), float("nan"), float("nan"), r, a, bad)
    # the worst element: the largest difference among the mismatches (non-finite first)
    score = np.where(np.isfinite(diff), diff, np.inf)
    if n_bad:
        score = np.where(bad, score, -1.0)
    flat = int(np.argmax(score))
    idx = np.unravel_index(flat, actual.shape) if actual.ndim else ()
    finite = np.isfinite(diff)
    max_abs = float(diff[finite].max()) if finite.any() else float("inf")
    if not finite.all():
        max_abs = float("inf")
    rel_f = rel[np.isfinite(rel)]
    max_rel = float(rel_f.max()) if rel_f.size else (0.0 if max_abs == 0 else float("inf"))
    if not finite.all():
        max_rel = float("inf")
    return Comparison(
        passed=n_bad == 0,
        n_mismatch=n_bad,
        n_total=int(actual.size),
        max_abs=max_abs,
        max_rel=max_rel,
        worst_index=tuple(int(i) for i in idx),
        worst_actual=float(actual[idx]),
        worst_expected=float(expected[idx]),
        rtol=r,
        atol=a,
        mismatch_mask=bad,
    )
