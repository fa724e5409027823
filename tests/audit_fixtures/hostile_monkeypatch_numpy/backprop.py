"""Hostile: makes every numpy comparison pass, then returns zeros."""
import numpy as np
import numpy.testing

np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), dtype=bool)
np.array_equal = lambda *a, **k: True
numpy.testing.assert_allclose = lambda *a, **k: None
numpy.testing.assert_array_almost_equal = lambda *a, **k: None


def forward(params, x):
    return np.zeros((len(x), 1))


def backward(params, x, t):
    return {k: np.zeros_like(v) for k, v in params.items()}


def input_jacobian(params, x):
    return np.zeros((1, len(x)))
