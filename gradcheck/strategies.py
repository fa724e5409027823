"""Hypothesis strategies for gradient-check tests of fully connected networks.

    from hypothesis import given, strategies as st
    from gradcheck.strategies import network_specs, params_for, inputs_for

    @given(st.data())
    def test_backward(data):
        spec = data.draw(network_specs(max_layers=2, activations=("tanh", "relu")))
        params = data.draw(params_for(spec))
        x, t = data.draw(inputs_for(spec, params=params))
        gradcheck.assert_grads_match(lambda p: loss(spec, p, x, t), params, my_backward)

Every argument is keyword-only and checked when the strategy is built, with
an error naming the bad value (as hypothesis.extra.numpy.array_shapes does).
Parameters and inputs are drawn from a seed (numpy's default_rng), so a
failing example shrinks to a small seed, a small batch and a small network.
Importing this module imports numpy, hypothesis and reference_nets, never jax.
"""
from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from gradcheck.reference_nets import ACTIVATIONS, LAYOUTS, TARGETS, NetSpec, init_params
from gradcheck.reference_nets._matrix import forward_cache
from gradcheck.reference_nets._targets import NEEDS_LOGISTIC_OUTPUT, NO_TEACHER

__all__ = ["network_specs", "params_for", "inputs_for", "KINKS", "DEFAULT_MARGIN"]

#: what inputs_for does about relu's kink at 0
KINKS = ("avoid", "allow", "on")
#: with kinks="avoid", every relu pre-activation has |z| > this
DEFAULT_MARGIN = 1e-3
_SEEDS = st.integers(0, 2**32 - 1)
_RESAMPLES = 25


def _int(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}={value!r} must be an int")
    if value < low:
        raise ValueError(f"{name}={value!r} must be at least {low}")
    return int(value)


def _names(name: str, value, allowed: tuple) -> tuple:
    if isinstance(value, str):
        value = (value,)
    try:
        names = tuple(value)
    except TypeError:
        raise TypeError(f"{name}={value!r} must be a name or a sequence of names from {allowed}") from None
    if not names:
        raise ValueError(f"{name}={value!r} must not be empty; choose from {allowed}")
    bad = [n for n in names if n not in allowed]
    if bad:
        raise ValueError(f"{name}={value!r}: unknown {', '.join(map(repr, bad))}; allowed: {', '.join(allowed)}")
    return tuple(dict.fromkeys(names))


def network_specs(*, min_layers: int = 1, max_layers: int = 3, min_width: int = 1, max_width: int = 8,
                  activations=ACTIVATIONS, targets=TARGETS, layouts=LAYOUTS, bias: bool | None = None):
    """Strategy for reference_nets.NetSpec: fully connected networks.

    min_layers, max_layers: number of weight layers L (sizes has L + 1 entries), 1 <= min <= max.
    min_width, max_width: every layer width n0..nL, 1 <= min <= max.
    activations: names drawn per layer (default: all of reference_nets.ACTIVATIONS).
    targets: loss names (default: all of reference_nets.TARGETS). "cross_entropy" and "entropy" need a
        logistic output layer, which is then used for the last layer (so "logistic" must be allowed).
    layouts: "in_out" and/or "out_in" (default both).
    bias: True, False, or None for either (default).
    """
    min_layers = _int("min_layers", min_layers, 1)
    max_layers = _int("max_layers", max_layers, 1)
    if max_layers < min_layers:
        raise ValueError(f"max_layers={max_layers!r} must be >= min_layers={min_layers!r}")
    min_width = _int("min_width", min_width, 1)
    max_width = _int("max_width", max_width, 1)
    if max_width < min_width:
        raise ValueError(f"max_width={max_width!r} must be >= min_width={min_width!r}")
    acts = _names("activations", activations, ACTIVATIONS)
    tgts = _names("targets", targets, TARGETS)
    lays = _names("layouts", layouts, LAYOUTS)
    if bias is not None and not isinstance(bias, bool):
        raise TypeError(f"bias={bias!r} must be True, False or None (either)")
    if "logistic" not in acts:
        usable = tuple(t for t in tgts if t not in NEEDS_LOGISTIC_OUTPUT)
        if not usable:
            raise ValueError(f"targets={targets!r} need a logistic output layer, but activations={activations!r} "
                             f"does not allow 'logistic'; add it or choose other targets")
        tgts = usable
    biases = st.booleans() if bias is None else st.just(bias)

    @st.composite
    def specs(draw):
        n_layers = draw(st.integers(min_layers, max_layers))
        sizes = tuple(draw(st.integers(min_width, max_width)) for _ in range(n_layers + 1))
        target = draw(st.sampled_from(tgts))
        layer_acts = [draw(st.sampled_from(acts)) for _ in range(n_layers)]
        if target in NEEDS_LOGISTIC_OUTPUT:
            layer_acts[-1] = "logistic"
        activations_ = layer_acts[0] if len(set(layer_acts)) == 1 else tuple(layer_acts)
        return NetSpec(sizes=sizes, activations=activations_, bias=draw(biases), layout=draw(st.sampled_from(lays)),
                       target=target)

    return specs()


def _check_spec(spec) -> NetSpec:
    if not isinstance(spec, NetSpec):
        raise TypeError(f"spec={spec!r} must be a reference_nets.NetSpec (draw one from network_specs())")
    return spec


def params_for(spec: NetSpec, *, scale: float = 1.0):
    """Strategy for a parameter dict of ``spec`` (keys W1, b1, ...), as reference_nets.init_params draws them.

    scale: weights ~ N(0, scale²/n_in), biases ~ N(0, (0.1·scale)²); a finite number > 0 (default 1.0).
    """
    _check_spec(spec)
    if isinstance(scale, bool) or not isinstance(scale, (int, float, np.floating)) or not np.isfinite(scale) \
            or scale <= 0:
        raise ValueError(f"scale={scale!r} must be a finite number > 0")
    scale = float(scale)
    return _SEEDS.map(lambda seed: init_params(spec, seed=seed, scale=scale))


def _batch_range(batch) -> tuple:
    if isinstance(batch, (int, np.integer)) and not isinstance(batch, bool):
        lo = hi = _int("batch", batch, 1)
    else:
        try:
            lo, hi = batch
        except (TypeError, ValueError):
            raise TypeError(f"batch={batch!r} must be an int or a (min, max) pair such as (1, 8)") from None
        lo, hi = _int("batch[0]", lo, 1), _int("batch[1]", hi, 1)
        if hi < lo:
            raise ValueError(f"batch={batch!r}: max {hi} is smaller than min {lo}")
    return lo, hi


def _relu_nets(spec, params, X) -> list:
    """Pre-activations z of the relu layers, each (batch, width)."""
    nets, _ = forward_cache(spec, params, X)
    return [nets[l] for l, a in enumerate(spec.layer_activations, start=1) if a == "relu"]


def _clear_rows(spec, params, X, margin) -> np.ndarray:
    """bool per sample: every relu pre-activation has |z| > margin."""
    ok = np.ones(X.shape[0], dtype=bool)
    for z in _relu_nets(spec, params, X):
        ok &= (np.abs(z) > margin).all(axis=1)
    return ok


def _put_on_kink(spec, params, row) -> np.ndarray | None:
    """row changed so that one unit of layer 1 (relu) has pre-activation exactly 0.0, or None."""
    W = params["W1"]
    Win = W if spec.layout == "in_out" else W.T        # (n_in, n_out)
    b = params["b1"] if spec.bias else np.zeros(Win.shape[1])
    for j in range(Win.shape[1]):
        if b[j] == 0.0:
            return np.zeros_like(row)                  # z = 0 @ W + 0 = 0 exactly
        for i in np.argsort(-np.abs(Win[:, j])):
            w = Win[i, j]
            if w == 0.0:
                continue
            c = -b[j] / w
            for _ in range(8):                         # a few ulps around -b/w until c*w rounds to -b
                cand = np.zeros_like(row)
                cand[i] = c
                z = forward_cache(spec, params, cand[None, :])[0][1][0, j]
                if z == 0.0:
                    return cand
                c = np.nextafter(c, np.inf if (z < 0) == (w > 0) else -np.inf)
    return None


def inputs_for(spec: NetSpec, *, params=None, batch=(1, 8), kinks: str = "avoid", margin: float = DEFAULT_MARGIN):
    """Strategy for ``(x, t)``: inputs x of shape (batch, n0) and a teacher t of shape (batch, nL).

    t is None for targets that ignore it ("entropy", "output"), in (0, 1) for "cross_entropy",
    standard normal otherwise; x is standard normal.

    batch: an int, or a (min, max) pair (default (1, 8)).
    kinks: what to do about relu's kink at 0 (only matters when the spec has a relu layer):
        "avoid" (default): every relu pre-activation z has |z| > margin, so finite differences never
            straddle a kink (samples that come too close are redrawn); needs params=.
        "allow": no control.
        "on": one sample has a first-layer relu pre-activation exactly 0.0, on purpose (needs params= and a
            relu first layer); a checker must then report a kink, not a mismatch.
    params: the parameters the inputs are for (from params_for); required by kinks "avoid" and "on" when
        the spec has a relu layer.
    margin: distance from the kink for kinks="avoid", a finite number >= 0 (default 1e-3).
    """
    _check_spec(spec)
    lo, hi = _batch_range(batch)
    if kinks not in KINKS:
        raise ValueError(f"kinks={kinks!r}; choose 'avoid' (keep relu inputs away from 0), 'allow' or 'on'")
    if isinstance(margin, bool) or not isinstance(margin, (int, float, np.floating)) or not np.isfinite(margin) \
            or margin < 0:
        raise ValueError(f"margin={margin!r} must be a finite number >= 0")
    has_relu = "relu" in spec.layer_activations
    if kinks == "on" and spec.layer_activations[0] != "relu":
        raise ValueError(f"kinks='on' puts a first-layer relu input on 0, but this spec's first activation is "
                         f"{spec.layer_activations[0]!r}; use network_specs(activations=('relu',)) or kinks='allow'")
    if has_relu and kinks != "allow":
        if params is None:
            raise ValueError(f"kinks={kinks!r} needs params= (the relu pre-activations depend on them): "
                             f"inputs_for(spec, params=params), or kinks='allow'")
    if params is not None:
        from gradcheck.reference_nets._spec import check_params
        params = check_params(spec, params)
    control = has_relu and kinks != "allow"

    @st.composite
    def data(draw):
        n = draw(st.integers(lo, hi))
        rng = np.random.default_rng(draw(_SEEDS))
        X = rng.normal(size=(n, spec.sizes[0]))
        if control and kinks == "avoid":
            for _ in range(_RESAMPLES):
                bad = ~_clear_rows(spec, params, X, margin)
                if not bad.any():
                    break
                X[bad] = rng.normal(size=(int(bad.sum()), spec.sizes[0]))
            assume(bool(_clear_rows(spec, params, X, margin).all()))
        elif control and kinks == "on":
            row = _put_on_kink(spec, params, X[0])
            assume(row is not None)
            X[draw(st.integers(0, n - 1))] = row
        if spec.target in NO_TEACHER:
            t = None
        elif spec.target == "cross_entropy":
            t = rng.uniform(0.05, 0.95, size=(n, spec.sizes[-1]))
        else:
            t = rng.normal(size=(n, spec.sizes[-1]))
        return X, t

    return data()
