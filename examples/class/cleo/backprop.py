"""Correct, computed in float32 throughout."""
import numpy as np

f32 = np.float32


def _sig(z):
    return (f32(1) / (f32(1) + np.exp(-z))).astype(f32)


def forward(params, x):
    o = np.asarray(x, dtype=f32)
    L = len([k for k in params if k.startswith("W")])
    for l in range(1, L + 1):
        o = _sig(o @ params[f"W{l}"].astype(f32) + params[f"b{l}"].astype(f32))
    return o


def backward(params, x, t):
    p = {k: v.astype(f32) for k, v in params.items()}
    L = len([k for k in p if k.startswith("W")])
    outs = [np.asarray(x, dtype=f32)]
    for l in range(1, L + 1):
        outs.append(_sig(outs[-1] @ p[f"W{l}"] + p[f"b{l}"]))
    delta = (outs[-1] - t.astype(f32)) * outs[-1] * (f32(1) - outs[-1])
    grads = {}
    for l in range(L, 0, -1):
        grads[f"W{l}"] = outs[l - 1].T @ delta
        grads[f"b{l}"] = delta.sum(axis=0)
        if l > 1:
            delta = (delta @ p[f"W{l}"].T) * outs[l - 1] * (f32(1) - outs[l - 1])
    return grads


def input_jacobian(params, x):
    p = {k: v.astype(f32) for k, v in params.items()}
    L = len([k for k in p if k.startswith("W")])
    o = np.asarray(x, dtype=f32)
    J = np.eye(len(x), dtype=f32)
    for l in range(1, L + 1):
        o = _sig(o @ p[f"W{l}"] + p[f"b{l}"])
        J = (o * (f32(1) - o))[:, None] * (p[f"W{l}"].T @ J)
    return J
