"""Hypothesis strategies shared by the reference_nets tests (no tests here; named to sit in our test_ paths)."""
from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from gradcheck.reference_nets import ACTIVATIONS, TARGETS, NetSpec, init_params
from gradcheck.reference_nets._matrix import forward_cache


@st.composite
def specs(draw, *, min_layers=1, max_layers=3, min_width=1, max_width=4, targets=TARGETS):
    n_layers = draw(st.integers(min_layers, max_layers))
    sizes = tuple(draw(st.lists(st.integers(min_width, max_width), min_size=n_layers + 1, max_size=n_layers + 1)))
    target = draw(st.sampled_from(targets))
    acts = list(draw(st.lists(st.sampled_from(ACTIVATIONS), min_size=n_layers, max_size=n_layers)))
    if target in ("cross_entropy", "entropy"):
        acts[-1] = "logistic"
    activations = acts[0] if draw(st.booleans()) and len(set(acts)) == 1 else tuple(acts)
    return NetSpec(sizes=sizes, activations=activations, bias=draw(st.booleans()),
                   layout=draw(st.sampled_from(["in_out", "out_in"])), target=target)


def data(spec, seed, batch):
    """params, x (batch, n0), t (batch, nL) drawn from one seed; t in (0, 1) for cross-entropy."""
    rng = np.random.default_rng(seed)
    params = init_params(spec, seed=seed, scale=float(rng.uniform(0.5, 2.0)))
    x = rng.normal(size=(batch, spec.sizes[0]))
    if spec.target == "cross_entropy":
        t = rng.uniform(size=(batch, spec.sizes[-1]))
    else:
        t = rng.normal(size=(batch, spec.sizes[-1]))
    return params, x, t


@st.composite
def nets(draw, *, min_batch=1, max_batch=4, **spec_kwargs):
    spec = draw(specs(**spec_kwargs))
    seed = draw(st.integers(0, 2**32 - 1))
    batch = draw(st.integers(min_batch, max_batch))
    params, x, t = data(spec, seed, batch)
    if spec.target in ("cross_entropy", "entropy"):
        # a logistic output that rounds to exactly 0 or 1 (a pre-activation beyond about 37) makes the
        # cross-entropy infinite and every gradient nan: a net no test can say anything about
        _, outs = forward_cache(spec, params, np.atleast_2d(x))
        assume(np.all((outs[-1] > 0) & (outs[-1] < 1)))
    return spec, params, x, t


def no_dead_relu(spec, params, x, min_active: int = 1) -> bool:
    """Every relu layer has at least min_active active units for every sample, so gradients reach every layer
    (two or more: a single active unit per layer can make W and W^T act alike on the diagonal)."""
    _, outs = forward_cache(spec, params, np.atleast_2d(x))
    return all(((outs[l] > 0).sum(axis=1) >= min(min_active, spec.sizes[l])).all()
               for l, a in enumerate(spec.layer_activations, start=1) if a == "relu")
