"""Correct, scalar code in the slides' own symbols."""
import math


def s(v):
    return 1.0 / (1.0 + math.exp(-v))


def forward(w, x):
    x1, x2 = x[0], x[1]
    h1 = s(x1 * w["w1"] + x2 * w["w2"])
    h2 = s(x1 * w["w3"] + x2 * w["w4"])
    y1 = s(h1 * w["w5"] + h2 * w["w6"])
    y2 = s(h1 * w["w7"] + h2 * w["w8"])
    return h1, h2, y1, y2


def gradients(w, x, d):
    x1, x2 = x[0], x[1]
    h1, h2, y1, y2 = forward(w, x)
    g1 = (y1 - d[0]) * y1 * (1 - y1)      # dε/dz1
    g2 = (y2 - d[1]) * y2 * (1 - y2)      # dε/dz2
    k1 = (g1 * w["w5"] + g2 * w["w7"]) * h1 * (1 - h1)
    k2 = (g1 * w["w6"] + g2 * w["w8"]) * h2 * (1 - h2)
    return {"w1": k1 * x1, "w2": k1 * x2, "w3": k2 * x1, "w4": k2 * x2,
            "w5": g1 * h1, "w6": g1 * h2, "w7": g2 * h1, "w8": g2 * h2}
