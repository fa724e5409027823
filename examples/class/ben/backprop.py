"""Correct, one neuron at a time in plain Python (no numpy in the arithmetic)."""
import math


def _sig(z):
    return 1.0 / (1.0 + math.exp(-z))


def _forward_one(params, x):
    L = sum(1 for k in params if k.startswith("W"))
    outs = [list(x)]
    for l in range(1, L + 1):
        W, b = params["W%d" % l], params["b%d" % l]
        n_in, n_out = len(W), len(W[0])
        layer = []
        for j in range(n_out):
            z = b[j]
            for i in range(n_in):
                z += outs[-1][i] * W[i][j]
            layer.append(_sig(z))
        outs.append(layer)
    return outs


def forward(params, x):
    return [_forward_one(params, row)[-1] for row in x]


def backward(params, x, t):
    L = sum(1 for k in params if k.startswith("W"))
    grads = {}
    for l in range(1, L + 1):
        W = params["W%d" % l]
        grads["W%d" % l] = [[0.0] * len(W[0]) for _ in range(len(W))]
        grads["b%d" % l] = [0.0] * len(W[0])
    for n in range(len(x)):
        outs = _forward_one(params, x[n])
        delta = [(outs[L][k] - t[n][k]) * outs[L][k] * (1 - outs[L][k]) for k in range(len(outs[L]))]
        for l in range(L, 0, -1):
            W = params["W%d" % l]
            for i in range(len(W)):
                for j in range(len(W[0])):
                    grads["W%d" % l][i][j] += outs[l - 1][i] * delta[j]
            for j in range(len(W[0])):
                grads["b%d" % l][j] += delta[j]
            if l > 1:
                delta = [outs[l - 1][i] * (1 - outs[l - 1][i]) * sum(W[i][j] * delta[j] for j in range(len(W[0])))
                         for i in range(len(W))]
    return grads


def input_jacobian(params, x):
    L = sum(1 for k in params if k.startswith("W"))
    outs = _forward_one(params, x)
    n0, nL = len(x), len(outs[L])
    J = []
    for k in range(nL):
        # propagate d y_k back to the input, one neuron at a time
        g = [outs[L][j] * (1 - outs[L][j]) if j == k else 0.0 for j in range(nL)]
        for l in range(L, 0, -1):
            W = params["W%d" % l]
            back = [sum(W[i][j] * g[j] for j in range(len(W[0]))) for i in range(len(W))]
            g = [back[i] * outs[l - 1][i] * (1 - outs[l - 1][i]) for i in range(len(W))] if l > 1 else back
        J.append(g)
    return J
