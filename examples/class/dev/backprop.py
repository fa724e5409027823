"""Bug: forgot the hidden layers' derivative (no_hidden_derivative)."""
import numpy as np


def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def _layers(params):
    return len([k for k in params if k.startswith("W")])


def forward(params, x):
    o = x
    for l in range(1, _layers(params) + 1):
        o = _sig(o @ params[f"W{l}"] + params[f"b{l}"])
    return o


def backward(params, x, t):
    L = _layers(params)
    outs = [x]
    for l in range(1, L + 1):
        outs.append(_sig(outs[-1] @ params[f"W{l}"] + params[f"b{l}"]))
    delta = (outs[-1] - t) * outs[-1] * (1 - outs[-1])
    grads = {}
    for l in range(L, 0, -1):
        grads[f"W{l}"] = outs[l - 1].T @ delta
        grads[f"b{l}"] = delta.sum(axis=0)
        if l > 1:
            delta = delta @ params[f"W{l}"].T
    return grads


def input_jacobian(params, x):
    L = _layers(params)
    o = x
    J = np.eye(len(x))
    for l in range(1, L + 1):
        o = _sig(o @ params[f"W{l}"] + params[f"b{l}"])
        J = (o * (1 - o))[:, None] * (params[f"W{l}"].T @ J)
    return J
