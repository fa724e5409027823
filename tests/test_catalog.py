"""The bug catalog: each mistake changes the gradient where it applies, and diagnose names it."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gradcheck.reference_nets import (CATALOG, NetSpec, backprop, backprop_loops, diagnose, forward, init_params,
                            input_jacobian, input_jacobian_batch)
from gradcheck.reference_nets._activations import logistic

try:  # tests/ may or may not be a package
    from tests.test_reference_nets_strategies import data, nets, no_dead_relu
except ImportError:
    from test_reference_nets_strategies import data, nets, no_dead_relu

BACKPROP_BUGS = sorted(n for n, b in CATALOG.items() if "backprop" in b.functions)
JACOBIAN_BUGS = sorted(n for n, b in CATALOG.items() if "jacobian" in b.functions)
REQUIRED = {"no_output_derivative", "no_hidden_derivative", "derivative_of_output", "error_sign_flipped",
            "missing_half", "batch_mean_instead_of_sum", "batch_sum_instead_of_mean", "bias_from_one_sample",
            "weight_grad_transposed", "wrong_layer_activations", "forward_weights_not_transposed",
            "relu_derivative_is_value", "jacobian_transposed"}


def rel_diff(a: dict, b: dict) -> float:
    return max(np.linalg.norm(a[k] - b[k]) / max(np.linalg.norm(b[k]), 1e-300) for k in b)


def test_catalog_entries_are_complete():
    assert REQUIRED <= set(CATALOG)
    for name, bug in CATALOG.items():
        assert bug.name == name and bug.title and bug.description and bug.functions
        assert len(bug.title) < 80 and "\n" not in bug.title, name


@pytest.mark.parametrize("name", BACKPROP_BUGS)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(net=nets(min_batch=2, max_batch=4, min_width=2, max_width=3))
def test_bug_changes_gradient_and_diagnose_names_it(name, net):
    spec, params, x, t = net
    assume(CATALOG[name].applies(spec, "backprop") and no_dead_relu(spec, params, x, min_active=2))
    correct = backprop(spec, params, x, t).grads
    buggy = backprop(spec, params, x, t, bug=name).grads
    assert {k: v.shape for k, v in buggy.items()} == {k: v.shape for k, v in correct.items()}
    diff = rel_diff(buggy, correct)
    assert diff > 1e-10, f"{name} left every gradient unchanged on {spec}"
    # some mistakes are faint (tanh'(tanh v) differs from tanh'(v) by O(v^4)): diagnose finer than that
    report = diagnose(spec, params, x, t, buggy, rtol=min(1e-8, diff / 100))
    assert report, f"diagnose found nothing wrong with {name}'s gradients"
    for key, names in report.items():
        assert name in names, f"{key}: diagnose said {names}, expected {name!r} among them"


# The two φ'-forgetting mistakes do not apply where the layers concerned are linear or relu; with relu the
# gradient still changes wherever a unit is off (relu' = 0 there), so those specs are tested separately below.
_RELU_DEPENDENT = {"no_output_derivative": lambda s: s.layer_activations[-1:],
                   "no_hidden_derivative": lambda s: s.layer_activations[:-1]}


@pytest.mark.parametrize("name", sorted(set(BACKPROP_BUGS) - {"error_sign_flipped", "missing_half"}))  # always apply
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(net=nets(min_batch=1, max_batch=4))
def test_bug_that_does_not_apply_changes_nothing(name, net):
    spec, params, x, t = net
    assume(not CATALOG[name].applies(spec, "backprop"))
    if name in _RELU_DEPENDENT:
        assume("relu" not in _RELU_DEPENDENT[name](spec))
    correct = backprop(spec, params, x, t).grads
    buggy = backprop(spec, params, x, t, bug=name).grads
    assert rel_diff(buggy, correct) < 1e-12


@pytest.mark.parametrize("name, activations", [("no_output_derivative", ("logistic", "relu")),
                                               ("no_hidden_derivative", ("relu", "linear"))])
def test_forgetting_relus_derivative_shows_only_where_a_unit_is_off(name, activations):
    spec = NetSpec((2, 3, 2), activations, True, "in_out", "half_sse")
    params = {"W1": np.full((2, 3), 0.5), "b1": np.full(3, 0.5), "W2": np.full((3, 2), 0.5), "b2": np.full(2, 0.5)}
    x, t = np.array([[1.0, 2.0], [0.5, 0.25]]), np.ones((2, 2))
    assert not CATALOG[name].applies(spec, "backprop")
    every_unit_on = rel_diff(backprop(spec, params, x, t, bug=name).grads, backprop(spec, params, x, t).grads)
    assert every_unit_on < 1e-12
    off = dict(params, b1=np.array([-5.0, 0.5, 0.5]), b2=np.array([-5.0, 0.5]))   # one unit per layer off
    some_unit_off = rel_diff(backprop(spec, off, x, t, bug=name).grads, backprop(spec, off, x, t).grads)
    assert some_unit_off > 1e-3


@settings(max_examples=30, deadline=None)
@given(nets())
def test_diagnose_on_correct_gradients_names_nothing(net):
    spec, params, x, t = net
    assert diagnose(spec, params, x, t, backprop(spec, params, x, t).grads) == {}
    assert diagnose(spec, params, x, t, backprop_loops(spec, params, x, t).grads) == {}


@pytest.mark.parametrize("name", JACOBIAN_BUGS)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(net=nets(min_batch=1, max_batch=2, min_width=2, max_width=3))
def test_jacobian_bug_changes_jacobian(name, net):
    spec, params, x, _ = net
    # two active relu units per layer: with one, W and its transpose can act alike on the diagonal
    assume(CATALOG[name].applies(spec, "jacobian") and no_dead_relu(spec, params, x, min_active=2))
    J = input_jacobian(spec, params, x[0])
    bad = input_jacobian(spec, params, x[0], bug=name)
    if name == "jacobian_transposed":
        assert bad.shape == J.shape[::-1]
        np.testing.assert_array_equal(bad, J.T)
        # the batched path sums in another order: an element that cancels is only as good as the largest one
        np.testing.assert_allclose(input_jacobian_batch(spec, params, x, bug=name)[0], J.T, rtol=1e-13,
                                   atol=1e-13 * np.abs(J).max())
    else:
        assert bad.shape == J.shape
        assume(np.abs(J).max() > 1e-12)  # a jacobian that is all zero hides every bug
        assert np.linalg.norm(bad - J) > 1e-10 * np.linalg.norm(J), f"{name} left the Jacobian unchanged"


def test_backprop_rejects_jacobian_only_bug():
    spec = NetSpec((2, 2))
    with pytest.raises(ValueError, match="for backprop"):
        backprop(spec, init_params(spec), np.zeros(2), np.zeros(2), bug="jacobian_transposed")


def test_diagnose_a_hand_written_student_gradient():
    """A student writes sigmoid_prime(a) where a = sigmoid(z) is already the activation."""
    spec = NetSpec((3, 4, 2), "logistic", layout="in_out", target="half_sse")
    params, x, t = data(spec, 3, 5)

    def sigmoid_prime(z):
        return logistic(z) * (1 - logistic(z))

    h = logistic(x @ params["W1"] + params["b1"])
    y = logistic(h @ params["W2"] + params["b2"])
    d2 = (y - t) * sigmoid_prime(y)
    d1 = (d2 @ params["W2"].T) * sigmoid_prime(h)
    student = {"W1": x.T @ d1, "b1": d1.sum(0), "W2": h.T @ d2, "b2": d2.sum(0)}
    report = diagnose(spec, params, x, t, student)
    assert set(report) == {"W1", "b1", "W2", "b2"}
    assert all(names == ["derivative_of_output"] for names in report.values()), report

    student_fixed = {**student, "W2": h.T @ ((y - t) * y * (1 - y))}
    assert diagnose(spec, params, x, t, student_fixed)["W1"] == ["derivative_of_output"]
    assert "W2" not in diagnose(spec, params, x, t, student_fixed)


def test_diagnose_non_square_transpose_and_unknown_mistake():
    spec = NetSpec((3, 4, 2), "tanh", target="mse")
    params, x, t = data(spec, 5, 4)
    grads = backprop(spec, params, x, t).grads
    report = diagnose(spec, params, x, t, {**grads, "W1": grads["W1"].T, "b2": grads["b2"] + 1.0})
    assert report == {"W1": ["weight_grad_transposed"], "b2": []}
    with pytest.raises(ValueError, match="lacks \\['b2'\\]"):
        diagnose(spec, params, x, t, {k: v for k, v in grads.items() if k != "b2"})


def test_batch_bugs_follow_the_target():
    x_spec = dict(sizes=(2, 3, 2), activations=("tanh", "linear"))
    for target, scale_bug, factor in [("mse", "batch_sum_instead_of_mean", 4.0),
                                      ("half_sse", "batch_mean_instead_of_sum", 0.25)]:
        spec = NetSpec(**x_spec, target=target)
        params, x, t = data(spec, 11, 4)
        correct = backprop(spec, params, x, t).grads
        buggy = backprop(spec, params, x, t, bug=scale_bug).grads
        for k in correct:
            np.testing.assert_allclose(buggy[k], factor * correct[k], rtol=1e-12)


def test_docs_list_every_catalog_entry():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "reference-nets.md").read_text(encoding="utf-8")
    missing = [name for name in CATALOG if f"| `{name}` |" not in text]
    assert not missing, f"docs/reference-nets.md lacks catalog rows for {missing}"


def test_applies_per_function():
    only_first_square = NetSpec((2, 2, 3), "tanh")
    bug = CATALOG["forward_weights_not_transposed"]
    assert not bug.applies(only_first_square, "backprop")
    assert bug.applies(only_first_square, "jacobian") and bug.applies(only_first_square)
    assert not CATALOG["jacobian_transposed"].applies(only_first_square, "backprop")
    assert not CATALOG["missing_half"].applies(only_first_square, "jacobian")
