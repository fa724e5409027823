"""Hostile: return values whose __reduce__ / __array__ / __float__ run code, wherever they are handled.

Every method records the pid it ran in; the grader's pid must never appear.  Records go to the
child's TMPDIR and, only where the test set GRADCHECK_FIXTURE_LOG (a file in its tmp_path, seen
only if this code ever ran in the grader's own process), there too.
"""
import os

import numpy as np

LOG = os.path.join(os.environ.get("TMPDIR", "/tmp"), "evil-calls.txt")
GLOBAL_LOG = os.environ.get("GRADCHECK_FIXTURE_LOG")


def _record(what):
    for path in (LOG, GLOBAL_LOG) if GLOBAL_LOG else (LOG,):
        try:
            with open(path, "a") as f:
                f.write(f"{what} {os.getpid()}\n")
        except OSError:
            pass


class Evil:
    def __init__(self, shape):
        self.shape = shape

    def __reduce__(self):
        _record("reduce")
        return (os.system, ('test -n "$GRADCHECK_FIXTURE_PWNED" && touch "$GRADCHECK_FIXTURE_PWNED"',))

    def __array__(self, dtype=None, copy=None):
        _record("array")
        return np.full(self.shape, 0.25)

    def __float__(self):
        _record("float")
        return 0.25

    def __len__(self):
        return self.shape[0]


class EvilDict(dict):
    def __getitem__(self, key):
        _record("getitem")
        return Evil((1,))


def forward(params, x):
    return Evil((len(x), 1))


def backward(params, x, t):
    return EvilDict({k: None for k in params})


def input_jacobian(params, x):
    return [Evil((1,)), Evil((1,))]
