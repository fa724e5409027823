"""Hostile: object-dtype arrays (a pickle waiting to happen).

Unpickled in the grader, the payload would touch the file the test named in GRADCHECK_FIXTURE_PWNED
(inside its tmp_path); nowhere else."""
import numpy as np


class Payload:
    def __reduce__(self):
        import os
        return (os.system, ('test -n "$GRADCHECK_FIXTURE_PWNED" && touch "$GRADCHECK_FIXTURE_PWNED"',))


def forward(params, x):
    a = np.empty((len(x), 1), dtype=object)
    a[...] = Payload()
    return a


def backward(params, x, t):
    return {k: np.array([Payload()] * v.size, dtype=object).reshape(v.shape) for k, v in params.items()}


def input_jacobian(params, x):
    return np.array([[1, "a"]], dtype=object)
