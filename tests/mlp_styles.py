"""Hand-written MLP backprop the way people really write it, for the tests.

Three styles of the same network (z = x·W + b, activation per hidden layer,
logistic output, E = ½ Σ (y − t)²): matrix form, layer-by-layer
backward(dout, cache), and per-sample loops with column vectors. Each has
optional bugs, so the tests can inject the classic mistakes.
"""
from __future__ import annotations

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


ACT = {
    "logistic": (sigmoid, lambda z, a: a * (1 - a)),
    "tanh": (np.tanh, lambda z, a: 1 - a * a),
    "relu": (lambda z: np.maximum(z, 0), lambda z, a: (z > 0).astype(z.dtype)),
}


def make_net(sizes, *, batch=4, seed=0, dtype=np.float64, scale=1.0):
    rng = np.random.default_rng(seed)
    params = {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]), 1):
        params[f"W{i}"] = (scale * rng.standard_normal((a, b)) / np.sqrt(a)).astype(dtype)
        params[f"b{i}"] = (0.1 * rng.standard_normal(b)).astype(dtype)
    x = rng.standard_normal((batch, sizes[0])).astype(dtype)
    t = rng.uniform(0.1, 0.9, (batch, sizes[-1])).astype(dtype)
    return params, x, t


def n_layers(params):
    return len([k for k in params if k.startswith("W")])


def loss(params, x, t, act="logistic"):
    h = x
    L = n_layers(params)
    for i in range(1, L + 1):
        z = h @ params[f"W{i}"] + params[f"b{i}"]
        h = ACT[act][0](z) if i < L else sigmoid(z)
    return 0.5 * np.sum((h - t) ** 2)


def backward_matrix(params, x, t, act="logistic"):
    L = n_layers(params)
    hs, zs = [x], []
    for i in range(1, L + 1):
        z = hs[-1] @ params[f"W{i}"] + params[f"b{i}"]
        zs.append(z)
        hs.append(ACT[act][0](z) if i < L else sigmoid(z))
    y = hs[-1]
    d = (y - t) * y * (1 - y)
    g = {}
    for i in range(L, 0, -1):
        g[f"W{i}"] = hs[i - 1].T @ d
        g[f"b{i}"] = d.sum(axis=0)
        if i > 1:
            d = (d @ params[f"W{i}"].T) * ACT[act][1](zs[i - 2], hs[i - 1])
    return g


# -- layer-by-layer, as in course homework ------------------------------------------
def affine_forward(x, w, b):
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def sigmoid_forward(z):
    a = sigmoid(z)
    return a, a


def sigmoid_backward(dout, cache):
    a = cache
    return dout * a * (1 - a)


def backward_layers(params, x, t):
    L = n_layers(params)
    caches = []
    h = x
    for i in range(1, L + 1):
        z, c1 = affine_forward(h, params[f"W{i}"], params[f"b{i}"])
        h, c2 = sigmoid_forward(z)
        caches.append((c1, c2))
    dout = h - t
    g = {}
    for i in range(L, 0, -1):
        c1, c2 = caches[i - 1]
        dz = sigmoid_backward(dout, c2)
        dout, g[f"W{i}"], g[f"b{i}"] = affine_backward(dz, c1)
    return g


def loss_all_logistic(params, x, t):
    h = x
    for i in range(1, n_layers(params) + 1):
        h = sigmoid(h @ params[f"W{i}"] + params[f"b{i}"])
    return 0.5 * np.sum((h - t) ** 2)


# -- per-sample loops with column vectors (z = Wᵀ x as columns), accumulating in place ----------
def backward_per_sample(params, x, t):
    L = n_layers(params)
    g = {k: np.zeros_like(v) for k, v in params.items()}
    for n in range(x.shape[0]):
        a = [x[n].reshape(-1, 1)]
        for i in range(1, L + 1):
            z = params[f"W{i}"].T @ a[-1] + params[f"b{i}"].reshape(-1, 1)
            a.append(sigmoid(z))
        d = (a[-1] - t[n].reshape(-1, 1)) * a[-1] * (1 - a[-1])
        for i in range(L, 0, -1):
            g[f"W{i}"] += a[i - 1] @ d.T
            g[f"b{i}"] += d.ravel()
            if i > 1:
                d = (params[f"W{i}"] @ d) * a[i - 1] * (1 - a[i - 1])
    return g
