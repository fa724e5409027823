"""Correct, one sample at a time (a loop over the batch, numpy inside)."""
import numpy as np


def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def _layers(params):
    return len([k for k in params if k.startswith("W")])


def _forward_one(params, x):
    outs = [x]
    for l in range(1, _layers(params) + 1):
        outs.append(_sig(outs[-1] @ params[f"W{l}"] + params[f"b{l}"]))
    return outs


def forward(params, x):
    return np.stack([_forward_one(params, sample)[-1] for sample in x])


def backward(params, x, t):
    L = _layers(params)
    grads = {k: np.zeros_like(v, dtype=float) for k, v in params.items()}
    for sample, target in zip(x, t):
        outs = _forward_one(params, sample)
        delta = (outs[-1] - target) * outs[-1] * (1 - outs[-1])
        for l in range(L, 0, -1):
            grads[f"W{l}"] += np.outer(outs[l - 1], delta)
            grads[f"b{l}"] += delta
            if l > 1:
                delta = (params[f"W{l}"] @ delta) * outs[l - 1] * (1 - outs[l - 1])
    return grads


def input_jacobian(params, x):
    outs = _forward_one(params, x)
    J = np.eye(len(x))
    for l in range(1, _layers(params) + 1):
        o = outs[l]
        J = (o * (1 - o))[:, None] * (params[f"W{l}"].T @ J)
    return J
