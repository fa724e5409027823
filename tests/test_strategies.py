"""gradcheck.strategies: what they draw, what they refuse, and that they serve gradient checks."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import gradcheck
from gradcheck.strategies import DEFAULT_MARGIN, inputs_for, network_specs, params_for
from gradcheck.reference_nets import ACTIVATIONS, NetSpec, backprop, loss
from gradcheck.reference_nets._matrix import forward_cache

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _relu_z(spec, params, x):
    nets, _ = forward_cache(spec, params, x)
    return [nets[l] for l, a in enumerate(spec.layer_activations, start=1) if a == "relu"]


@FAST
@given(network_specs(min_layers=2, max_layers=3, min_width=2, max_width=5, activations=("tanh", "relu"),
                     targets=("half_sse", "mse"), layouts="out_in", bias=False))
def test_network_specs_respect_every_bound(spec):
    assert 2 <= spec.n_layers <= 3
    assert all(2 <= n <= 5 for n in spec.sizes)
    assert set(spec.layer_activations) <= {"tanh", "relu"}
    assert spec.target in ("half_sse", "mse") and spec.layout == "out_in" and spec.bias is False


@FAST
@given(network_specs(targets=("cross_entropy", "entropy")))
def test_log_targets_get_a_logistic_output_layer(spec):
    assert spec.layer_activations[-1] == "logistic"


@FAST
@given(network_specs(activations="relu"))
def test_log_targets_are_left_out_when_logistic_is_not_allowed(spec):
    assert spec.target not in ("cross_entropy", "entropy")
    assert spec.layer_activations == ("relu",) * spec.n_layers


def test_network_specs_reach_every_activation_target_layout_and_bias():
    seen = {"acts": set(), "targets": set(), "layouts": set(), "bias": set()}

    @settings(max_examples=200, deadline=None)
    @given(network_specs())
    def collect(spec):
        seen["acts"].update(spec.layer_activations)
        seen["targets"].add(spec.target)
        seen["layouts"].add(spec.layout)
        seen["bias"].add(spec.bias)

    collect()
    assert seen["acts"] == set(ACTIVATIONS)
    assert seen["layouts"] == {"in_out", "out_in"} and seen["bias"] == {True, False}
    assert len(seen["targets"]) == 5


@FAST
@given(st.data())
def test_params_and_inputs_fit_the_spec(data):
    spec = data.draw(network_specs(max_width=4))
    params = data.draw(params_for(spec, scale=0.5))
    assert {k: v.shape for k, v in params.items()} == spec.param_shapes()
    x, t = data.draw(inputs_for(spec, params=params, batch=(2, 3), kinks="allow"))
    assert x.shape[1] == spec.sizes[0] and 2 <= x.shape[0] <= 3
    if spec.target in ("entropy", "output"):
        assert t is None
    else:
        assert t.shape == (x.shape[0], spec.sizes[-1])
        if spec.target == "cross_entropy":
            assert ((t > 0) & (t < 1)).all()
    assert np.isfinite(loss(spec, params, x, t))


@FAST
@given(st.data())
def test_kinks_avoid_keeps_relu_inputs_away_from_zero(data):
    spec = data.draw(network_specs(activations=("relu", "tanh"), max_width=6))
    params = data.draw(params_for(spec))
    x, _ = data.draw(inputs_for(spec, params=params, batch=8))
    for z in _relu_z(spec, params, x):
        assert np.abs(z).min() > DEFAULT_MARGIN


def test_kinks_avoid_resamples_inputs_that_sit_on_a_kink():
    """Without bias, x = 0 would put every relu input on 0: avoid must move such samples."""
    spec = NetSpec((2, 3, 1), activations="relu", bias=False)
    params = {"W1": np.ones((2, 3)), "W2": np.ones((3, 1))}
    big = 0.5   # a margin most standard-normal draws miss at least once in a batch of 8

    @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
    @given(inputs_for(spec, params=params, batch=8, margin=big))
    def check(xt):
        z = xt[0] @ params["W1"]
        assert np.abs(z).min() > big

    check()


@FAST
@given(st.data())
def test_kinks_on_puts_a_first_layer_relu_input_exactly_on_zero(data):
    spec = data.draw(network_specs(activations="relu", max_width=5))
    params = data.draw(params_for(spec))
    x, _ = data.draw(inputs_for(spec, params=params, kinks="on"))
    z1 = _relu_z(spec, params, x)[0]
    assert (z1 == 0.0).any()


@FAST
@given(st.data())
def test_drawn_networks_pass_a_gradient_check_against_reference_backprop(data):
    spec = data.draw(network_specs(max_layers=2, max_width=4))
    params = data.draw(params_for(spec))
    x, t = data.draw(inputs_for(spec, params=params, batch=(1, 3)))
    grads = backprop(spec, params, x, t).grads
    gradcheck.assert_grads_match(lambda p: loss(spec, p, x, t), params, grads, oracle="fd")


@pytest.mark.parametrize("call, error, words", [
    (lambda: network_specs(min_layers=0), ValueError, "min_layers=0"),
    (lambda: network_specs(min_layers=3, max_layers=2), ValueError, "max_layers=2"),
    (lambda: network_specs(max_width=2.5), TypeError, "max_width=2.5"),
    (lambda: network_specs(min_width=True), TypeError, "min_width=True"),
    (lambda: network_specs(activations=("relu", "swish")), ValueError, "'swish'"),
    (lambda: network_specs(activations=()), ValueError, "activations=()"),
    (lambda: network_specs(targets="hinge"), ValueError, "'hinge'"),
    (lambda: network_specs(layouts=("row",)), ValueError, "'row'"),
    (lambda: network_specs(bias="yes"), TypeError, "bias='yes'"),
    (lambda: network_specs(activations="relu", targets="entropy"), ValueError, "'logistic'"),
    (lambda: params_for("spec"), TypeError, "spec='spec'"),
    (lambda: params_for(NetSpec((2, 1)), scale=0), ValueError, "scale=0"),
    (lambda: params_for(NetSpec((2, 1)), scale=float("nan")), ValueError, "scale=nan"),
    (lambda: inputs_for(NetSpec((2, 1)), batch=0), ValueError, "batch=0"),
    (lambda: inputs_for(NetSpec((2, 1)), batch=(4, 2)), ValueError, "batch=(4, 2)"),
    (lambda: inputs_for(NetSpec((2, 1)), batch="8"), TypeError, "batch='8'"),
    (lambda: inputs_for(NetSpec((2, 1)), kinks="near"), ValueError, "kinks='near'"),
    (lambda: inputs_for(NetSpec((2, 1)), margin=-1.0), ValueError, "margin=-1.0"),
    (lambda: inputs_for(NetSpec((2, 1), activations="relu")), ValueError, "needs params="),
    (lambda: inputs_for(NetSpec((2, 1)), kinks="on"), ValueError, "first activation is 'logistic'"),
    (lambda: inputs_for(NetSpec((2, 1)), params={"W1": np.ones((3, 1))}), ValueError, "W1"),
])
def test_bad_arguments_fail_when_the_strategy_is_built(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert words in str(info.value)


def test_arguments_are_keyword_only():
    with pytest.raises(TypeError):
        network_specs(1, 3)
    with pytest.raises(TypeError):
        params_for(NetSpec((2, 1)), 2.0)
    with pytest.raises(TypeError):
        inputs_for(NetSpec((2, 1)), None, 4)


def test_importing_strategies_does_not_import_jax():
    code = "import sys, gradcheck.strategies; print('jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
