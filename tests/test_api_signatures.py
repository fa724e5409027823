"""Public signatures: spelled out, validated, no private switches."""
from __future__ import annotations

import inspect

import numpy as np
import pytest

import gradcheck as gc

PUBLIC = ["grads_report", "assert_grads_match", "vjp_report", "assert_vjp_match", "jacobian_report",
          "assert_jacobian_match"]


@pytest.mark.parametrize("name", PUBLIC)
def test_no_private_or_catch_all_parameters(name):
    params = inspect.signature(getattr(gc, name)).parameters.values()
    assert not [p.name for p in params if p.name.startswith("_")]
    assert not [p.name for p in params if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]


def test_a_private_switch_is_refused():
    with pytest.raises(TypeError):
        gc.assert_grads_match(lambda p: float(p @ p), np.ones(2), 2 * np.ones(2), _kind="jacobian")


@pytest.mark.parametrize("kw, match", [({"mode": "banana"}, "mode="), ({"rtol": -1}, "rtol="),
                                       ({"atol": "x"}, "atol="), ({"oracle": "jax"}, "oracle="),
                                       ({"mode": "fast"}, "every column"), ({"seed": 1.5}, "seed=")])
def test_jacobian_options_are_validated(kw, match):
    with pytest.raises(gc.GradcheckUsageError, match=match):
        gc.jacobian_report(lambda x: 3 * x, np.ones(2), 3 * np.eye(2), **kw)


def test_replay_random_is_a_bool_and_replays_the_draws():
    with pytest.raises(gc.GradcheckUsageError, match="replay_random"):
        gc.grads_report(lambda p: float(p @ p), np.ones(2), 2 * np.ones(2), replay_random="yes")
    rng = np.random.default_rng(0)

    def f(p):
        mask = rng.uniform(size=p.shape) < 0.5     # dropout drawn inside f
        return float(np.sum((p * mask) ** 2))

    with pytest.raises(gc.NonDeterministic, match="replay_random=True"):
        gc.grads_report(f, np.ones(4), np.zeros(4))
    pytest.importorskip("gradcheck.replay")

    def grads(p):
        mask = rng.uniform(size=p.shape) < 0.5
        return 2 * p * mask

    assert gc.grads_report(f, np.linspace(1, 2, 4), grads, replay_random=True).passed


def test_vjp_without_a_vjp_says_what_to_pass():
    with pytest.raises(gc.GradcheckUsageError, match="Pass your vjp"):
        gc.vjp_report(lambda x: x ** 2, np.ones(3), np.ones(3), None)
