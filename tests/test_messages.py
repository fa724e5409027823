"""Failure messages as their reader sees them: hints only where the evidence supports them."""
from __future__ import annotations

import numpy as np
import pytest

import gradcheck as gc
from gradcheck.compare import compare_arrays
from gradcheck.report import describe_comparison

EPS_BN = 1e-5


def _batchnorm_case(n=8, seed=0):
    rng = np.random.default_rng(seed)
    x, c = rng.standard_normal(n), rng.standard_normal(n)

    def f(p):
        mu = p.mean()
        return float(np.sum(c * (p - mu) / np.sqrt(np.mean((p - mu) ** 2) + EPS_BN)))

    def grad(p, eps):
        mu = p.mean()
        var = np.mean((p - mu) ** 2)
        s = np.sqrt(var + eps)
        xhat = (p - mu) / s
        return (c - c.mean() - xhat * np.mean(c * xhat)) / s

    return f, x, grad


def _message(f, params, grads, **kw) -> str:
    with pytest.raises(gc.GradientMismatch) as info:
        gc.assert_grads_match(f, params, grads, **kw)
    return str(info.value)


@pytest.mark.parametrize("mode", ["fast", "full"])
def test_float64_batchnorm_without_eps_fails_with_no_tolerance_advice(mode):
    f, x, grad = _batchnorm_case()
    gc.assert_grads_match(f, x, grad(x, EPS_BN), mode=mode)
    msg = _message(f, x, grad(x, 0.0), mode=mode)
    assert "rtol=1e-4" not in msg and "float32" not in msg and "round-off" not in msg


def test_a_small_offset_in_float64_gets_no_tolerance_advice():
    f, x, grad = _batchnorm_case()
    msg = _message(f, x, grad(x, EPS_BN) + 1e-6)
    assert "rtol=1e-4" not in msg and "float32" not in msg


def test_float32_values_returned_as_float64_are_recognised():
    f, x, grad = _batchnorm_case(n=32)
    g32 = grad(x.astype(np.float32), np.float32(EPS_BN)).astype(np.float32).astype(np.float64)
    msg = _message(f, x, g32, mode="full")
    assert "float32 numbers stored as float64" in msg and "return the float32 arrays" in msg


def test_a_real_error_in_float32_arrays_gets_no_round_off_note():
    f, x, grad = _batchnorm_case(n=16)
    g = grad(x, EPS_BN).astype(np.float32)
    j = int(np.argmax(np.abs(g)))
    g[j] *= 1.05
    msg = _message(f, x.astype(np.float32), g, mode="full")
    assert "round-off" not in msg and f"worst at [{j}]" in msg


def test_a_difference_within_float32_round_off_range_points_at_measuring_it():
    f, x, grad = _batchnorm_case(n=16)
    g = grad(x, EPS_BN).astype(np.float32)
    g[3] += 2 * 3e-4 * np.max(np.abs(g))        # twice the float32 floor: could be round-off
    msg = _message(f, x.astype(np.float32), g, mode="full")
    assert "if these differences are its round-off" in msg and "accepts float64 params" in msg
    assert "rtol=1e" not in msg


def test_no_round_off_note_when_the_gradient_was_not_given():
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    @jax.custom_vjp
    def square(v):
        return v * v

    square.defvjp(lambda v: (v * v, v), lambda v, ct: (ct * v * 1.0001,))   # 2v expected, v*1.0001 given
    p = {"w": np.linspace(0.5, 1.5, 5).astype(np.float32)}
    msg = _message(lambda q: jnp.sum(square(q["w"])), p, None, mode="full")
    assert "accepts float64 params" not in msg and "round-off" not in msg
    assert "½" in msg or "0.5" in msg


def test_nonzero_where_the_gradient_is_exactly_zero_says_so():
    mask = np.array([1.0, 0.0, 1.0, 1.0])
    x = np.array([0.3, 3.43, -0.7, 1.1])
    f = lambda p: float(np.sum(mask * p ** 2))  # noqa: E731
    msg = _message(f, x, 2 * x, mode="full")    # forgot the mask
    assert "nonzero where the gradient is exactly 0 (a missing mask?)" in msg
    assert "max rel err inf (expected exactly 0)" in msg
    assert "[1]" in msg


def test_a_mutation_message_shows_the_change():
    def f(p):
        p["w"][0] += 1e-9
        return float(np.sum(p["w"] ** 2))

    with pytest.raises(gc.InPlaceMutation) as info:
        gc.grads_report(f, {"w": np.array([0.12573, 1.0])}, {"w": np.zeros(2)})
    text = str(info.value)
    was, now = text.split("went from ")[1].split(")")[0].split(" to ")
    assert was != now and float(was) == 0.12573


def test_jacobian_messages_are_grammatical():
    msg = str(gc.jacobian_report(lambda x: 3 * x, np.ones(2), 2 * np.eye(2)))
    assert msg.startswith("Jacobian does not match") and "parameter(s)" not in msg and "do not match" not in msg
    assert "2 of 4 elements differ" in msg
    ok = str(gc.jacobian_report(lambda x: 3 * x, np.ones(2), 3 * np.eye(2)))
    assert ok.startswith("Jacobian matches") and "parameter" not in ok


def test_gradient_messages_count_parameters_in_words():
    p = {"a": np.ones(2), "b": np.ones(3)}
    f = lambda q: float(np.sum(q["a"] ** 2) + np.sum(q["b"] ** 2))  # noqa: E731
    msg = _message(f, p, {"a": 2 * p["a"], "b": 3 * p["b"]})
    assert "1 of 2 parameters differs" in msg and "3 of 3 elements differ" in msg and "(s)" not in msg
    assert "1 parameter" in str(gc.grads_report(lambda w: float(w @ w), np.ones(2), 2 * np.ones(2)))


def test_describe_comparison_has_numpys_shape_and_the_zero_case():
    cmp = compare_arrays(np.array([1.0, 2.0, 3.5]), np.array([1.0, 2.0, 0.0]), rtol=1e-7, atol=0)
    text = describe_comparison("dW", cmp)
    assert text.splitlines()[0] == "dW: 1 of 3 elements differs (rtol=1.0e-07, atol=0.0e+00)"
    assert "worst at [2]: yours 3.5, expected 0" in text
    assert "max rel difference inf at [2] (nonzero where the gradient is exactly 0 (a missing mask?))" in text
    close = compare_arrays(np.array([0.12573000001]), np.array([0.12573]), rtol=1e-12, atol=0)
    assert "yours 0.12573000001, expected 0.12573" in describe_comparison("b", close)


def test_an_element_finite_differences_cannot_see_is_said_not_passed_silently():
    """Binary cross-entropy written naively at w = 33: 1 - sigmoid(33) keeps a digit or two, f is mostly
    round-off, and the error bar (about 47) dwarfs the gradient (0.57). Any value would pass: the report says
    so; at w = 2 nothing is said."""
    import warnings

    def f(p):
        y = 1 / (1 + np.exp(-p["w"][0]))
        return float(-(0.43 * np.log(y) + 0.57 * np.log(1 - y)))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        blind = gc.grads_report(f, {"w": np.array([33.0])}, {"w": np.zeros(1)})
        seen = gc.grads_report(f, {"w": np.array([2.0])}, {"w": 1 / (1 + np.exp(-np.array([2.0]))) - 0.43})
    assert blind.passed and any(n.startswith("params['w']: 1 element could not be checked") for n in blind.notes)
    assert "could not be checked" in blind.message()
    assert seen.passed and not any("could not be checked" in n for n in seen.notes)


def test_a_full_mode_pass_states_a_resolution_that_holds_for_every_element():
    """b's elements are tiny against f (a 1e-9 term): a 2x error on b[0] is inside finite differences' bar and
    passes. The pass says how coarse it was, and an error just above each parameter's stated resolution fails
    wherever it is put."""
    rng = np.random.default_rng(0)
    W, x, b = rng.normal(size=(4, 3)), rng.normal(size=3), np.array([1e-3, 2.0, 0.5])

    def f(p):
        return float(np.sum(np.tanh(p["W"] @ x)) + 1e-9 * np.sum(p["b"] ** 3))

    grads = {"W": np.outer(1 - np.tanh(W @ x) ** 2, x), "b": 3e-9 * b ** 2}
    report = gc.grads_report(f, {"W": W, "b": b}, grads, mode="full")
    coarsest = max(report.params, key=lambda p: p.resolution)
    assert report.passed and (f"  Every element was compared: an error above {coarsest.resolution:.2g} in any of "
                              f"them would have shown ({coarsest.path}, the coarsest).") in report.message()
    doubled = {"W": grads["W"], "b": grads["b"] * np.array([2.0, 1.0, 1.0])}
    assert gc.grads_report(f, {"W": W, "b": b}, doubled, mode="full").passed   # 3e-15: below what it resolves
    for name, param in zip(("W", "b"), report.params):
        for j in range(grads[name].size):
            wrong = {k: v.copy() for k, v in grads.items()}
            wrong[name].flat[j] += 1.01 * param.resolution
            assert not gc.grads_report(f, {"W": W, "b": b}, wrong, mode="full").passed, (name, j)


def test_a_scalar_parameter_is_not_given_an_empty_index():
    kink = gc.grads_report(lambda w: float(abs(w)), np.float64(0.0), np.float64(0.3)).message()
    zero = gc.grads_report(lambda w: float(w ** 2), np.float64(0.0), np.float64(0.3)).message()
    assert "[]" not in kink and "[]" not in zero
    assert kink.rstrip().endswith("passes)") and "(a missing mask?): 1 element\n" in zero
    arrays = gc.grads_report(lambda w: float(np.sum(np.abs(w))), np.zeros(2), np.array([0.3, 0.1])).message()
    assert arrays.rstrip().endswith("passes): [0], [1]")

    def float32_path(s):   # a float32-only formula that computes something else, on a scalar
        return np.asarray(np.cos(s) * (1.5 if s.dtype == np.float32 else 1.0), dtype=s.dtype)

    narrow = gc.grads_report(lambda s: float(np.sin(s)), np.float32(0.3), float32_path).message()
    assert "float32 round-off" in narrow and "[]" not in narrow
