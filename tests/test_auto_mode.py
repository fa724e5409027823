"""mode='auto': every element where the full check fits the budget, random directions beyond."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import gradcheck as gc
from gradcheck import auto, checker


def _quadratic(n):
    p = {"w": np.linspace(-1.0, 1.0, n)}
    return p, (lambda q: float(np.sum(q["w"] ** 2))), {"w": 2 * p["w"]}


@pytest.mark.parametrize("seconds", [1e-4, 1e-2, 0.5])
def test_the_switch_point_is_where_the_full_check_leaves_the_budget(seconds):
    fast_evals = auto.NOISE_EVALS + auto.EVALS_PER_DIRECTION * 2
    budget = max(auto.BUDGET_SECONDS, auto.BUDGET_FAST_MULTIPLE * fast_evals * seconds)
    last_full = int(budget / (auto.EVALS_PER_ELEMENT * seconds) * (1 + 1e-12))
    assert auto.choose_mode(last_full, seconds, 2).mode == "full"
    assert auto.choose_mode(last_full + 1, seconds, 2).mode == "fast"


def test_a_few_elements_are_always_checked_in_full_even_when_f_is_slow():
    # ten times the fast check buys 53 elements whatever f costs
    assert auto.choose_mode(53, 100.0, 2).mode == "full"
    assert auto.choose_mode(54, 100.0, 2).mode == "fast"


def _stub_clock(monkeypatch, seconds_per_tick):
    ticks = itertools.count()
    monkeypatch.setattr(checker, "clock", lambda: next(ticks) * seconds_per_tick)


@pytest.mark.parametrize("n, expected", [(50, "full"), (60, "fast")])
def test_the_check_follows_the_measured_cost_of_f(monkeypatch, n, expected):
    _stub_clock(monkeypatch, 1.0)  # every call of f appears to take one second
    p, f, g = _quadratic(n)
    report = gc.grads_report(f, p, g)
    assert report.passed and report.mode == expected
    assert "mode='auto'" in report.mode_reason and f"{n} element(s)" in report.mode_reason
    assert ("within" if expected == "full" else "over") in report.mode_reason
    checked = report.params[0].checked
    assert (checked == "all elements") == (expected == "full")


def test_tiny_problems_run_in_full_and_huge_ones_fast():
    p, f, g = _quadratic(3)
    small = gc.grads_report(f, p, g)
    assert small.mode == "full" and small.params[0].checked == "all elements"
    p, f, g = _quadratic(1_000_000)
    huge = gc.grads_report(f, p, g)
    assert huge.mode == "fast" and huge.n_evals < 40
    assert huge.params[0].resolution is not None and "resolution" not in huge.mode_reason


def test_a_wrong_element_of_a_small_problem_is_caught_at_the_default():
    p, f, g = _quadratic(40)
    g["w"][17] *= 1.01
    report = gc.grads_report(f, p, g)
    assert not report.passed and report.mode == "full"
    assert report.failures[0].worst_index == (17,)


def test_set_default_mode_returns_the_previous_one_and_explicit_mode_wins():
    p, f, g = _quadratic(5)
    previous = gc.set_default_mode("fast")
    try:
        assert previous == "auto"
        report = gc.grads_report(f, p, g)
        assert report.mode == "fast" and "set_default_mode" in report.mode_reason
        assert gc.grads_report(f, p, g, mode="full").mode == "full"
        assert gc.set_default_mode("full") == "fast"
    finally:
        gc.set_default_mode(previous)
    with pytest.raises(ValueError, match="banana"):
        gc.set_default_mode("banana")


def test_the_report_and_message_say_which_mode_ran():
    p, f, g = _quadratic(4)
    g["w"][0] += 1.0
    with pytest.raises(gc.GradientMismatch) as info:
        gc.assert_grads_match(f, p, g)
    assert "full mode" in str(info.value) and info.value.report.mode_reason
    assert info.value.report.to_dict()["mode_reason"].startswith("mode='auto' compared every element")
