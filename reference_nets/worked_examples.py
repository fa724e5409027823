"""The worked examples of the source texts (docs/references.md), in their own symbols, as plain scalar code.

The lecture slides "Back propagation explained": a 2-2-2 logistic network without biases,
    q1 = x1 w1 + x2 w2,  q2 = x1 w3 + x2 w4,   h = σ(q)          (hidden layer)
    z1 = h1 w5 + h2 w6,  z2 = h1 w7 + h2 w8,   y = σ(z)          (output layer)
    ε = ε1 + ε2 = ½((y1 - d1)² + (y2 - d2)²)
The text shows q1 and z1 only (its figure is lost); q2 and z2 follow the same numbering,
which is what makes its two-path formula for ∂ε/∂w1 (through z1 via w5 and z2 via w7) hold.
σ is the standard logistic 1/(1 + e^-v).

"Backpropagation through a neural network hidden layer": the formula dE/dw_{a,b} = (Σ_ℓ δ_ℓ w_{b,ℓ}) o_b (1 - o_b) o_a.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ._spec import NetSpec

WEIGHTS_SLIDES = ("w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8")


def sigma(v: float) -> float:
    """Standard logistic (the hidden-layer text's 1/(1+e^z) is a slip for 1/(1+e^-z))."""
    return 1.0 / (1.0 + math.exp(-v)) if v >= 0 else math.exp(v) / (1.0 + math.exp(v))


class ForwardSlides(NamedTuple):
    q1: float
    q2: float
    h1: float
    h2: float
    z1: float
    z2: float
    y1: float
    y2: float


def forward_slides(x1: float, x2: float, w: dict) -> ForwardSlides:
    """The slides' forward computation; w maps "w1".."w8" to floats."""
    q1 = x1 * w["w1"] + x2 * w["w2"]
    q2 = x1 * w["w3"] + x2 * w["w4"]
    h1, h2 = sigma(q1), sigma(q2)
    z1 = h1 * w["w5"] + h2 * w["w6"]
    z2 = h1 * w["w7"] + h2 * w["w8"]
    return ForwardSlides(q1, q2, h1, h2, z1, z2, sigma(z1), sigma(z2))


def epsilon_slides(x1, x2, d1, d2, w) -> float:
    """ε = ½((y1 - d1)² + (y2 - d2)²)."""
    f = forward_slides(x1, x2, w)
    return 0.5 * ((f.y1 - d1) ** 2 + (f.y2 - d2) ** 2)


def d_epsilon_d_w1_paths(x1, x2, d1, d2, w) -> tuple:
    """(∂ε1/∂w1, ∂ε2/∂w1): the two chains of the slides, through y1 and through y2."""
    f = forward_slides(x1, x2, w)
    dh1_dq1, dq1_dw1 = f.h1 * (1 - f.h1), x1
    via_y1 = (f.y1 - d1) * f.y1 * (1 - f.y1) * w["w5"] * dh1_dq1 * dq1_dw1  # ∂z1/∂h1 = w5
    via_y2 = (f.y2 - d2) * f.y2 * (1 - f.y2) * w["w7"] * dh1_dq1 * dq1_dw1  # ∂z2/∂h1 = w7
    return via_y1, via_y2


def gradients_slides(x1, x2, d1, d2, w) -> dict:
    """dε/dw1..dw8 by the chain rule, reusing the partial results as the slides suggest."""
    f = forward_slides(x1, x2, w)
    g1 = (f.y1 - d1) * f.y1 * (1 - f.y1)  # ∂ε/∂z1, shared by w5, w6 and the hidden weights
    g2 = (f.y2 - d2) * f.y2 * (1 - f.y2)  # ∂ε/∂z2
    k1 = (g1 * w["w5"] + g2 * w["w7"]) * f.h1 * (1 - f.h1)  # ∂ε/∂q1: both output paths
    k2 = (g1 * w["w6"] + g2 * w["w8"]) * f.h2 * (1 - f.h2)  # ∂ε/∂q2
    return {"w1": k1 * x1, "w2": k1 * x2, "w3": k2 * x1, "w4": k2 * x2,
            "w5": g1 * f.h1, "w6": g1 * f.h2, "w7": g2 * f.h1, "w8": g2 * f.h2}


def netspec_slides(w: dict, layout: str = "in_out"):
    """(NetSpec, params) of the same network, for backprop(): W[a, b] = weight from a to b in "in_out"."""
    spec = NetSpec(sizes=(2, 2, 2), activations="logistic", bias=False, layout=layout, target="half_sse")
    W1 = np.array([[w["w1"], w["w3"]], [w["w2"], w["w4"]]])  # rows: x1, x2; columns: q1, q2
    W2 = np.array([[w["w5"], w["w7"]], [w["w6"], w["w8"]]])  # rows: h1, h2; columns: z1, z2
    if layout == "out_in":
        W1, W2 = W1.T, W2.T
    return spec, {"W1": W1, "W2": W2}


def weights_from_params_slides(grads: dict, layout: str = "in_out") -> dict:
    """The inverse map: a dict like params (or grads) -> {"w1": ..., "w8": ...}."""
    W1, W2 = (grads["W1"], grads["W2"]) if layout == "in_out" else (grads["W1"].T, grads["W2"].T)
    return {"w1": W1[0, 0], "w2": W1[1, 0], "w3": W1[0, 1], "w4": W1[1, 1],
            "w5": W2[0, 0], "w6": W2[1, 0], "w7": W2[0, 1], "w8": W2[1, 1]}


def hidden_weight_gradient(deltas_downstream, w_b_downstream, o_b: float, o_a: float) -> float:
    """"Backpropagation through a neural network hidden layer": dE/dw_{a,b} = (Σ_ℓ δ_ℓ w_{b,ℓ}) o_b (1 - o_b) o_a, for a logistic neuron b.

    deltas_downstream[ℓ] = δ_ℓ of the neurons ℓ that b feeds; w_b_downstream[ℓ] = w_{b,ℓ}.
    """
    dE_do_b = sum(d * w_bl for d, w_bl in zip(deltas_downstream, w_b_downstream, strict=True))
    return dE_do_b * o_b * (1 - o_b) * o_a
