"""Hostile: object-dtype arrays (a pickle waiting to happen)."""
import numpy as np


class Payload:
    def __reduce__(self):
        import os
        return (os.system, ("touch /tmp/gradcheck-fixture-pwned",))


def forward(params, x):
    a = np.empty((len(x), 1), dtype=object)
    a[...] = Payload()
    return a


def backward(params, x, t):
    return {k: np.array([Payload()] * v.size, dtype=object).reshape(v.shape) for k, v in params.items()}


def input_jacobian(params, x):
    return np.array([[1, "a"]], dtype=object)
