"""Only forward() exists (correct); backward and input_jacobian are missing."""
import numpy as np


def forward(params, x):
    o = x
    L = len([k for k in params if k.startswith("W")])
    for l in range(1, L + 1):
        o = 1.0 / (1.0 + np.exp(-(o @ params[f"W{l}"] + params[f"b{l}"])))
    return o
