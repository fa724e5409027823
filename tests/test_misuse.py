"""Every misuse gives a usage error (never an AssertionError) that says how to fix the call."""
from __future__ import annotations

import numpy as np
import pytest

import gradcheck as gc

P = {"W": np.array([[1.0, 2.0], [3.0, 4.0]]), "b": np.array([0.5, -0.5])}


def f(p):
    return float(np.sum(np.tanh(p["W"] @ np.ones(2) + p["b"])))


def grads(p):
    z = p["W"] @ np.ones(2) + p["b"]
    d = 1 - np.tanh(z) ** 2
    return {"W": np.outer(d, np.ones(2)), "b": d}


def _usage(exc_type, match, *args, **kw):
    with pytest.raises(exc_type, match=match) as info:
        gc.assert_grads_match(*args, **kw)
    assert not isinstance(info.value, AssertionError)
    return str(info.value)


def test_sanity_the_fixture_gradient_is_right():
    gc.assert_grads_match(f, P, grads)


def test_missing_key_is_named():
    msg = _usage(gc.StructureMismatch, "missing from grads", f, P, {"W": grads(P)["W"]})
    assert "grads['b']" in msg


def test_extra_key_is_named():
    g = {**grads(P), "c": np.zeros(2)}
    msg = _usage(gc.StructureMismatch, "not in params", f, P, g)
    assert "grads['c']" in msg


def test_shape_mismatch_names_both_shapes_and_suggests_reshape():
    g = grads(P)
    g["b"] = g["b"].reshape(2, 1)
    msg = _usage(gc.StructureMismatch, r"\(2, 1\)", f, P, g)
    assert "(2,)" in msg and "reshape" in msg


def test_structure_mismatch_list_vs_dict():
    _usage(gc.StructureMismatch, "structure", f, P, [grads(P)["W"], grads(P)["b"]])


def test_non_scalar_f_points_to_vjp():
    msg = _usage(gc.NonScalarOutput, r"shape \(2,\)", lambda p: p["b"] * 2, P, grads)
    assert "assert_vjp_match" in msg


def test_f_returning_loss_and_cache_tuple():
    _usage(gc.NonScalarOutput, r"lambda p: f\(p\)\[0\]", lambda p: (f(p), None), P, grads)


def test_f_raising_shows_its_exception():
    def bad(p):
        raise KeyError("W9")

    with pytest.raises(gc.FunctionRaised, match="KeyError") as info:
        gc.assert_grads_match(bad, P, grads)
    assert isinstance(info.value.__cause__, KeyError)


def test_gradient_function_raising_is_a_usage_error():
    def bad_grads(p):
        return 1 / 0

    _usage(gc.FunctionRaised, "ZeroDivisionError", f, P, bad_grads)


def test_non_numeric_params():
    _usage(gc.NonNumericParams, "not a real numeric array", f, {"W": np.array(["a", "b"])}, grads)
    _usage(gc.NonNumericParams, "complex", f, {"W": np.array([1j])}, grads)


def test_nondeterministic_f_says_fix_the_seed():
    rng = np.random.default_rng()

    def dropout_loss(p):
        keep = rng.random(2)          # a fresh dropout-like mask at every call
        return f(p) + float(np.sum(keep * p["b"]))

    msg = _usage(gc.NonDeterministic, "not deterministic", dropout_loss, P, grads)
    assert "seed" in msg and "dropout" in msg


def test_in_place_mutation_is_reported_and_user_arrays_untouched():
    params = {k: v.copy() for k, v in P.items()}

    def sgd_inside(p):
        value = f(p)
        p["W"] -= 0.1      # an update inside the loss
        return value

    msg = _usage(gc.InPlaceMutation, r"modified params\['W'\] in place", sgd_inside, params, grads)
    assert "W = W - lr*dW" in msg
    np.testing.assert_array_equal(params["W"], P["W"])


def test_gradient_function_mutating_params_is_reported():
    def g_mutating(p):
        out = grads(p)
        p["b"][0] = 99.0
        return out

    _usage(gc.InPlaceMutation, "your gradient function modified", f, P, g_mutating)


def test_bad_options_are_usage_errors():
    for kw, match in [({"oracle": "magic"}, "oracle="), ({"mode": "quick"}, "mode="),
                      ({"rtol": -1}, "rtol="), ({"atol": "big"}, "atol=")]:
        _usage(gc.GradcheckUsageError, match, f, P, grads, **kw)


@pytest.mark.parametrize("check", ["grads", "jvp"])
def test_tolerances_may_be_numpy_scalars_and_nothing_else(check):
    """rtol/atol of any real numpy type are numbers like any other (every entry point says the same)."""
    x, v = np.array([0.5, -1.0]), np.array([1.0, 2.0])

    def run(**tol):
        if check == "grads":
            return gc.grads_report(lambda w: float(np.sum(np.sin(w))), x, np.cos, **tol)
        return gc.jvp_report(np.sin, x, v, lambda t: np.cos(x) * t, **tol)
    for value in (np.float32(1e-6), np.float16(1e-3), np.int64(0), 1e-6, 0):
        assert run(rtol=value, atol=value).passed
    for value in (True, np.bool_(False), -1.0, float("nan"), "1e-6"):
        with pytest.raises(gc.GradcheckUsageError, match=r"rtol=.*it must be a number >= 0"):
            run(rtol=value)


def test_oracle_jax_on_numpy_f_explains():
    _usage(gc.GradcheckUsageError, "JAX-differentiable", f, P, grads, oracle="jax")


def test_no_grads_and_numpy_f_explains():
    _usage(gc.GradcheckUsageError, "grads was not given", f, P)


def test_nan_loss_at_params():
    _usage(gc.GradcheckUsageError, "finite", lambda p: float("nan"), P, grads)


def test_not_callable_f():
    with pytest.raises(TypeError, match="callable"):
        gc.grads_report(3.0, P, grads)


def test_torch_tensors_as_params():
    torch = pytest.importorskip("torch")
    tp = {k: torch.tensor(v) for k, v in P.items()}

    def tf(p):
        return float(torch.tanh(p["W"] @ torch.ones(2, dtype=p["W"].dtype) + p["b"]).sum())

    gc.assert_grads_match(tf, tp, {k: torch.tensor(v) for k, v in grads(P).items()})
