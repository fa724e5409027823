"""The same network written in jax.numpy, so JAX autodiff can serve as an independent oracle.

jax is imported inside ``jax_twin`` only: importing reference_nets never imports jax.
Enable float64 (``jax.config.update("jax_enable_x64", True)``) before comparing to 1e-12.
"""
from __future__ import annotations

from ._spec import NetSpec


def jax_twin(spec: NetSpec):
    """(fwd_j(params, x), loss_j(params, x, t)) in jax.numpy for this spec."""
    import jax
    import jax.numpy as jnp

    acts = {"logistic": jax.nn.sigmoid, "tanh": jnp.tanh, "relu": jax.nn.relu, "linear": lambda v: v}
    layer_acts = [acts[a] for a in spec.layer_activations]

    def fwd_j(params, x):
        o = x
        for l, act in enumerate(layer_acts, start=1):
            W = params[f"W{l}"]
            v = o @ W if spec.layout == "in_out" else o @ W.T
            if spec.bias:
                v = v + params[f"b{l}"]
            o = act(v)
        return o

    def loss_j(params, x, t=None):
        y = fwd_j(params, x)
        n = y.shape[0] if y.ndim == 2 else 1
        if spec.target == "half_sse":
            return 0.5 * jnp.sum((y - t) ** 2)
        if spec.target == "mse":
            return jnp.sum((y - t) ** 2) / n
        if spec.target == "cross_entropy":
            return -jnp.sum(t * jnp.log(y) + (1 - t) * jnp.log(1 - y))
        if spec.target == "entropy":
            return -jnp.sum(y * jnp.log(y) + (1 - y) * jnp.log(1 - y))
        return jnp.sum(y)  # "output"

    return fwd_j, loss_j
