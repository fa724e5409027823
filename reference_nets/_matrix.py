"""Matrix form: forward, loss, backprop and the input Jacobian for a whole batch at once.

Notation (Yoshida, "A note on backprop"): layer l = 1..L has net input v_l (``nets[l]``) and output
y_l = φ_l(v_l) (``outs[l]``); ``outs[0]`` is the input x.  δ_l = ∂E/∂v_l.
With layout "in_out" a batch row is o, and v = o @ W + b; with "out_in", v = W @ o + b per
sample, i.e. o @ W.T + b per batch row.  Tested against ``backprop_loops`` and JAX.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _targets
from ._activations import dphi, phi
from ._spec import NetSpec, as_batch, check_params
from .catalog import check_bug


@dataclass
class Backprop:
    """grads: dict like params.  deltas[l-1] = δ of weight layer l (l = 1..L), shape (batch, sizes[l])
    (batch 1 for a single sample); deltas[-1] is δ_out."""

    grads: dict
    deltas: list


def _times_w(spec, W, o):
    """o @ W in the "in_out" layout, (W @ o^T)^T in "out_in": the forward product."""
    return o @ W if spec.layout == "in_out" else o @ W.T


def _times_wt(spec, W, d):
    """δ times W^T in the "in_out" sense: carries δ of the layer above back one layer."""
    return d @ W.T if spec.layout == "in_out" else d @ W


def forward_cache(spec: NetSpec, params: dict, X):
    """(nets, outs) for a batch X; nets[0] is None, outs[0] is X."""
    nets, outs = [None], [X]
    for l, act in enumerate(spec.layer_activations, start=1):
        v = _times_w(spec, params[f"W{l}"], outs[-1])
        if spec.bias:
            v = v + params[f"b{l}"]
        nets.append(v)
        outs.append(phi(act, v))
    return nets, outs


def forward(spec: NetSpec, params: dict, x):
    """Network output: x (batch, n0) -> (batch, nL); x (n0,) -> (nL,)."""
    params = check_params(spec, params)
    X, _, single = as_batch(spec, x)
    y = forward_cache(spec, params, X)[1][-1]
    return y[0] if single else y


def loss(spec: NetSpec, params: dict, x, t=None) -> float:
    """E of the spec's target (t is ignored by "entropy" and "output")."""
    params = check_params(spec, params)
    X, T, _ = as_batch(spec, x, t, need_t=True)
    return _targets.value(spec.target, forward_cache(spec, params, X)[1][-1], T)


def _local_slope(spec, l, nets, outs, bug):
    """φ'_l(v_l), or what a buggy student uses in its place."""
    act = spec.layer_activations[l - 1]
    is_output = l == spec.n_layers
    if (bug == "no_output_derivative" and is_output) or (bug == "no_hidden_derivative" and not is_output):
        return np.ones_like(nets[l])
    if bug == "derivative_of_output":
        return dphi(act, outs[l])
    if bug == "relu_derivative_is_value" and act == "relu":
        return phi("relu", nets[l])
    return dphi(act, nets[l])


def _is_square(W):
    return W.shape[0] == W.shape[1]


def _back_one_layer(spec, W, d, bug):
    if bug == "forward_weights_not_transposed" and _is_square(W):
        return _times_w(spec, W, d)  # the forward product, where the transposed one was meant
    return _times_wt(spec, W, d)


def backprop(spec: NetSpec, params: dict, x, t=None, bug=None) -> Backprop:
    """Gradient of E with respect to every parameter (Yoshida, "A note on backprop", equations (1)-(5), in matrix form).

    ``bug`` names a CATALOG entry to reproduce that mistake instead of the right answer.
    """
    bug = check_bug(bug, "backprop")
    params = check_params(spec, params)
    X, T, _ = as_batch(spec, x, t, need_t=True)
    n, L = X.shape[0], spec.n_layers
    nets, outs = forward_cache(spec, params, X)

    e = _targets.error(spec.target, outs[-1], T, n)  # e_j = ∂E/∂y_j
    if bug == "error_sign_flipped":
        e = -e
    elif bug == "missing_half":
        e = 2.0 * e
    elif bug == "batch_mean_instead_of_sum" and spec.target not in _targets.BATCH_MEAN:
        e = e / n
    elif bug == "batch_sum_instead_of_mean" and spec.target in _targets.BATCH_MEAN:
        e = e * n

    deltas = [None] * L
    upstream = e  # ∂E/∂y_l, starting at the output
    for l in range(L, 0, -1):
        deltas[l - 1] = upstream * _local_slope(spec, l, nets, outs, bug)  # δ_l = φ'(v_l) ∂E/∂y_l
        if l > 1:
            upstream = _back_one_layer(spec, params[f"W{l}"], deltas[l - 1], bug)  # Σ_k δ_k w_jk

    grads = {}
    for l in range(1, L + 1):
        d, below = deltas[l - 1], outs[l - 1]
        if bug == "wrong_layer_activations" and outs[l].shape == below.shape:
            below = outs[l]
        gW = below.T @ d if spec.layout == "in_out" else d.T @ below  # ∂E/∂w_ij = δ_j y_i
        if bug == "weight_grad_transposed" and _is_square(gW):
            gW = gW.T
        grads[f"W{l}"] = gW
        if spec.bias:
            grads[f"b{l}"] = d[0].copy() if bug == "bias_from_one_sample" else d.sum(axis=0)
    return Backprop(grads=grads, deltas=deltas)


def input_jacobian_batch(spec: NetSpec, params: dict, x, bug=None):
    """∂y_k/∂x_i for each sample: x (batch, n0) -> (batch, nL, n0).

    Yoshida, "A note on backprop", section 5.4: start from Δ_kk = 1 at the output and propagate
    Δ_jk = Σ Δ φ'(v) w back to the input, the same way δ travels.
    """
    bug = check_bug(bug, "jacobian")
    params = check_params(spec, params)
    X, _, _ = as_batch(spec, x)
    nets, outs = forward_cache(spec, params, X)
    n, nL = X.shape[0], spec.sizes[-1]
    D = np.broadcast_to(np.eye(nL), (n, nL, nL)).copy()  # D[s, k, j] = ∂y_k/∂y_j of layer l
    for l in range(spec.n_layers, 0, -1):
        D = D * _local_slope(spec, l, nets, outs, bug)[:, None, :]
        D = _back_one_layer(spec, params[f"W{l}"], D, bug)
    if bug == "jacobian_transposed":
        D = np.swapaxes(D, 1, 2)
    return D


def input_jacobian(spec: NetSpec, params: dict, x, bug=None):
    """∂y_k/∂x_i for one sample: x (n0,) -> (nL, n0)."""
    x = np.asarray(x, dtype=float)
    if x.ndim != 1:
        raise ValueError(f"input_jacobian takes one sample of shape ({spec.sizes[0]},), got {x.shape}; "
                         "use input_jacobian_batch for a batch")
    return input_jacobian_batch(spec, params, x[None, :], bug=bug)[0]
