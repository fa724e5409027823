"""replay_random=True: a stochastic f (dropout) draws the same mask at every evaluation."""
import random

import numpy as np
import pytest

import gradcheck
from gradcheck.replay import random_sources, replaying
from tests.torch_functions import optional

X = np.random.default_rng(2).standard_normal((6, 4))
W0 = np.random.default_rng(1).standard_normal((4, 3))


def dropout_loss_and_grad(draw):
    """f and its hand-written gradient for ||dropout(X W)||^2, the mask drawn by draw(shape) at each call."""
    def f(p):
        h = X @ p["W"]
        mask = draw(h.shape) > 0.5
        return float(np.sum((h * mask * 2.0) ** 2))

    def grad(p):
        h = X @ p["W"]
        mask = draw(h.shape) > 0.5
        return {"W": X.T @ (2 * (h * mask * 2.0) * mask * 2.0)}
    return f, grad


def test_without_the_option_a_stochastic_f_is_a_usage_error_that_names_it():
    f, grad = dropout_loss_and_grad(lambda s: np.random.rand(*s))
    with pytest.raises(gradcheck.NonDeterministic) as info:
        gradcheck.grads_report(f, {"W": W0}, grad)
    assert "replay_random=True" in str(info.value)


@pytest.mark.parametrize("source", ["numpy global", "python random", "generator in closure", "generator on self"])
def test_dropout_replayed_correct_passes_and_wrong_fails(source):
    if source == "numpy global":
        draw = lambda s: np.random.rand(*s)  # noqa: E731
    elif source == "python random":
        draw = lambda s: np.array([random.random() for _ in range(int(np.prod(s)))]).reshape(s)  # noqa: E731
    elif source == "generator in closure":
        rng = np.random.default_rng(5)
        draw = lambda s: rng.random(s)  # noqa: E731
    else:
        class Layer:
            def __init__(self):
                self.rng = np.random.default_rng(7)

            def draw(self, s):
                return self.rng.random(s)
        draw = Layer().draw
    f, grad = dropout_loss_and_grad(draw)
    assert gradcheck.grads_report(f, {"W": W0}, grad, replay_random=True).passed
    wrong = lambda p: {"W": grad(p)["W"] * 1.01}  # noqa: E731
    assert not gradcheck.grads_report(f, {"W": W0}, wrong, replay_random=True).passed


def test_generator_passed_in_params_and_state_is_restored():
    gen = np.random.default_rng(3)
    found = random_sources(lambda p: 0.0, {"W": W0, "extra": [gen]})
    before = gen.bit_generator.state
    f2, _ = replaying(lambda p: gen.random(), None, {"W": W0, "extra": [gen]})
    assert f2({}) == f2({})
    assert gen.bit_generator.state == before
    assert len(found) >= 3  # numpy global, random, the generator


def test_grads_passed_as_arrays_are_left_alone():
    f2, g2 = replaying(np.sum, {"W": np.ones(2)}, {"W": np.ones(2)})
    assert np.array_equal(g2["W"], np.ones(2))


class TestTorch:
    torch = optional("torch")  # skipped per test, so the numpy tests still run without it

    def test_torch_dropout_replayed(self):
        torch = self.torch
        drop = torch.nn.Dropout(0.5)
        x = torch.tensor(X)

        def f(p):
            return (drop(x @ p["W"]) ** 2).sum()

        params = {"W": torch.tensor(W0)}
        report = gradcheck.grads_report(f, params, replay_random=True)
        assert report.passed


def test_a_dropout_layer_whose_generator_is_one_of_the_params():
    """The Generator passes through to f untouched (not differentiated) and its draws are replayed."""
    x = np.random.default_rng(5).normal(size=(6, 4))
    params = {"W": np.random.default_rng(6).normal(size=(4, 3)), "rng": np.random.default_rng(7)}

    def f(p):
        keep = p["rng"].random((6, 3)) > 0.5
        return float(np.sum((x @ p["W"]) * keep / 0.5))

    def grads(p):
        keep = p["rng"].random((6, 3)) > 0.5
        return {"W": x.T @ (keep / 0.5)}          # no gradient for the generator: its key may be left out

    assert gradcheck.grads_report(f, params, grads, replay_random=True).passed
    wrong = lambda p: {"W": grads(p)["W"] * np.r_[1.01, 1, 1, 1][:, None], "rng": None}  # noqa: E731
    report = gradcheck.grads_report(f, params, wrong, replay_random=True)
    assert not report.passed and [p.path for p in report.params] == ["params['W']"]
    with pytest.raises(gradcheck.NonDeterministic, match="replay_random=True"):
        gradcheck.grads_report(f, params, grads)
