"""Activation functions φ and their derivatives φ', as functions of the net input v.

Standard definitions are used throughout.  Two of the source texts slip here:
"Backpropagation through a neural network hidden layer" writes the logistic as 1/(1+e^z) and Patel's
"Backpropagation – a pillar of neural networks" writes σ = e^x/(1+e^-x);
the code uses the standard logistic σ(v) = 1/(1+e^-v), whose derivative is σ(v)(1-σ(v)).
relu'(0) is taken as 0, as JAX does.
"""
from __future__ import annotations

import numpy as np


def logistic(v):
    """σ(v) = 1/(1+e^-v), written so that neither branch overflows."""
    v = np.asarray(v, dtype=float)
    e = np.exp(-np.abs(v))
    return np.where(v >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def d_logistic(v):
    s = logistic(v)
    return s * (1.0 - s)


def relu(v):
    return np.maximum(np.asarray(v, dtype=float), 0.0)


def d_relu(v):
    return (np.asarray(v, dtype=float) > 0).astype(float)


def tanh(v):
    return np.tanh(np.asarray(v, dtype=float))


def d_tanh(v):
    """1 - tanh², computed as (1 - y)(1 + y) like JAX, so both round alike when tanh saturates."""
    y = np.tanh(np.asarray(v, dtype=float))
    return (1.0 - y) * (1.0 + y)


def linear(v):
    return np.asarray(v, dtype=float) * 1.0


def d_linear(v):
    return np.ones_like(np.asarray(v, dtype=float))


#: name -> (φ, φ'), both taking the net input v.
PHI = {
    "logistic": (logistic, d_logistic),
    "tanh": (tanh, d_tanh),
    "relu": (relu, d_relu),
    "linear": (linear, d_linear),
}

ACTIVATIONS = tuple(PHI)


def phi(name: str, v):
    return PHI[name][0](v)


def dphi(name: str, v):
    return PHI[name][1](v)
