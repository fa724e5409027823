"""Kinks at constant cost: crossed kinks are stepped around, only kinks at the point are special."""
from __future__ import annotations

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

import gradcheck as gc
from gradcheck import fd
from tests import mlp_zoo as zoo


def _kinked_phi(seed: int, n_kinks: int):
    """A smooth curve plus n_kinks relu kinks spread uniformly over [-1, 1] (none at 0).

    As along a random direction through a ReLU network: the more units, the denser the
    kinks, at every scale.
    """
    rng = np.random.default_rng(seed)
    where = rng.uniform(-1, 1, n_kinks)
    where = where[where != 0]
    slopes = rng.standard_normal(len(where)) / np.sqrt(n_kinks)
    a, b = rng.standard_normal(2)

    def phi(tau):
        return a * tau + b * np.sin(tau) + float(slopes @ np.maximum(tau - where, 0.0))
    true = a + b + float(np.sum(slopes[where < 0]))   # phi'(0): the kinks already passed count
    phi.kinks = where
    return phi, true


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n_kinks=st.sampled_from([10, 1_000, 30_000]))
@example(seed=1125, n_kinks=1_000)     # a kink at 3.7e-7: at the point, as far as any affordable step can tell
@example(seed=1750, n_kinks=30_000)    # kinks on both sides inside the noise table: not noise
@example(seed=562, n_kinks=30_000)     # and one at 3.7e-8, inside the closer table as well
def test_crossed_kinks_are_stepped_around_and_the_error_bar_holds(seed, n_kinks):
    phi, true = _kinked_phi(seed, n_kinks)
    noise = fd.estimate_noise(phi, phi(0.0))
    est = fd.derivative(phi, phi(0.0), fd.choose_step(noise), noise.sigma)
    nearest = float(np.min(np.abs(phi.kinks)))
    if bool(est.kink):
        # a kink far closer to 0 than the smallest step tried (one at 3.7e-7 among 1,000) looks
        # like one at the point over every step the search can afford: then the interval must
        # hold the derivative, and the kink must really sit inside the smallest table
        assert nearest < est.step
        assert float(est.lo) <= true <= float(est.hi)
        return
    assert abs(float(est.value) - true) <= float(est.error)
    assert float(est.error) < 1e-6 * (1 + abs(true))           # and it is sharp


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), jump=st.floats(0.05, 3.0), n_kinks=st.sampled_from([0, 100, 10_000]))
def test_a_kink_at_the_point_is_confirmed_among_crossed_ones(seed, jump, n_kinks):
    phi0, _ = _kinked_phi(seed, n_kinks)
    phi = lambda tau: phi0(tau) + jump * max(tau, 0.0)  # noqa: E731
    noise = fd.estimate_noise(phi, phi(0.0))
    est = fd.derivative(phi, phi(0.0), fd.choose_step(noise), noise.sigma)
    assert bool(est.kink)
    assert float(est.hi) - float(est.lo) >= 0.9 * jump        # the interval spans the two one-sided slopes


def test_relu_net_costs_about_what_a_smooth_one_does_and_sees_a_1_percent_element():
    """The random directions of a ReLU net cross kinks; the step shrinks instead of giving up."""
    net = zoo.MLP((50, 100, 100, 5), act="relu", batch=32, seed=1)     # W1 large enough to bisect
    smooth = zoo.MLP((50, 100, 100, 5), act="tanh", batch=32, seed=1)
    p = net.init_params()
    g = net.grad(p)
    report = gc.assert_grads_match(net.loss, p, g, mode="fast")
    smooth_report = gc.assert_grads_match(smooth.loss, p, smooth.grad(p), mode="fast")
    assert report.n_evals <= 3 * smooth_report.n_evals
    assert all(r.checked == "directional" for r in report.params)   # no element sampling
    assert not any("kinks" in n for n in report.notes)
    j = int(np.argsort(np.abs(g["W1"]).reshape(-1))[g["W1"].size // 2])   # the median element
    res = report.params[0].resolution
    assert res is not None and res < 0.01 * abs(g["W1"].reshape(-1)[j])  # a 1 % error there is promised
    wrong = zoo.with_relative_error(g, "W1", j, 0.01)
    assert not gc.grads_report(net.loss, p, wrong, mode="fast").passed


def test_stated_resolution_comes_from_decisive_directions_only():
    """Kinks at the point (a zero input row, zero biases): the random directions over all
    blocks are inconclusive, so a block's resolution comes from its own directions or is None."""
    rng = np.random.default_rng(0)
    net = zoo.MLP((6, 40, 3), act="relu", batch=8, seed=2)
    net.x[0] = 0.0
    p = net.init_params()
    p["b1"] = np.zeros_like(p["b1"])
    report = gc.assert_grads_match(net.loss, p, net.grad(p), mode="fast", seed=int(rng.integers(100)))
    for r in report.params:
        assert r.resolution is None or r.checked != "all elements"
