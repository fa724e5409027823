"""Helpers the layers import from a sibling module (as packaged homework does)."""
import numpy as np


def pad2(x, p):
    return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
