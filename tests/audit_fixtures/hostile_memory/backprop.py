"""Hostile: tries to allocate many GiB."""
import numpy as np


def forward(params, x):
    return np.ones((64, 1 << 30))  # 512 GiB


def backward(params, x, t):
    hoard = []
    while True:
        hoard.append(bytearray(1 << 28))


def input_jacobian(params, x):
    return np.zeros(1 << 34, dtype=np.uint8)
