"""mode='auto': the full check wherever it is cheap enough, the fast check beyond.

The full check costs about EVALS_PER_ELEMENT evaluations of f per parameter
element; the fast one a fixed number whatever the size. The cost of one f
call is measured on the check's first calls, so the choice follows what f
really costs here: a small or cheap problem gets every element compared, a
million-parameter network gets random directions (with their stated
resolution).
"""
from __future__ import annotations

from typing import NamedTuple

EVALS_PER_ELEMENT = 6      # fd.central: six evaluations per element
NOISE_EVALS = 8            # fd.estimate_noise
EVALS_PER_DIRECTION = 12   # fd.derivative: six, and six more where it refines
BUDGET_SECONDS = 1.0       # the full check runs if it fits in this ...
BUDGET_FAST_MULTIPLE = 10  # ... or in this many times the fast check, whichever is larger


class ModeChoice(NamedTuple):
    mode: str        # "fast" or "full"
    reason: str      # one sentence for CheckReport.mode_reason


def choose_mode(n_elements: int, seconds_per_call: float, directions: int) -> ModeChoice:
    """Full when n_elements * EVALS_PER_ELEMENT calls fit the budget, else fast."""
    full_evals = n_elements * EVALS_PER_ELEMENT
    fast_evals = NOISE_EVALS + EVALS_PER_DIRECTION * directions
    budget = max(BUDGET_SECONDS, BUDGET_FAST_MULTIPLE * fast_evals * seconds_per_call)
    cost = full_evals * seconds_per_call
    estimate = (f"{n_elements} element(s) x {EVALS_PER_ELEMENT} evaluations x {_seconds(seconds_per_call)} "
                f"per call of f = about {_seconds(cost)}")
    if cost <= budget:
        return ModeChoice("full", f"mode='auto' compared every element: {estimate}, within the "
                                  f"{_seconds(budget)} budget")
    return ModeChoice("fast", f"mode='auto' tested random directions: comparing every element would take "
                              f"{estimate}, over the {_seconds(budget)} budget (mode='full' forces it)")


def _seconds(s: float) -> str:
    if s >= 1:
        return f"{s:.3g} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} µs"
