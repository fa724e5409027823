"""Ties: at a shared kink the gradient must be a subgradient as a vector, not only element by element."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradcheck as gc

MODES = ("auto", "fast", "full")


def tie_max(p):
    return float(np.max(p))


@pytest.mark.parametrize("mode", MODES)
def test_the_gradient_sent_to_every_tied_maximum_fails_in_every_mode(mode):
    report = gc.grads_report(tie_max, np.array([1.0, 1.0]), np.array([1.0, 1.0]), mode=mode)
    assert not report.passed
    message = report.message()
    assert "moved together" in message and "no subgradient" in message
    assert "params[0] + params[1]" in message


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("grad", [[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
def test_a_shared_gradient_at_a_tie_passes_in_every_mode(mode, grad):
    gc.assert_grads_match(tie_max, np.array([1.0, 1.0]), np.array(grad), mode=mode)


@settings(max_examples=12, deadline=None)
@given(k=st.integers(2, 4), seed=st.integers(0, 10_000), extra=st.sampled_from([-0.3, -0.05, 0.05, 0.5]))
def test_max_over_k_ties_passes_exactly_the_simplex(k, seed, extra):
    rng = np.random.default_rng(seed)
    x = np.full(k, 0.7)
    w = rng.dirichlet(np.ones(k))                       # a convex combination: a subgradient
    gc.assert_grads_match(tie_max, x, w, mode="full")
    off = w.copy()
    off[int(rng.integers(k))] += extra                  # each element may stay within [0, 1]; the sum is off
    assert not gc.grads_report(tie_max, x, off, mode="full").passed


def test_max_pool_windows_are_tested_one_window_at_a_time():
    pool = lambda p: float(np.max(p[:2]) + np.max(p[2:]))  # noqa: E731  two windows, each tied
    x = np.array([1.0, 1.0, 2.0, 2.0])
    for good in ([1, 0, 1, 0], [0, 1, 0.5, 0.5], [1, 0, 0, 1]):
        gc.assert_grads_match(pool, x, np.array(good, float), mode="full")
    # every element within [0, 1] and the total right (2), but window one gets 2 and window two 0
    assert not gc.grads_report(pool, x, np.array([1.0, 1.0, 0.0, 0.0]), mode="full").passed


def test_sort_and_min_ties():
    c = np.array([3.0, 1.0, 2.0])
    weighted_sort = lambda p: float(np.sort(p) @ c)  # noqa: E731
    x = np.array([1.0, 1.0, 0.5])                   # the two largest tie: they share c[1] + c[2] = 3
    for good in ([2.0, 1.0, 3.0], [1.0, 2.0, 3.0], [1.5, 1.5, 3.0]):
        gc.assert_grads_match(weighted_sort, x, np.array(good), mode="full")
    assert not gc.grads_report(weighted_sort, x, np.array([2.0, 2.0, 3.0]), mode="full").passed
    gc.assert_grads_match(lambda p: float(np.min(p)), np.ones(2), np.array([0.25, 0.75]), mode="full")
    assert not gc.grads_report(lambda p: float(np.min(p)), np.ones(2), np.array([1.0, 1.0]), mode="full").passed


@settings(max_examples=10, deadline=None)
@given(g=st.lists(st.floats(-1, 1), min_size=3, max_size=3))
def test_abs_at_zero_in_several_places_accepts_any_subgradient(g):
    """Separate kinks: the one-sided slopes add up, so no pair is tested together."""
    gc.assert_grads_match(lambda p: float(np.sum(np.abs(p))), np.zeros(3), np.array(g), mode="full")


def test_separate_relu_kinks_of_opposite_curvature_are_not_coupled():
    """relu(p0) - relu(p1) at 0: relu'(0) = 0 gives [0, 0]; moving both together is smooth (slope 0)."""
    f = lambda p: float(np.maximum(p[0], 0) - np.maximum(p[1], 0))  # noqa: E731
    for g in ([0.0, 0.0], [1.0, -1.0], [1.0, 0.0]):
        gc.assert_grads_match(f, np.zeros(2), np.array(g), mode="full")
    assert not gc.grads_report(f, np.zeros(2), np.array([2.0, 0.0]), mode="full").passed


def test_a_relu_net_with_units_exactly_at_zero_passes_with_relu_prime_zero():
    """Units of one sample exactly at 0 (a zero input row and zero biases): kinks at the point, no false tie."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 3))
    x[0] = 0.0
    t = rng.standard_normal((4, 2))
    p = {"W1": rng.standard_normal((3, 5)), "b1": np.zeros(5), "W2": rng.standard_normal((5, 2)), "b2": np.zeros(2)}

    def f(q):
        h = np.maximum(x @ q["W1"] + q["b1"], 0)
        return 0.5 * float(np.sum((h @ q["W2"] + q["b2"] - t) ** 2))

    def grad(q):
        v = x @ q["W1"] + q["b1"]
        h = np.maximum(v, 0)
        d2 = h @ q["W2"] + q["b2"] - t
        d1 = (d2 @ q["W2"].T) * (v > 0)
        return {"W1": x.T @ d1, "b1": d1.sum(0), "W2": h.T @ d2, "b2": d2.sum(0)}

    for mode in MODES:
        report = gc.assert_grads_match(f, p, grad, mode=mode)
        assert sum(r.n_kinks for r in report.params) > 0 or mode == "fast"
