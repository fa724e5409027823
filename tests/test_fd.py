"""The finite-difference oracle on its own: measured noise, steps, error bars, kinks."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradcheck as gc
from gradcheck import fd


def _along(f, x0, u):
    return lambda tau: f(x0 + tau * u)


def test_noise_of_a_float32_internal_function_is_measured_not_assumed():
    rng = np.random.default_rng(0)
    a = rng.standard_normal(50)
    f64 = lambda x: float(np.sum(np.sin(x) * a))  # noqa: E731
    f32 = lambda x: float(np.sum(np.sin(x.astype(np.float32)) * a.astype(np.float32), dtype=np.float32))  # noqa: E731
    x0, u = rng.standard_normal(50), rng.standard_normal(50)
    n64 = fd.estimate_noise(_along(f64, x0, u), f64(x0))
    n32 = fd.estimate_noise(_along(f32, x0, u), f32(x0))
    scale = abs(f64(x0))
    assert n64.sigma < 1e-13 * max(scale, 1)
    assert n32.sigma > 1e3 * n64.sigma            # float32 inside is visible in the measurement
    assert n32.sigma < 1e-4 * max(scale, 1)
    assert fd.choose_step(n32) > fd.choose_step(n64)


def test_cancellation_makes_f_noisier_than_its_value_suggests():
    rng = np.random.default_rng(1)
    x0, u = rng.standard_normal(20), rng.standard_normal(20)
    big = 1e8
    f = lambda x: float((big + np.sum(x**2)) - big)  # noqa: E731  (value ~ 20, rounding ~ 1e-8)
    n = fd.estimate_noise(_along(f, x0, u), f(x0))
    assert n.sigma > 1e-10                      # eps*|f| would claim ~1e-15


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["sin", "exp", "logistic", "poly"]))
def test_error_bar_covers_the_true_derivative(seed, kind):
    rng = np.random.default_rng(seed)
    n = 8
    a = rng.standard_normal(n)
    funcs = {
        "sin": (lambda x: np.sum(np.sin(a * x)), lambda x: a * np.cos(a * x)),
        "exp": (lambda x: np.sum(np.exp(0.3 * a * x)), lambda x: 0.3 * a * np.exp(0.3 * a * x)),
        "logistic": (lambda x: np.sum(1 / (1 + np.exp(-a * x))), lambda x: a * np.exp(-a * x) / (1 + np.exp(-a * x)) ** 2),
        "poly": (lambda x: np.sum(a * x**3 - x**2), lambda x: 3 * a * x**2 - 2 * x),
    }
    f, df = funcs[kind]
    x0, u = rng.standard_normal(n), rng.standard_normal(n)
    phi = _along(f, x0, u)
    noise = fd.estimate_noise(phi, f(x0))
    est = fd.derivative(phi, f(x0), fd.choose_step(noise), noise.sigma)
    true = float(df(x0) @ u)
    assert not est.kink
    assert abs(float(est.value) - true) <= float(est.error)
    assert float(est.error) <= 1e-6 * (abs(true) + np.abs(df(x0)) @ np.abs(u))  # and the bar is not vacuous


def test_kink_is_detected_with_its_one_sided_slopes():
    phi = lambda tau: abs(tau) * 3.0 + 0.5 * tau  # noqa: E731   slopes -2.5 and 3.5
    noise = fd.estimate_noise(phi, phi(0.0))
    est = fd.derivative(phi, 0.0, fd.choose_step(noise), noise.sigma)
    assert bool(est.kink)
    assert float(est.lo) <= -2.5 + 1e-6 and float(est.hi) >= 3.5 - 1e-6
    assert float(est.hi) - float(est.lo) < 6.5


def test_a_kink_near_but_not_at_the_point_is_resolved_by_a_smaller_step():
    t0 = 1e-4
    phi = lambda tau: max(tau - 1.5 * t0, 0.0) + tau  # noqa: E731   kink at 1.5 t0, slope 1 at 0
    est = fd.derivative(phi, 0.0, t0, np.float64(1e-17))
    assert not bool(est.kink)
    assert abs(float(est.value) - 1.0) <= float(est.error) + 1e-12


def test_vector_valued_phi_is_handled_elementwise():
    phi = lambda tau: np.array([np.sin(tau), np.exp(2 * tau), abs(tau)])  # noqa: E731
    noise = fd.estimate_noise(phi, phi(0.0))
    est = fd.derivative(phi, phi(0.0), fd.choose_step(noise), noise.sigma)
    assert np.allclose(est.value[:2], [1.0, 2.0], atol=1e-8)
    assert list(est.kink) == [False, False, True]


def test_float32_output_grid_sets_a_noise_floor():
    """f returns float32 values: its differences can line up exactly on float32's grid."""
    phi = lambda tau: float(np.float32(1.19 + 4.7e-3 * tau))  # noqa: E731  exactly linear on the grid
    noise = fd.estimate_noise(phi, phi(0.0))
    assert noise.sigma >= np.finfo(np.float32).eps


def test_a_kink_at_the_point_survives_the_finer_retry_of_a_noisy_function():
    """The jump of a kink at 0 does not shrink with the step, though the noise threshold grows."""
    est = fd.derivative(lambda tau: max(tau, 0.0), 0.0, 1e-3, 3e-6)
    assert bool(est.kink)
    assert float(est.lo) <= 0.0 and float(est.hi) >= 1.0


def test_curvature_on_the_outer_points_is_not_a_kink_but_a_kink_the_inner_points_miss_is():
    """The outer points see 8 times the inner ones' fourth-derivative term: a smooth curve whose curvature
    shows there (and not on the inner points) is smooth, while a kink at 2t/3, where the inner statistic is
    blind, is still caught."""
    t, sigma = 1e-2, 1e-12
    quartic = lambda tau: 1e-4 * tau + 1e-4 * tau ** 4           # noqa: E731   t^4 phi''''/24 = sigma
    est = fd.central(quartic, quartic(0.0), t, sigma)
    assert est.jump < 40 * sigma / t < 8 * est.jump * 2           # only the outer one (8 x jump) is above noise
    assert not bool(est.kink)
    blind = lambda tau: 1e-4 * tau + 1e-3 * max(tau - 2 * t / 3, 0.0)   # noqa: E731
    est = fd.central(blind, blind(0.0), t, sigma)
    assert est.jump < 40 * sigma / t and bool(est.kink)


def test_a_function_flat_near_the_point_has_no_noise_from_the_kink_its_table_widens_into():
    """A dead ReLU unit: phi is exactly constant near 0, so the noise table widens until it crosses the
    unit's kink. The kink is on one side only; the flat side is phi's noise, and the derivative is 0."""
    for kink in (0.02, 2.5e-4):        # crossed by the widest table only, or by the one before it too
        phi = lambda tau, k=kink: 0.7 + 0.3 * max(tau - k, 0.0)   # noqa: E731
        noise = fd.estimate_noise(phi, phi(0.0))
        assert noise.sigma < 1e-14, kink
        est = fd.derivative(phi, phi(0.0), fd.choose_step(noise), noise.sigma)
        assert not bool(est.kink) and float(est.value) == 0.0 and float(est.error) < 1e-10, kink


def test_a_dead_relu_unit_at_one_percent_from_its_kink_passes_with_its_zero_gradient():
    from gradcheck.reference_nets import NetSpec, backprop, init_params, loss

    spec = NetSpec(sizes=(3, 1), activations="relu", bias=False, layout="in_out", target="half_sse")
    params = init_params(spec, seed=450, scale=1.0)
    x, t = np.array([[-0.21626123, -1.00392454, -0.39299854]]), np.array([[0.21495735]])   # x @ W1 = -0.013
    grads = backprop(spec, params, x, t).grads
    assert not np.any(grads["W1"])
    gc.assert_grads_match(lambda p: loss(spec, p, x, t), params, grads, oracle="fd")
    with pytest.raises(gc.GradientMismatch):            # and a gradient through the dead unit is still caught
        gc.assert_grads_match(lambda p: loss(spec, p, x, t), params, {"W1": grads["W1"] + [[0], [1e-6], [0]]},
                              oracle="fd")


def test_a_staircase_is_noise_not_kinks():
    """log(1 - sigmoid(w)) at w = 25: 1 - sigmoid rounds to steps of float64's spacing near 1, so f is a
    staircase with steps 4e-6 apart. Closer in, between two steps, f is smooth with the wrong slope: the
    steps are f's noise, and the correct gradient passes while 1 % off still fails."""
    w, t = np.array([0.5, 25.0]), np.array([0.33, 0.43])

    def f(p):
        y = 1 / (1 + np.exp(-p["w"]))
        return float(-np.sum(t * np.log(y) + (1 - t) * np.log(1 - y)))

    g = 1 / (1 + np.exp(-w)) - t
    gc.assert_grads_match(f, {"w": w}, {"w": g})
    for k in (0, 1):
        with pytest.raises(gc.GradientMismatch, match=rf"worst at \[{k}\]"):
            gc.assert_grads_match(f, {"w": w}, {"w": g * np.where(np.arange(2) == k, 1.01, 1.0)})


def test_noise_is_not_measured_along_a_direction_f_does_not_move_in():
    """f = (float32(w) + float32(b))**2: a random direction weighted to give w and b equal shares of
    <g, u> keeps w + b fixed half the time, and f is then exactly constant along it: no noise to see there,
    although each parameter alone moves f on float32's grid. Another direction is drawn."""
    f32 = np.float32

    def f(p):
        return float((f32(p["w"]) + f32(p["b"])) ** 2)

    for seed in range(4):
        report = gc.grads_report(f, {"w": np.float64(1.0), "b": np.float64(2.0)},
                                 {"w": np.float64(6.0), "b": np.float64(6.0)}, seed=seed)
        assert report.passed and report.noise > 1e-7, (seed, report.message())
