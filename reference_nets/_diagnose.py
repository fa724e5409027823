"""Match a wrong gradient to the catalog entries that produce it."""
from __future__ import annotations

import numpy as np

from ._matrix import backprop
from ._spec import NetSpec
from .catalog import CATALOG


def _close(a, b, rtol) -> bool:
    """Same shape and ‖a - b‖ ≤ rtol·max(‖a‖, ‖b‖) (two zero arrays are close)."""
    return a.shape == b.shape and np.linalg.norm(a - b) <= rtol * max(np.linalg.norm(a), np.linalg.norm(b))


def diagnose(spec: NetSpec, params: dict, x, t, grads: dict, *, rtol: float = 1e-3) -> dict:
    """Which catalog mistakes explain ``grads``, per parameter key.

    Returns {key: [bug names]} for the keys whose gradient is WRONG only; keys whose gradient
    is correct (within rtol) are omitted, so correct gradients give {}.  A wrong key maps to
    every catalog entry whose buggy backprop reproduces it (several are possible, e.g.
    "missing_half" and "batch_sum_instead_of_mean" with a batch of 2), or to [] when none does.
    An entry that leaves a key unchanged for this spec and data is never named for it.
    """
    correct = backprop(spec, params, x, t).grads
    missing = [k for k in correct if k not in grads]
    if missing:
        raise ValueError(f"grads lacks {missing}; it needs the keys {sorted(correct)}")
    buggy = {name: backprop(spec, params, x, t, bug=name).grads
             for name, b in CATALOG.items() if "backprop" in b.functions}
    report = {}
    for key, ref in correct.items():
        g = np.asarray(grads[key], dtype=float)
        if _close(g, ref, rtol):
            continue
        names = [name for name, bg in buggy.items()
                 if not _close(bg[key], ref, rtol) and _close(g, bg[key], rtol)]
        if key.startswith("W") and g.shape != ref.shape and _close(g.T, ref, rtol):
            names.append("weight_grad_transposed")  # a non-square W: the transpose shows in the shape
        report[key] = names
    return report
