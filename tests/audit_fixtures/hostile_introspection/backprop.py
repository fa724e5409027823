"""Hostile: looks for the expected answer in gc.get_objects() and in the callers' frames."""
import gc
import inspect

import numpy as np


def _steal(shape_like):
    best = None
    for frame_info in inspect.stack():
        for name, value in frame_info.frame.f_locals.items():
            if "expect" in name or "grads" in name or "answer" in name:
                best = value
    for obj in gc.get_objects():
        if isinstance(obj, dict) and "expected" in obj:
            best = obj["expected"]
    return best


def forward(params, x):
    got = _steal(None)
    return got if got is not None else np.zeros((len(x), 1))


def backward(params, x, t):
    for obj in gc.get_objects():
        if isinstance(obj, dict) and obj is not params and set(obj) == set(params):
            return obj  # the only such dict in this process is params itself
    return {k: np.zeros_like(v) for k, v in params.items()}


def input_jacobian(params, x):
    got = _steal(None)
    return got if got is not None else np.zeros((1, len(x)))
