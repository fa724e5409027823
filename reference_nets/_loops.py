"""Backprop one neuron at a time, in the notation of "Backpropagation through a neural network hidden layer".

Neuron a in the layer below feeds neuron b through the weight w_{a,b}:
    net_b = Σ_a w_{a,b} o_a + bias_b,      o_b = φ(net_b)
    δ_b   = e_b φ'(net_b)                       (b an output neuron, e_b = ∂E/∂o_b)
    δ_b   = (Σ_ℓ δ_ℓ w_{b,ℓ}) φ'(net_b)          (b hidden, ℓ over the neurons downstream)
    dE/dw_{a,b} = δ_b o_a,   dE/dbias_b = δ_b    (summed over the samples)
This is the slow, readable oracle the matrix form is tested against.
"""
from __future__ import annotations

import numpy as np

from . import _targets
from ._activations import dphi, phi
from ._matrix import Backprop
from ._spec import NetSpec, as_batch, check_params


def backprop_loops(spec: NetSpec, params: dict, x, t=None) -> Backprop:
    """Same result as ``backprop`` (without bugs), computed with plain Python loops."""
    params = check_params(spec, params)
    X, T, _ = as_batch(spec, x, t, need_t=True)
    n_samples, L, sizes = X.shape[0], spec.n_layers, spec.sizes
    acts = spec.layer_activations

    def w(l, a, b):
        """w_{a,b} of weight layer l: from neuron a (layer l-1) to neuron b (layer l)."""
        W = params[f"W{l}"]
        return W[a, b] if spec.layout == "in_out" else W[b, a]

    grads = {k: np.zeros_like(v) for k, v in params.items()}
    deltas = [np.zeros((n_samples, sizes[l])) for l in range(1, L + 1)]
    for s in range(n_samples):
        # forward: net[l][b], o[l][b]
        o = [[float(v) for v in X[s]]]
        net = [None]
        for l in range(1, L + 1):
            net_l, o_l = [], []
            for b in range(sizes[l]):
                net_b = sum(w(l, a, b) * o[l - 1][a] for a in range(sizes[l - 1]))
                if spec.bias:
                    net_b += params[f"b{l}"][b]
                net_l.append(net_b)
                o_l.append(float(phi(acts[l - 1], net_b)))
            net.append(net_l)
            o.append(o_l)

        # backward: δ of the output layer, then of each hidden layer from the top down
        delta = [None] * (L + 1)
        t_s = None if T is None else T[s]
        delta[L] = [float(_targets.error(spec.target, o[L][b], None if t_s is None else t_s[b], n_samples))
                    * float(dphi(acts[L - 1], net[L][b])) for b in range(sizes[L])]
        for l in range(L - 1, 0, -1):
            delta[l] = [sum(delta[l + 1][m] * w(l + 1, b, m) for m in range(sizes[l + 1]))
                        * float(dphi(acts[l - 1], net[l][b])) for b in range(sizes[l])]

        # gradients: dE/dw_{a,b} = δ_b o_a
        for l in range(1, L + 1):
            deltas[l - 1][s] = delta[l]
            for b in range(sizes[l]):
                for a in range(sizes[l - 1]):
                    idx = (a, b) if spec.layout == "in_out" else (b, a)
                    grads[f"W{l}"][idx] += delta[l][b] * o[l - 1][a]
                if spec.bias:
                    grads[f"b{l}"][b] += delta[l][b]
    return Backprop(grads=grads, deltas=deltas)
