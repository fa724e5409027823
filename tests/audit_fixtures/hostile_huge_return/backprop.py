"""Hostile: returns arrays far larger than asked for."""
import numpy as np


def forward(params, x):
    return np.zeros(60_000_000, dtype=np.float32)


def backward(params, x, t):
    return {f"W{i}": np.zeros(400_000) for i in range(100)}


def input_jacobian(params, x):
    return np.broadcast_to(np.float64(1.0), (10**6, 10**6))
