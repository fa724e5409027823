"""Properties over random hand-written MLPs at the default mode (mode='auto'): float32 and float64,
smooth and ReLU, kinks exactly at the point included.

0 false failures, and 0 misses of a 1 % single-element error where the default mode runs the
full check (small nets: within the auto budget); beyond it, a miss must be one the report's
stated resolution announced.
"""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import gradcheck as gc
from gradcheck import tolerances
from tests import mlp_zoo as zoo

SETTINGS = dict(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def small_nets(draw, acts=tuple(zoo.ACTIVATIONS)):
    sizes = tuple(draw(st.lists(st.integers(1, 6), min_size=2, max_size=4)))
    sizes = sizes[:-1] + (max(sizes[-1], 2),)
    return zoo.MLP(sizes, act=draw(st.sampled_from(acts)), loss_kind=draw(st.sampled_from(zoo.LOSSES)),
                   dtype=draw(st.sampled_from([np.float32, np.float64])), batch=draw(st.integers(1, 6)),
                   seed=draw(st.integers(0, 2**20)))


def _wrong_element(net, g, seed):
    """A random element of a block whose gradient is not all zero (a dead block has no 1 % to take),
    where 1 % is above the dtype's element floor: in float32, 100 eps of the largest gradient
    element anywhere is round-off no check can see through (tolerances.resolve)."""
    rng = np.random.default_rng(seed)
    live = sorted(k for k in g if np.any(g[k] != 0))
    assume(live)
    key = str(rng.choice(live))
    j = int(rng.integers(g[key].size))
    block = np.abs(np.asarray(g[key], dtype=np.float64))
    everywhere = max(float(np.max(np.abs(v))) for v in g.values())
    rtol, atol = tolerances.resolve(g[key].dtype, None, None, float(block.max()), everywhere)
    assume(zoo.relative_error_size(g, key, j, 0.01) > 2 * (atol + rtol * float(block.reshape(-1)[j])))
    return key, j


@settings(**SETTINGS)
@given(net=small_nets(), as_function=st.booleans(), seed=st.integers(0, 1000))
def test_small_nets_at_the_default_mode_no_false_failure_and_no_miss(net, as_function, seed):
    p = net.init_params()
    g = net.grad(p)
    report = gc.assert_grads_match(net.loss, p, net.grad if as_function else g, seed=seed)
    assert report.mode == "full"                           # small and cheap: within the auto budget
    key, j = _wrong_element(net, g, seed)
    if as_function:
        wrong = lambda q: zoo.with_relative_error(net.grad(q), key, j, 0.01)  # noqa: E731
    else:
        wrong = zoo.with_relative_error(g, key, j, 0.01)
    assert not gc.grads_report(net.loss, p, wrong, seed=seed).passed


@settings(**SETTINGS)
@given(net=small_nets(acts=("relu", "leaky_relu")), seed=st.integers(0, 1000))
def test_relu_nets_with_units_exactly_at_zero_pass_at_the_default_mode(net, seed):
    """A zero input row and zero biases put every first-layer unit of that sample exactly on its kink."""
    net.x[0] = 0
    p = net.init_params()
    p["b1"] = np.zeros_like(p["b1"])
    gc.assert_grads_match(net.loss, p, net.grad, seed=seed)
    gc.assert_grads_match(net.loss, p, net.grad(p), mode="fast", seed=seed)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), act=st.sampled_from(["relu", "tanh", "elu"]),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_beyond_the_budget_fast_mode_never_false_fails_and_misses_only_what_it_announced(seed, act, dtype):
    rng = np.random.default_rng(seed)
    net = zoo.random_mlp(rng, min_params=3_000, max_params=15_000, dtype=dtype, act=act)
    p = net.init_params()
    g = net.grad(p)
    gc.assert_grads_match(net.loss, p, g, mode="fast", seed=seed)
    key, j = zoo.median_weight_element(g, rng)
    wrong = lambda q: zoo.with_relative_error(net.grad(q), key, j, 0.01)  # noqa: E731
    report = gc.grads_report(net.loss, p, wrong, mode="fast", seed=seed)
    if report.passed:
        res = next(r.resolution for r in report.params if r.path == f"params['{key}']")
        assert res is not None and zoo.relative_error_size(g, key, j, 0.01) < res
