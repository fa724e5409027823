"""assert_value_and_grad_match: fg(params) -> (loss, grad), scipy's jac=True shape."""
import numpy as np
import pytest

from gradcheck import (GradientMismatch, NonScalarOutput, StructureMismatch, assert_value_and_grad_match,
                       value_and_grad_report)

X = np.random.default_rng(0).standard_normal((8, 3))
T = np.random.default_rng(1).standard_normal(8)
P = {"w": np.array([0.3, -0.5, 1.2]), "b": np.array(0.1)}


def loss_and_grad(p, bug=1.0):
    r = np.tanh(X @ p["w"] + p["b"]) - T
    d = r * (1 - np.tanh(X @ p["w"] + p["b"]) ** 2)
    dw = X.T @ d
    dw[2] *= bug
    return 0.5 * float(r @ r), {"w": dw, "b": d.sum()}


def test_correct_pair_passes_and_fg_is_called_once_per_evaluation():
    calls = []

    def fg(p):
        calls.append(1)
        return loss_and_grad(p)
    report = assert_value_and_grad_match(fg, P)
    # every evaluation of f is one call; the gradient half costs one call at params (plus one float64 re-call at most)
    assert len(calls) <= report.n_evals + 2


def test_one_percent_off_is_found():
    with pytest.raises(GradientMismatch) as info:
        assert_value_and_grad_match(lambda p: loss_and_grad(p, bug=1.01), P)
    bad = info.value.report.failures
    assert [b.path for b in bad] == ["params['w']"] and bad[0].worst_index == (2,)


def test_grad_with_the_wrong_shape_is_a_structure_mismatch_naming_the_leaf():
    def fg(p):
        loss, g = loss_and_grad(p)
        return loss, {"w": g["w"][:2], "b": g["b"]}
    with pytest.raises(StructureMismatch, match=r"\['w'\].*shape \(2,\)"):
        value_and_grad_report(fg, P)


def test_scipy_style_flat_vector():
    def fg(x):
        return float(np.sum(np.sin(x) * x)), np.cos(x) * x + np.sin(x)
    assert value_and_grad_report(fg, np.array([0.2, -1.0, 3.0])).passed


def test_a_function_returning_only_the_loss_is_told_what_to_use():
    with pytest.raises(NonScalarOutput, match="assert_grads_match"):
        value_and_grad_report(lambda p: 1.0, P)
