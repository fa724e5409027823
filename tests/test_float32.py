"""float32 gradients as sharp as the arithmetic allows: a function's float64 rerun, arrays' sharp tier."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gradcheck as gc
from tests import mlp_zoo as zoo


def _net(seed: int, act: str = "tanh", sizes=(40, 96, 96, 4)):
    net = zoo.MLP(sizes, act=act, loss_kind="squared_error", dtype=np.float32, batch=8, seed=seed)
    return net, net.init_params()


def test_a_gradient_function_is_checked_at_float64_sharpness_through_its_float64_rerun():
    net, p = _net(0)
    g = net.grad(p)
    report = gc.assert_grads_match(net.loss, p, net.grad, mode="fast")
    assert all(r.checked_at_float64 and r.dtype == "float32" for r in report.params)
    assert "also run with float64 params" in report.message()
    assert max(r.float32_roundoff for r in report.params) > 0            # the float32 round-off, measured
    key, j = "W1", int(np.argsort(np.abs(g["W1"]).reshape(-1))[g["W1"].size // 2])
    wrong = lambda q: zoo.with_relative_error(net.grad(q), key, j, 0.01)  # noqa: E731
    report = gc.grads_report(net.loss, p, wrong, mode="fast")
    assert not report.passed
    assert "float64 result, checked at float64 sharpness" in report.message()


def test_a_function_that_rounds_to_float32_inside_is_checked_as_float32():
    net, p = _net(1, "sigmoid")

    def grad_in_float32(q):
        return net.grad({k: np.asarray(v, dtype=np.float32) for k, v in q.items()})

    report = gc.assert_grads_match(net.loss, p, grad_in_float32, mode="fast")
    assert not any(r.checked_at_float64 for r in report.params)


def test_a_float32_path_that_computes_something_else_fails_on_its_own():
    net, p = _net(2)

    def branchy(q):
        g = net.grad(q)
        if q["W1"].dtype == np.float32:       # a float32-only formula with a bug
            g["b1"] = g["b1"] * np.float32(1.5)
        return g

    report = gc.grads_report(net.loss, p, branchy, mode="fast")
    assert not report.passed
    bad = [r for r in report.params if not r.passed]
    assert [r.path for r in bad] == ["params['b1']"] and bad[0].float32_mismatch
    assert "different results for float32 and float64 params" in report.message()



def test_a_smooth_f_computed_in_float32_is_not_read_as_kinked():
    """0.5 (tanh(w x) - t)^2 in float32 near its minimum: the step stays large for the noise, and the outer kink
    statistic, against an inner one that had fallen to noise, read the curvature as a kink; the interval then let a
    50 % error pass with a kink note. A kink at the point shows in the inner statistic as much."""
    w, x, t = 1.2347788871626744, 0.5247914532927936, 0.5638864305604904

    def f(p):
        y = np.tanh(np.float32(p["w"][0]) * np.float32(x))
        return float(np.float32(0.5) * (y - np.float32(t)) ** 2)

    x32, t32 = float(np.float32(x)), float(np.float32(t))
    y = np.tanh(float(np.float32(w)) * x32)
    g = (y - t32) * (1 - y ** 2) * x32        # the derivative of f as computed (float32 constants)
    report = gc.grads_report(f, {"w": np.array([w])}, {"w": np.array([g])})
    assert report.passed and report.params[0].n_kinks == 0
    for off in (1.5, 1.05):
        assert not gc.grads_report(f, {"w": np.array([w])}, {"w": np.array([off * g])}).passed


def test_at_a_kink_the_float32_result_may_take_the_other_slope_and_nothing_else():
    """relu(X[0] @ w + b) with the unit exactly at 0 in float32 and at 1.5e-8 in float64: the float32 result takes
    relu'(0) = 0, the float64 one relu' = 1. Both are valid at a kink (the check failed, while saying that any value
    between the one-sided slopes passes); a float32 path that adds 30 % still fails."""
    X = np.array([[0.4116305363741328, 1.0425133694426776, -0.12853466294403426],
                  [1.3664634705496859, -0.6651946734866135, 0.3515100700930197]])
    p = {"w": np.array([0.90347016, 0.0940123, -0.7434993], dtype=np.float32), "b": np.float32(-0.5654704)}

    def f(q):
        return float(np.sum(np.maximum(X.astype(q["w"].dtype) @ q["w"] + q["b"], 0)))

    def grad(q, bug=0.0):
        x = X.astype(q["w"].dtype)
        d = (x @ q["w"] + q["b"] > 0).astype(q["w"].dtype)
        gw = x.T @ d
        if q["w"].dtype == np.float32:
            gw = gw + np.float32(bug) * (1 + np.abs(gw))
        return {"w": gw, "b": np.asarray(d.sum(), dtype=q["w"].dtype)}

    report = gc.grads_report(f, p, grad)
    assert report.passed and {r.path: r.n_kinks for r in report.params} == {"params['w']": 3, "params['b']": 1}
    buggy = gc.grads_report(f, p, lambda q: grad(q, bug=0.3))
    assert [r.path for r in buggy.params if r.float32_mismatch] == ["params['w']"]

def test_a_function_overflowing_only_in_float32_is_not_excused_by_its_float64_rerun():
    p = {"w": np.array([50.0, 1.0], dtype=np.float32)}
    f = lambda q: float(np.sum(np.exp(q["w"].astype(np.float64))))  # noqa: E731
    grad = lambda q: {"w": np.exp(q["w"] * 2) / np.exp(q["w"])}  # noqa: E731  inf/inf in float32
    with np.errstate(over="ignore", invalid="ignore"):
        assert not gc.grads_report(f, p, grad, mode="full").passed


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000))
def test_arrays_pass_when_right_and_a_miss_is_always_one_the_resolution_announced(seed):
    rng = np.random.default_rng(seed)
    net = zoo.random_mlp(rng, min_params=2_000, max_params=12_000, dtype=np.float32)
    p = net.init_params()
    g = net.grad(p)
    gc.assert_grads_match(net.loss, p, g, mode="fast", seed=seed)
    key, j = zoo.median_weight_element(g, rng)
    report = gc.grads_report(net.loss, p, zoo.with_relative_error(g, key, j, 0.01), mode="fast", seed=seed)
    if report.passed:
        res = next(r.resolution for r in report.params if r.path == f"params['{key}']")
        assert res is not None and zoo.relative_error_size(g, key, j, 0.01) < res


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_arrays_sharp_tier_states_a_resolution_far_below_the_blanket_floors(seed):
    """Most float32 backward passes carry far less round-off than the dtype's blanket floor allows:
    where the random directions show that, the stated resolution follows (rtol=3e-4 given
    explicitly is the blanket floor, with no sharp tier)."""
    net, p = _net(10 + seed, "softplus", sizes=(30, 64, 3))
    g = net.grad(p)
    sharp = gc.assert_grads_match(net.loss, p, g, mode="fast").params[0].resolution
    blanket = gc.assert_grads_match(net.loss, p, g, mode="fast", rtol=3e-4).params[0].resolution
    assert sharp < blanket / 20


def test_an_f_flat_for_float32_is_measured_with_steps_as_large_as_the_parameters():
    """The entropy of a logistic layer with weights near 1e-3, computed in float32: f (about 14) moves by less
    than a float32 step until the weights move by about their own size, so the noise table widens that far
    (stopping at a hundredth of it failed about half of these correct gradients)."""
    f32 = np.float32
    for seed in range(6):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((3, 3))
        params = {"W": (rng.standard_normal((3, 7)) * 1e-3).astype(f32), "b": (rng.standard_normal(7) * 1e-4).astype(f32)}

        def f(p):
            y = 1 / (1 + np.exp(-(f32(x) @ np.asarray(p["W"], f32) + np.asarray(p["b"], f32))))
            return float(-np.sum(y * np.log(y) + (1 - y) * np.log(1 - y)))

        def grads(p):
            z = x @ p["W"] + p["b"]
            dz = -z / (1 + np.exp(-z)) / (1 + np.exp(z))     # dH/dz = -z y (1 - y)
            return {"W": x.T @ dz, "b": dz.sum(0)}

        report = gc.grads_report(f, params, grads, oracle="fd")
        assert report.passed, (seed, report.message())
