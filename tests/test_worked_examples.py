"""The source texts' worked examples agree with the reference backprop and with finite differences."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcheck.reference_nets import NetSpec, backprop, forward, init_params, loss
from gradcheck.reference_nets.worked_examples import (WEIGHTS_SLIDES, d_epsilon_d_w1_paths, epsilon_slides, forward_slides, gradients_slides,
                                      hidden_weight_gradient, netspec_slides, weights_from_params_slides)

finite = st.floats(-3, 3, allow_nan=False)
weights = st.tuples(*[finite] * 8).map(lambda ws: dict(zip(WEIGHTS_SLIDES, ws)))
unit = st.floats(0, 1)


@settings(max_examples=50, deadline=None)
@given(finite, finite, unit, unit, weights)
def test_slides_output_weight_formula(x1, x2, d1, d2, w):
    f = forward_slides(x1, x2, w)
    g = gradients_slides(x1, x2, d1, d2, w)
    assert g["w5"] == (f.y1 - d1) * f.y1 * (1 - f.y1) * f.h1  # exactly the slide's formula


@settings(max_examples=50, deadline=None)
@given(finite, finite, unit, unit, weights)
def test_slides_w1_is_the_sum_of_two_paths(x1, x2, d1, d2, w):
    via_y1, via_y2 = d_epsilon_d_w1_paths(x1, x2, d1, d2, w)
    assert gradients_slides(x1, x2, d1, d2, w)["w1"] == pytest.approx(via_y1 + via_y2, rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("layout", ["in_out", "out_in"])
@settings(max_examples=30, deadline=None)
@given(finite, finite, unit, unit, weights)
def test_slides_equals_backprop_on_the_equivalent_netspec(layout, x1, x2, d1, d2, w):
    spec, params = netspec_slides(w, layout)
    x, t = np.array([x1, x2]), np.array([d1, d2])
    f = forward_slides(x1, x2, w)
    np.testing.assert_allclose(forward(spec, params, x), [f.y1, f.y2], rtol=1e-14)
    assert loss(spec, params, x, t) == pytest.approx(epsilon_slides(x1, x2, d1, d2, w), rel=1e-13, abs=1e-300)
    ours = weights_from_params_slides(backprop(spec, params, x, t).grads, layout)
    theirs = gradients_slides(x1, x2, d1, d2, w)
    for name in WEIGHTS_SLIDES:
        assert ours[name] == pytest.approx(theirs[name], rel=1e-12, abs=1e-15), name


def test_slides_gradients_match_central_differences():
    rng = np.random.default_rng(0)
    for _ in range(5):
        w = dict(zip(WEIGHTS_SLIDES, rng.normal(size=8)))
        x1, x2, d1, d2 = rng.normal(), rng.normal(), rng.uniform(), rng.uniform()
        g = gradients_slides(x1, x2, d1, d2, w)
        h = 1e-6
        for name in WEIGHTS_SLIDES:
            up, down = {**w, name: w[name] + h}, {**w, name: w[name] - h}
            fd = (epsilon_slides(x1, x2, d1, d2, up) - epsilon_slides(x1, x2, d1, d2, down)) / (2 * h)
            assert g[name] == pytest.approx(fd, rel=1e-6, abs=1e-10), name


def test_slides_mapping_is_not_symmetric_by_accident():
    """Swapping w3 and w2 (a wrong mapping) must change the network: the test above can fail."""
    w = dict(zip(WEIGHTS_SLIDES, np.linspace(-1, 1, 8)))
    spec, params = netspec_slides(w)
    wrong = {**params, "W1": params["W1"].T}
    f = forward_slides(0.3, -0.7, w)
    assert not np.allclose(forward(spec, wrong, np.array([0.3, -0.7])), [f.y1, f.y2])


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_hidden_layer_text_hidden_formula_equals_backprop(n_in, n_hidden, n_out, seed):
    """Any output activation: δ_ℓ comes from backprop, the hidden layer is logistic as in 003."""
    spec = NetSpec((n_in, n_hidden, n_out), ("logistic", "tanh"), bias=True, target="half_sse")
    rng = np.random.default_rng(seed)
    params = init_params(spec, seed=seed)
    x, t = rng.normal(size=n_in), rng.normal(size=n_out)
    bp = backprop(spec, params, x, t)
    o_hidden = 1 / (1 + np.exp(-(x @ params["W1"] + params["b1"])))
    for a in range(n_in):
        for b in range(n_hidden):
            expected = hidden_weight_gradient(bp.deltas[1][0], params["W2"][b, :], o_hidden[b], x[a])
            assert bp.grads["W1"][a, b] == pytest.approx(expected, rel=1e-12, abs=1e-15)
