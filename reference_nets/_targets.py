"""Target functions E(y, t) (Yoshida section 1: E is any function of the outputs).

Each target is a sum over samples n and outputs k.  ``error`` gives e = ∂E/∂y elementwise,
which is all backprop needs from the target (Yoshida section 4: only δ_out changes).
"""
from __future__ import annotations

import numpy as np

#: name -> one-line meaning
TARGET_MEANINGS = {
    "half_sse": "E = 1/2 Σ_n Σ_k (y - t)^2  (the slides' ε, Yoshida's E_sq)",
    "mse": "E = 1/N Σ_n Σ_k (y - t)^2  (Patel's L, N = number of samples)",
    "cross_entropy": "E = -Σ_n Σ_k t log y + (1 - t) log(1 - y)  (binary, summed; Yoshida section 5.1)",
    "entropy": "E = H = -Σ_n Σ_k y log y + (1 - y) log(1 - y)  (Yoshida section 5.2; t unused)",
    "output": "E = Σ_n Σ_k y  (Yoshida section 5.3: the output itself; t unused)",
}
TARGETS = tuple(TARGET_MEANINGS)

#: targets that need outputs in (0, 1), hence a logistic output layer
NEEDS_LOGISTIC_OUTPUT = ("cross_entropy", "entropy")
#: targets that ignore t
NO_TEACHER = ("entropy", "output")
#: targets averaged over the batch (the others are summed)
BATCH_MEAN = ("mse",)


def value(target: str, y, t) -> float:
    """E for outputs y (batch, nL) and teacher t of the same shape."""
    n = y.shape[0]
    if target == "half_sse":
        return float(0.5 * np.sum((y - t) ** 2))
    if target == "mse":
        return float(np.sum((y - t) ** 2) / n)
    if target == "cross_entropy":
        return float(-np.sum(t * np.log(y) + (1 - t) * np.log(1 - y)))
    if target == "entropy":
        return float(-np.sum(y * np.log(y) + (1 - y) * np.log(1 - y)))
    if target == "output":
        return float(np.sum(y))
    raise ValueError(f"unknown target {target!r}; allowed: {', '.join(TARGETS)}")


def error(target: str, y, t, n: int):
    """e = ∂E/∂y, elementwise; works on arrays and on single floats (n = batch size)."""
    if target == "half_sse":
        return y - t
    if target == "mse":
        return 2.0 * (y - t) / n
    if target == "cross_entropy":
        return (y - t) / (y * (1 - y))
    if target == "entropy":
        return np.log(1 - y) - np.log(y)
    if target == "output":
        return np.ones_like(y) if isinstance(y, np.ndarray) else 1.0
    raise ValueError(f"unknown target {target!r}; allowed: {', '.join(TARGETS)}")
