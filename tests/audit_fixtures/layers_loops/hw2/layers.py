"""Correct, written with explicit loops; p of dropout is the DROP probability (the other convention)."""
import math

import numpy as np


def affine_forward(x, w, b):
    N = x.shape[0]
    xf = x.reshape(N, -1)
    D, M = w.shape
    out = np.zeros((N, M))
    for n in range(N):
        for m in range(M):
            s = b[m]
            for d in range(D):
                s += xf[n, d] * w[d, m]
            out[n, m] = s
    return out, {"x": x, "w": w}


def affine_backward(dout, cache):
    x, w = cache["x"], cache["w"]
    N = x.shape[0]
    xf = x.reshape(N, -1)
    D, M = w.shape
    dxf, dw, db = np.zeros((N, D)), np.zeros((D, M)), np.zeros(M)
    for n in range(N):
        for m in range(M):
            db[m] += dout[n, m]
            for d in range(D):
                dxf[n, d] += dout[n, m] * w[d, m]
                dw[d, m] += xf[n, d] * dout[n, m]
    return dxf.reshape(x.shape), dw, db


def relu_forward(x):
    out = x.copy()
    flat = out.reshape(-1)
    for i in range(flat.size):
        if flat[i] < 0:
            flat[i] = 0.0
    return out, x


def relu_backward(dout, x):
    dx = np.zeros_like(dout)
    for idx in np.ndindex(*x.shape):
        dx[idx] = dout[idx] if x[idx] > 0 else 0.0
    return dx


def _norm_columns(cols, gamma, beta, eps):
    """Normalize each list in cols; returns outputs and what backward needs."""
    outs, saved = [], []
    for j, col in enumerate(cols):
        n = len(col)
        mu = sum(col) / n
        var = sum((v - mu) ** 2 for v in col) / n
        std = math.sqrt(var + eps)
        xhat = [(v - mu) / std for v in col]
        outs.append([gamma[j] * h + beta[j] for h in xhat] if gamma is not None else xhat)
        saved.append((xhat, std))
    return outs, saved


def _norm_backward_column(dxhat, xhat, std):
    n = len(dxhat)
    s1 = sum(dxhat)
    s2 = sum(a * b for a, b in zip(dxhat, xhat))
    return [(n * dxhat[i] - s1 - xhat[i] * s2) / (n * std) for i in range(n)]


def batchnorm_forward(x, gamma, beta, bn_param):
    eps = bn_param.get("eps", 1e-5)
    N, D = x.shape
    if bn_param["mode"] == "test":
        out = np.zeros_like(x)
        for n in range(N):
            for d in range(D):
                out[n, d] = gamma[d] * (x[n, d] - bn_param["running_mean"][d]) / math.sqrt(
                    bn_param["running_var"][d] + eps) + beta[d]
        return out, None
    cols = [[x[n, d] for n in range(N)] for d in range(D)]
    outs, saved = _norm_columns(cols, gamma, beta, eps)
    out = np.array(outs).T
    return out, (saved, gamma)


def batchnorm_backward(dout, cache):
    saved, gamma = cache
    N, D = dout.shape
    dx, dgamma, dbeta = np.zeros((N, D)), np.zeros(D), np.zeros(D)
    for d in range(D):
        xhat, std = saved[d]
        dxhat = [dout[n, d] * gamma[d] for n in range(N)]
        dbeta[d] = sum(dout[n, d] for n in range(N))
        dgamma[d] = sum(dout[n, d] * xhat[n] for n in range(N))
        dx[:, d] = _norm_backward_column(dxhat, xhat, std)
    return dx, dgamma, dbeta


batchnorm_backward_alt = batchnorm_backward


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    N, D = x.shape
    rows = [[x[n, d] for d in range(D)] for n in range(N)]
    xhats, saved = _norm_columns(rows, None, None, eps)
    out = np.array([[gamma[d] * xhats[n][d] + beta[d] for d in range(D)] for n in range(N)])
    return out, (saved, gamma)


def layernorm_backward(dout, cache):
    saved, gamma = cache
    N, D = dout.shape
    dx, dgamma, dbeta = np.zeros((N, D)), np.zeros(D), np.zeros(D)
    for n in range(N):
        xhat, std = saved[n]
        for d in range(D):
            dbeta[d] += dout[n, d]
            dgamma[d] += dout[n, d] * xhat[d]
        dx[n] = _norm_backward_column([dout[n, d] * gamma[d] for d in range(D)], xhat, std)
    return dx, dgamma, dbeta


def dropout_forward(x, dropout_param):
    p = dropout_param["p"]                      # p = probability of DROPPING a unit
    rng = np.random.RandomState(dropout_param.get("seed", 0))
    if dropout_param["mode"] != "train":
        return x.copy(), None
    mask = (rng.rand(*x.shape) >= p) / (1 - p)
    return x * mask, mask


def dropout_backward(dout, mask):
    return dout if mask is None else dout * mask


def conv_forward_naive(x, w, b, conv_param):
    s, p = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    Ho, Wo = 1 + (H + 2 * p - HH) // s, 1 + (W + 2 * p - WW) // s
    out = np.zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    out[n, f, i, j] = np.sum(xp[n, :, i * s:i * s + HH, j * s:j * s + WW] * w[f]) + b[f]
    return out, (x, w, conv_param)


def conv_backward_naive(dout, cache):
    x, w, conv_param = cache
    s, p = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dxp, dw, db = np.zeros_like(xp), np.zeros_like(w), np.zeros(F)
    for n in range(N):
        for f in range(F):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    g = dout[n, f, i, j]
                    db[f] += g
                    dw[f] += g * xp[n, :, i * s:i * s + HH, j * s:j * s + WW]
                    dxp[n, :, i * s:i * s + HH, j * s:j * s + WW] += g * w[f]
    return dxp[:, :, p:p + H, p:p + W], dw, db


def max_pool_forward_naive(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    Ho, Wo = 1 + (H - ph) // s, 1 + (W - pw) // s
    out = np.zeros((N, C, Ho, Wo))
    where = {}
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    best, arg = -np.inf, None
                    for a in range(ph):
                        for b in range(pw):
                            v = x[n, c, i * s + a, j * s + b]
                            if v > best:
                                best, arg = v, (i * s + a, j * s + b)
                    out[n, c, i, j] = best
                    where[(n, c, i, j)] = arg
    return out, (x.shape, where)


def max_pool_backward_naive(dout, cache):
    shape, where = cache
    dx = np.zeros(shape)
    for (n, c, i, j), (a, b) in where.items():
        dx[n, c, a, b] += dout[n, c, i, j]
    return dx


def softmax_loss(x, y):
    N, C = x.shape
    loss, dx = 0.0, np.zeros((N, C))
    for n in range(N):
        m = max(x[n])
        e = [math.exp(v - m) for v in x[n]]
        z = sum(e)
        loss -= math.log(e[y[n]] / z)
        for c in range(C):
            dx[n, c] = (e[c] / z - (1.0 if c == y[n] else 0.0)) / N
    return loss / N, dx


def svm_loss(x, y):
    N, C = x.shape
    loss, dx = 0.0, np.zeros((N, C))
    for n in range(N):
        for c in range(C):
            if c == y[n]:
                continue
            margin = x[n, c] - x[n, y[n]] + 1.0
            if margin > 0:
                loss += margin
                dx[n, c] += 1.0 / N
                dx[n, y[n]] -= 1.0 / N
    return loss / N, dx
