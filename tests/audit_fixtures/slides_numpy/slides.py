"""Correct, with weight matrices (numpy); returns numpy scalars."""
import numpy as np


def _mats(w):
    W1 = np.array([[w["w1"], w["w2"]], [w["w3"], w["w4"]]])   # rows: q1, q2
    W2 = np.array([[w["w5"], w["w6"]], [w["w7"], w["w8"]]])   # rows: z1, z2
    return W1, W2


def forward(w, x):
    W1, W2 = _mats(w)
    h = 1 / (1 + np.exp(-(W1 @ np.asarray(x))))
    y = 1 / (1 + np.exp(-(W2 @ h)))
    return h[0], h[1], y[0], y[1]


def gradients(w, x, d):
    W1, W2 = _mats(w)
    x = np.asarray(x)
    h = 1 / (1 + np.exp(-(W1 @ x)))
    y = 1 / (1 + np.exp(-(W2 @ h)))
    gz = (y - d) * y * (1 - y)
    gq = (W2.T @ gz) * h * (1 - h)
    G2, G1 = np.outer(gz, h), np.outer(gq, x)
    return {"w1": G1[0, 0], "w2": G1[0, 1], "w3": G1[1, 0], "w4": G1[1, 1],
            "w5": G2[0, 0], "w6": G2[0, 1], "w7": G2[1, 0], "w8": G2[1, 1]}
