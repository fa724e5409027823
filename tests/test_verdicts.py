"""Verdicts on the hard cases: right gradients pass, wrong ones fail and are named."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gradcheck as gc
from tests import mlp_styles as m

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _net(sizes=(5, 7, 4), act="logistic", dtype=np.float64, seed=0, batch=4):
    p, x, t = m.make_net(sizes, seed=seed, dtype=dtype, batch=batch)
    return p, (lambda q: m.loss(q, x, t, act)), m.backward_matrix(p, x, t, act)


@st.composite
def nets(draw):
    depth = draw(st.integers(1, 3))
    sizes = tuple(draw(st.lists(st.integers(1, 6), min_size=depth + 1, max_size=depth + 1)))
    act = draw(st.sampled_from(["logistic", "tanh", "relu"]))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    seed = draw(st.integers(0, 2**16))
    batch = draw(st.integers(1, 5))
    return sizes, act, dtype, seed, batch


@SETTINGS
@given(nets(), st.sampled_from(["fast", "full"]))
def test_correct_gradients_pass(net, mode):
    sizes, act, dtype, seed, batch = net
    p, f, g = _net(sizes, act, dtype, seed, batch)
    report = gc.grads_report(f, p, g, mode=mode, seed=seed)
    assert report.passed, report.message()


@SETTINGS
@given(nets(), st.data())
def test_perturbed_gradients_fail_and_name_the_parameter(net, data):
    sizes, act, dtype, seed, batch = net
    p, f, g = _net(sizes, act, dtype, seed, batch)
    key = data.draw(st.sampled_from(sorted(g)))
    j = data.draw(st.integers(0, g[key].size - 1))
    scale = np.max(np.abs(g[key]))
    # an error well above the dtype's floor, on one element
    bump = (0.05 if dtype == np.float32 else 1e-3) * max(scale, 1e-3) + (0.05 if dtype == np.float32 else 1e-4)
    bad = {k: v.copy() for k, v in g.items()}
    bad[key].reshape(-1)[j] += bump
    report = gc.grads_report(f, p, bad, seed=seed)
    assert not report.passed
    assert [r.path for r in report.failures] == [f"params['{key}']"]
    worst = report.failures[0]
    assert np.ravel_multi_index(worst.worst_index, g[key].shape) == j if g[key].ndim else True


def test_float32_mlp_in_every_style_passes():
    p, x, t = m.make_net((8, 16, 16, 3), dtype=np.float32, batch=8, seed=3)
    f = lambda q: m.loss_all_logistic(q, x, t)  # noqa: E731
    for backward in (m.backward_layers, m.backward_per_sample):
        g = backward(p, x, t)
        assert g["W1"].dtype == np.float32
        gc.assert_grads_match(f, p, g)
        gc.assert_grads_match(f, p, g, mode="full")


def test_relu_net_exactly_on_a_kink_passes_and_reports_the_kink():
    p, x, t = m.make_net((3, 5, 2), seed=1)
    p["b1"][:] = 0.0
    x[0] = 0.0            # sample 0 puts every hidden pre-activation exactly on relu's kink
    f = lambda q: m.loss(q, x, t, "relu")  # noqa: E731
    g = m.backward_matrix(p, x, t, "relu")
    report = gc.assert_grads_match(f, p, g)
    kinked = {r.path: r.n_kinks for r in report.params}
    assert kinked["params['b1']"] > 0
    assert "kink" in report.message()


def test_kink_does_not_hide_a_value_outside_the_one_sided_slopes():
    f = lambda p: float(np.sum(np.abs(p["a"])))  # noqa: E731
    p = {"a": np.array([1.0, 0.0, -2.0])}
    gc.assert_grads_match(f, p, {"a": np.array([1.0, 0.3, -1.0])})  # 0.3 in [-1, 1]: a valid subgradient
    with pytest.raises(gc.GradientMismatch, match=r"params\['a'\]"):
        gc.assert_grads_match(f, p, {"a": np.array([1.0, 1.5, -1.0])})


def test_saturated_sigmoids_pass():
    p, f, g = _net((4, 6, 3), seed=2)
    p["W2"] *= 40.0
    p["b2"] += 25.0
    x_t = m.make_net((4, 6, 3), seed=2)
    f = lambda q: m.loss(q, x_t[1], x_t[2])  # noqa: E731
    g = m.backward_matrix(p, x_t[1], x_t[2])
    gc.assert_grads_match(f, p, g)
    gc.assert_grads_match(f, p, g, mode="full")


def test_loss_scaled_by_1e_minus_9_passes_and_errors_still_fail():
    p, x, t = m.make_net((5, 6, 3), seed=4)
    f = lambda q: 1e-9 * m.loss(q, x, t)  # noqa: E731
    g = {k: 1e-9 * v for k, v in m.backward_matrix(p, x, t).items()}
    gc.assert_grads_match(f, p, g)
    g["b2"] = g["b2"] * 1.01
    with pytest.raises(gc.GradientMismatch, match=r"b2"):
        gc.assert_grads_match(f, p, g)


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_probes_past_a_domain_boundary_are_quiet_for_every_kind_of_check_but_your_point_is_yours():
    x = np.array([1e-9, 0.5])
    assert gc.jacobian_report(np.log, x, np.diag(1 / x)).passed
    assert gc.jvp_report(np.log, x, np.ones(2), lambda t: t / x).passed
    assert gc.vjp_report(np.log, x, np.ones(2), lambda v: v / x).passed
    with pytest.raises(gc.errors.FunctionRaised, match="RuntimeWarning: invalid value encountered in log when "
                       "called with"):   # at your own point, your warning filters apply
        gc.grads_report(lambda w: float(np.sum(np.log(w))), np.array([-1.0, 0.5]), lambda w: 1 / w)


@pytest.mark.filterwarnings("ignore:overflow encountered in exp:RuntimeWarning")   # a saturated sigmoid: 0, rightly
def test_huge_parameters_pass():
    p, x, t = m.make_net((3, 4, 2), seed=5)
    p = {k: 1e4 * v for k, v in p.items()}
    x = 1e-4 * x
    gc.assert_grads_match(lambda q: m.loss(q, x, t), p, m.backward_matrix(p, x, t))


def _one_percent_off(g, j):
    bad = {k: v.copy() for k, v in g.items()}
    bad["W1"].reshape(-1)[j] *= 1.01
    return bad


def test_one_small_element_one_percent_off_fails_in_float64():
    """An error below torch's atol=1e-5, on an 11.5k-parameter MLP."""
    p, x, t = m.make_net((10, 100, 100, 3), batch=16, seed=0)
    g = m.backward_matrix(p, x, t)
    order = np.argsort(np.abs(g["W1"]).ravel())
    j = int(order[len(order) // 4])            # a small element: a quarter of W1 is smaller
    assert 0.01 * abs(g["W1"].ravel()[j]) < 1e-5
    report = gc.grads_report(lambda q: m.loss(q, x, t), p, _one_percent_off(g, j))
    assert not report.passed
    (r,) = report.failures
    assert r.path == "params['W1']" and r.n_mismatch == 1
    assert np.ravel_multi_index(r.worst_index, g["W1"].shape) == j


def test_full_mode_catches_one_percent_on_the_smallest_element():
    p, x, t = m.make_net((6, 20, 3), batch=8, seed=0)
    g = m.backward_matrix(p, x, t)
    j = int(np.argmin(np.abs(g["W1"]).ravel()))
    report = gc.grads_report(lambda q: m.loss(q, x, t), p, _one_percent_off(g, j), mode="full")
    assert not report.passed and report.failures[0].n_mismatch == 1


@pytest.mark.parametrize(
    "bug, key, pattern",
    [
        (lambda g: {**g, "W2": g["W2"] / 2}, "W2", "½ ×"),
        (lambda g: {**g, "W3": -g["W3"]}, "W3", "wrong sign"),
        (lambda g: {**g, "W2": g["W2"].T}, "W2", "transpose"),
        (lambda g: {**g, "b1": np.zeros_like(g["b1"])}, "b1", "all zeros"),
        (lambda g: {**g, "W3": np.where(np.eye(6) > 0, np.nan, g["W3"])}, "W3", "NaN"),
        (lambda g: {**g, "W1": 2 * g["W1"]}, "W1", "2 ×"),
        (lambda g: {**g, "W3": g["W3"] / 4}, "W3", "1/4 ×"),
    ],
)
def test_whole_parameter_bugs_fail_with_a_diagnosis(bug, key, pattern):
    p, x, t = m.make_net((6, 6, 6, 6), batch=4, seed=7)
    g = m.backward_matrix(p, x, t)
    with pytest.raises(gc.GradientMismatch) as info:
        gc.assert_grads_match(lambda q: m.loss(q, x, t), p, bug(g))
    report = info.value.report
    assert [r.path for r in report.failures] == [f"params['{key}']"]
    assert pattern in "\n".join(report.failures[0].diagnosis)
    assert pattern in str(info.value)


def test_two_swapped_gradients_are_named_as_swapped():
    p, x, t = m.make_net((6, 6, 6, 6), batch=4, seed=7)
    g = m.backward_matrix(p, x, t)
    with pytest.raises(gc.GradientMismatch) as info:
        gc.assert_grads_match(lambda q: m.loss(q, x, t), p, {**g, "W1": g["W2"], "W2": g["W1"]})
    msg = str(info.value)
    assert "swapped with params['W2']" in msg and "swapped with params['W1']" in msg


def test_large_block_error_is_localized_by_bisection():
    rng = np.random.default_rng(0)
    a = rng.standard_normal(20000)
    f = lambda p: float(np.sum(np.sin(p["w"]) * a))  # noqa: E731
    w = rng.standard_normal(20000)
    g = np.cos(w) * a
    gc.assert_grads_match(f, {"w": w}, {"w": g})
    g[12345] *= 1.01
    report = gc.grads_report(f, {"w": w}, {"w": g})
    assert not report.passed
    r = report.failures[0]
    assert r.worst_index == (12345,)
    assert report.n_evals < 1000  # bisection, not 80,000 coordinate evaluations


def test_pytrees_of_every_kind():
    import jax.numpy as jnp

    def f(p):
        (a, b), c = p["pair"], p["nested"]["c"]
        return float(np.sum(np.asarray(a) ** 2) + np.sum(np.asarray(b) * 3.0) + c**3 + p["s"])

    params = {"pair": (np.arange(3.0), jnp.ones(2)), "nested": {"c": np.float64(2.0)}, "s": 1.5}
    grads = {"pair": (2 * np.arange(3.0), 3 * np.ones(2)), "nested": {"c": 12.0}, "s": 1.0}
    gc.assert_grads_match(f, params, grads)
    grads["nested"]["c"] = 11.0
    with pytest.raises(gc.GradientMismatch, match=r"params\['nested'\]\['c'\]"):
        gc.assert_grads_match(f, params, grads)


def test_seed_makes_the_check_reproducible():
    p, f, g = _net(seed=11)
    a = gc.grads_report(f, p, g, seed=5, mode="fast")
    b = gc.grads_report(f, p, g, seed=5, mode="fast")
    c = gc.grads_report(f, p, g, seed=6, mode="fast")
    assert a.directional_rel_error is not None
    assert a.directional_rel_error == b.directional_rel_error and a.step == b.step and a.noise == b.noise
    assert c.directional_rel_error != a.directional_rel_error   # the seed does choose the directions


def test_fast_mode_cost_does_not_grow_with_parameters():
    counts = []
    for sizes in [(3, 4, 2), (30, 60, 5)]:
        p, f, g = _net(sizes)
        counts.append(gc.grads_report(f, p, g, mode="fast").n_evals)
    assert counts[0] == counts[1] <= 30


def test_rtol_atol_override_loosens_the_check():
    p, f, g = _net()
    bad = {k: v * 1.001 for k, v in g.items()}
    assert not gc.grads_report(f, p, bad).passed
    assert gc.grads_report(f, p, bad, rtol=1e-2).passed


@pytest.mark.parametrize("bug", ["no_hidden_derivative", "missing_half", "bias_from_one_sample"])
def test_network_option_names_the_catalog_bug(bug):
    from gradcheck import reference_nets as rn

    spec = rn.NetSpec(sizes=(3, 4, 2), activations="logistic")
    p = rn.init_params(spec, seed=0)
    rng = np.random.default_rng(1)
    x, t = rng.standard_normal((5, 3)), rng.uniform(size=(5, 2))
    f = lambda q: rn.loss(spec, q, x, t)  # noqa: E731
    gc.assert_grads_match(f, p, rn.backprop(spec, p, x, t).grads, network=(spec, x, t))
    with pytest.raises(gc.GradientMismatch) as info:
        gc.assert_grads_match(f, p, rn.backprop(spec, p, x, t, bug=bug).grads, network=(spec, x, t))
    assert f"bug catalog: {bug}" in str(info.value)
    assert rn.CATALOG[bug].title in str(info.value)


def test_float32_round_off_is_measured_when_grads_is_a_function():
    """Near a minimum, y - t cancels in float32: every element carries the same 0.1% error."""
    p, x, _ = m.make_net((6, 4), dtype=np.float32, batch=5, seed=2)
    y = m.sigmoid(x @ p["W1"] + p["b1"])
    t = (y + np.float32(1e-5)).astype(np.float32)           # the loss is almost at its minimum
    f = lambda q: m.loss(q, x, t)  # noqa: E731
    backward = lambda q: m.backward_matrix(q, x, t)  # noqa: E731
    arrays = backward(p)
    assert arrays["W1"].dtype == np.float32
    as_arrays = gc.grads_report(f, p, arrays, mode="full")
    assert not as_arrays.passed                               # the float32 floor cannot know
    assert "pass grads as a function" in as_arrays.message()
    gc.assert_grads_match(f, p, backward, mode="full")        # measured: |g32 - g64| covers it
    gc.assert_grads_match(f, p, backward)
    wrong = lambda q: {k: v * (1.02 if k == "b1" else 1.0) for k, v in backward(q).items()}  # noqa: E731
    with pytest.raises(gc.GradientMismatch, match="b1"):
        gc.assert_grads_match(f, p, wrong, mode="full")


def test_a_gradient_function_that_rounds_to_float32_inside_is_not_taken_as_measured():
    p, x, t = m.make_net((5, 4, 3), dtype=np.float32, batch=4, seed=9)
    f = lambda q: m.loss(q, x, t)  # noqa: E731

    def backward_float32_inside(q):
        return m.backward_matrix({k: np.asarray(v, dtype=np.float32) for k, v in q.items()}, x, t)

    gc.assert_grads_match(f, p, backward_float32_inside, mode="full")
    gc.assert_grads_match(f, p, backward_float32_inside)


def test_float64_gradient_with_float32_accuracy_is_explained():
    p, x, t = m.make_net((5, 4, 3), batch=4, seed=9)
    f = lambda q: m.loss(q, x, t)  # noqa: E731

    def backward_float32_inside(q):
        g = m.backward_matrix({k: np.asarray(v, dtype=np.float32) for k, v in q.items()},
                              x.astype(np.float32), t.astype(np.float32))
        return {k: v.astype(np.float64) for k, v in g.items()}   # float32 math, float64 arrays

    with pytest.raises(gc.GradientMismatch, match="float32 precision"):
        gc.assert_grads_match(f, p, backward_float32_inside, mode="full")


# the first probes step past the boundary (log of a negative number) and gradcheck comes closer, without
# numpy's warning there: the check holds where warnings are errors
@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_a_tiny_parameter_next_to_a_domain_boundary_is_checked_not_false_failed():
    """log(w) with w = 1e-9 in a block of size ~0.5: the block-sized step would cross 0."""
    f = lambda p: float(np.sum(np.log(p["w"])))  # noqa: E731
    params = {"w": np.array([0.5, 1e-9, 0.3])}
    report = gc.assert_grads_match(f, params, lambda p: {"w": 1 / p["w"]})
    assert report.params[0].n_kinks == 0
    gc.assert_grads_match(f, params, lambda p: {"w": 1 / p["w"]}, mode="full")
    wrong = lambda p: {"w": (1 / p["w"]) * np.array([1.0, 1.01, 1.0])}  # noqa: E731
    report = gc.grads_report(f, params, wrong)
    assert not report.passed and report.failures[0].worst_index == (1,)
