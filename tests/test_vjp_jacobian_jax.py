"""Layer backward passes (VJPs), input-output Jacobians, and the JAX oracle."""
from __future__ import annotations

import numpy as np
import pytest

import gradcheck as gc
from tests import mlp_styles as m


def _affine_case(dtype=np.float64):
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in [(4, 3), (3, 5), (5,)])
    dout = rng.standard_normal((4, 5)).astype(dtype)
    return x, w, b, dout


def test_layer_backward_as_vjp_passes_and_fails():
    x, w, b, dout = _affine_case()
    _, cache = m.affine_forward(x, w, b)
    dx, dw, db = m.affine_backward(dout, cache)
    fwd = lambda x, w, b: m.affine_forward(x, w, b)[0]  # noqa: E731
    gc.assert_vjp_match(fwd, (x, w, b), dout, (dx, dw, db))
    gc.assert_vjp_match(fwd, (x, w, b), dout, lambda d: m.affine_backward(d, cache))
    with pytest.raises(gc.GradientMismatch) as info:
        gc.assert_vjp_match(fwd, (x, w, b), dout, (dx, dw, db / 4))
    assert "Vector-Jacobian products do not match" in str(info.value)
    assert "inputs[2]" in str(info.value) and "1/4" in str(info.value)


def test_float32_layer_backward_passes():
    x, w, b, dout = _affine_case(np.float32)
    _, cache = m.affine_forward(x, w, b)
    fwd = lambda x, w, b: m.affine_forward(x, w, b)[0]  # noqa: E731
    gc.assert_vjp_match(fwd, (x, w, b), dout, m.affine_backward(dout, cache))


def test_sigmoid_backward_dict_inputs():
    z = np.linspace(-3, 3, 7)
    dout = np.cos(z)
    a, cache = m.sigmoid_forward(z)
    gc.assert_vjp_match(lambda p: m.sigmoid_forward(p["z"])[0], {"z": z}, dout,
                        {"z": m.sigmoid_backward(dout, cache)})
    with pytest.raises(gc.GradientMismatch, match="z"):
        gc.assert_vjp_match(lambda p: m.sigmoid_forward(p["z"])[0], {"z": z}, dout, {"z": dout * a})


def test_cotangent_shape_mismatch_is_a_usage_error():
    x, w, b, dout = _affine_case()
    with pytest.raises(gc.StructureMismatch, match="shape"):
        gc.assert_vjp_match(lambda x, w, b: x @ w + b, (x, w, b), dout[:, :2], (x, w, b))


def _net_jacobian(params, x):
    """dy/dx of an all-logistic MLP for one sample, by forward propagation."""
    J = np.eye(x.size)
    h = x
    for i in range(1, m.n_layers(params) + 1):
        h = m.sigmoid(h @ params[f"W{i}"] + params[f"b{i}"])
        J = (h * (1 - h))[:, None] * (params[f"W{i}"].T @ J)
    return J


def test_input_jacobian_passes_and_transposed_is_caught():
    p, x, _ = m.make_net((4, 5, 4), seed=3)

    def fwd(v):
        h = v
        for i in range(1, 3):
            h = m.sigmoid(h @ p[f"W{i}"] + p[f"b{i}"])
        return h

    J = _net_jacobian(p, x[0])
    report = gc.assert_jacobian_match(fwd, x[0], J)
    assert report.kind == "jacobian" and report.n_evals > 0
    with pytest.raises(gc.GradientMismatch) as info:
        gc.assert_jacobian_match(fwd, x[0], J.T)
    assert "transpose" in str(info.value)


def test_jacobian_wrong_shape_says_transposed():
    p, x, _ = m.make_net((3, 5, 2), seed=3)
    fwd = lambda v: m.sigmoid(m.sigmoid(v @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"])  # noqa: E731
    with pytest.raises(gc.StructureMismatch, match="transpose"):
        gc.assert_jacobian_match(fwd, x[0], _net_jacobian(p, x[0]).T)


def test_jax_oracle_used_for_jax_functions_without_flipping_x64():
    import jax
    import jax.numpy as jnp

    def f(p):
        return jnp.sum(jnp.tanh(p["w"] @ p["x"]) ** 2)

    before = bool(jax.config.jax_enable_x64)
    p = {"w": jnp.ones((3, 4)) * 0.3, "x": jnp.arange(4.0)}
    g = jax.grad(f)(p)
    report = gc.assert_grads_match(f, p, g)
    assert report.oracle == "jax" and report.n_evals <= 3
    assert bool(jax.config.jax_enable_x64) == before
    if not before:
        assert jnp.zeros(1).dtype == jnp.float32
    bad = {"w": g["w"].at[1, 2].multiply(1.5), "x": g["x"]}
    with pytest.raises(gc.GradientMismatch, match=r"params\['w'\]"):
        gc.assert_grads_match(f, p, bad)


def test_grads_omitted_checks_custom_vjp_against_finite_differences():
    import jax
    import jax.numpy as jnp

    @jax.custom_vjp
    def softplus(x):
        return jnp.log1p(jnp.exp(x))

    softplus.defvjp(lambda x: (softplus(x), x), lambda x, ct: (ct * jax.nn.sigmoid(x),))
    gc.assert_grads_match(lambda p: jnp.sum(softplus(p["a"])), {"a": jnp.array([0.5, -1.0, 2.0])})

    @jax.custom_vjp
    def bad_softplus(x):
        return jnp.log1p(jnp.exp(x))

    bad_softplus.defvjp(lambda x: (bad_softplus(x), x), lambda x, ct: (ct * jax.nn.sigmoid(-x),))
    with pytest.raises(gc.GradientMismatch, match="finite differences"):
        gc.assert_grads_match(lambda p: jnp.sum(bad_softplus(p["a"])), {"a": jnp.array([0.5, -1.0, 2.0])})


def test_reference_twin_is_the_oracle_for_numpy_code():
    import jax.numpy as jnp

    p, x, t = m.make_net((3, 4, 2), seed=1)

    def twin(q):
        h = jnp.asarray(x)
        for i in (1, 2):
            h = 1 / (1 + jnp.exp(-(h @ q[f"W{i}"] + q[f"b{i}"])))
        return 0.5 * jnp.sum((h - t) ** 2)

    report = gc.assert_grads_match(lambda q: m.loss(q, x, t), p, m.backward_matrix(p, x, t), reference=twin)
    assert report.oracle == "jax"
    g = m.backward_matrix(p, x, t)
    g["W2"] = g["W2"] * 2
    with pytest.raises(gc.GradientMismatch, match="2 ×"):
        gc.assert_grads_match(lambda q: m.loss(q, x, t), p, g, reference=twin)


def test_oracle_both_runs_both():
    import jax
    import jax.numpy as jnp

    f = lambda p: jnp.sum(jnp.sin(p["a"]) * p["a"])  # noqa: E731
    p = {"a": jnp.linspace(-1.0, 1.0, 5)}
    report = gc.assert_grads_match(f, p, jax.grad(f)(p), oracle="both")
    assert report.oracle == "both" and report.n_evals > 10


def test_jax_oracle_accepts_a_different_subgradient_at_a_kink():
    import jax.numpy as jnp

    f = lambda p: jnp.sum(jnp.maximum(p["a"], 0.0))  # noqa: E731
    p = {"a": jnp.array([1.0, 0.0, -1.0])}
    report = gc.assert_grads_match(f, p, {"a": np.array([1.0, 1.0, 0.0])}, oracle="jax")  # relu'(0)=1 is valid
    assert report.params[0].n_kinks == 1


def test_where_jaxs_own_gradient_is_round_off_finite_differences_decide():
    """tanh at |w| near 15: 1 - y**2 keeps a digit or two, and JAX's float64 gradient changes by 1e-3 of itself
    when params move by 1e-8, which reads as a kink; f has none. Those elements are decided by finite
    differences: (1-y)(1+y) in numpy passes (it failed once the bar left jumps out), twice it still fails."""
    import jax.numpy as jnp

    w = np.array([14.2, -14.9, 15.3, -13.8])
    y = np.tanh(w)
    f = lambda p: jnp.sum(jnp.tanh(p["w"]))  # noqa: E731
    gc.assert_grads_match(f, {"w": w}, {"w": (1 - y) * (1 + y)}, oracle="jax")
    with pytest.raises(gc.GradientMismatch, match=r"worst at \[1\]"):
        gc.assert_grads_match(f, {"w": w}, {"w": (1 - y) * (1 + y) * np.array([1.0, 2.0, 1.0, 1.0])}, oracle="jax")


@pytest.mark.parametrize("wrong", [-0.5, 1.4])
def test_jax_oracle_rejects_a_value_outside_the_kinks_interval(wrong):
    """relu'(0) may be anything in [0, 1], not -0.5 or 1.4. (JAX's error bar, measured a hair either side of
    params, took in half the jump across the kink, 0 to 1 where JAX's own relu'(0) is 0, and let both through.)"""
    import jax
    import jax.numpy as jnp

    f = lambda p: jnp.sum(jax.nn.relu(p["a"]))  # noqa: E731
    p = {"a": np.array([1.0, 0.0, -1.0])}
    for valid in (0.0, 0.5, 1.0):
        gc.assert_grads_match(f, p, {"a": np.array([1.0, valid, 0.0])}, oracle="jax")
    with pytest.raises(gc.GradientMismatch, match=r"worst at \[1\]"):
        gc.assert_grads_match(f, p, {"a": np.array([1.0, wrong, 0.0])}, oracle="jax")


@pytest.mark.parametrize("wrong", [[0.7, 0.7, 0.0], [1.0, 0.5, 0.0]])
def test_jax_oracle_checks_a_tie_as_a_whole(wrong):
    """At the tie of max(a), each element may lie in [0, 1] on its own but together they must add up to 1, also
    where one of them equals JAX's own share (0.5)."""
    import jax.numpy as jnp

    f = lambda p: jnp.max(p["a"])  # noqa: E731
    p = {"a": np.array([1.0, 1.0, 0.0])}
    for valid in ([0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.25, 0.75, 0.0]):
        gc.assert_grads_match(f, p, {"a": np.array(valid)}, oracle="jax")
    with pytest.raises(gc.GradientMismatch, match="no subgradient at a tie"):
        gc.assert_grads_match(f, p, {"a": np.array(wrong)}, oracle="jax")


def test_jax_oracle_bar_holds_jaxs_own_round_off_where_terms_cancel():
    """At a saturated tanh, 1 - tanh(w)**2 keeps only eps times 1, not eps times the result: JAX's own float64
    gradient is off by 5e-10 relative there, as is (1-y)(1+y) written in numpy. The oracle's error bar is measured
    (JAX's gradient re-rounded a hair away), so the accurate formula passes and a 1 % error still fails."""
    import jax.numpy as jnp

    w = np.array([8.0, 9.0])
    y = np.tanh(w)
    f = lambda p: jnp.sum(jnp.tanh(p["w"]))  # noqa: E731
    report = gc.assert_grads_match(f, {"w": w}, {"w": (1 - y) * (1 + y)})
    assert report.oracle == "jax" and report.params[0].n_kinks == 0
    bad = (1 - y) * (1 + y) * np.array([1.0, 1.01])
    with pytest.raises(gc.GradientMismatch, match=r"worst at \[1\]"):
        gc.assert_grads_match(f, {"w": w}, {"w": bad})


@pytest.mark.parametrize("offset", [1e-7, 1e-6])
def test_jax_oracle_takes_no_other_subgradient_near_a_kink_in_float64(offset):
    """relu(w . x) with w . x = offset: f is differentiable at params, so the other side's slope is wrong even
    where finite differences' steps straddle the kink (they did, and it passed). At the kink itself it passes
    (test above)."""
    import jax
    import jax.numpy as jnp

    x = np.array([1.0, 2.0, -0.5])
    w = np.array([0.5 + offset, 0.1, 1.4])
    f = lambda p: jnp.sum(jax.nn.relu(jnp.dot(p["w"], x))) + jnp.sum(jnp.tanh(p["w"]))  # noqa: E731
    smooth = 1 - np.tanh(w) ** 2
    gc.assert_grads_match(f, {"w": w}, {"w": smooth + x})
    with pytest.raises(gc.GradientMismatch):
        gc.assert_grads_match(f, {"w": w}, {"w": smooth})


def test_full_mode_on_jax_functions_uses_vmap_and_agrees_with_the_loop(monkeypatch):
    import jax
    import jax.numpy as jnp

    from gradcheck import batched, elements

    def f(p):
        return jnp.sum(jnp.tanh(p["x"] @ p["W"]) ** 2)

    rng = np.random.default_rng(0)
    p = {"x": rng.standard_normal((4, 6)), "W": 0.3 * rng.standard_normal((6, 5))}
    g = jax.grad(f)(p)
    calls = []
    real = batched.BatchedEvaluator.__call__
    monkeypatch.setattr(batched.BatchedEvaluator, "__call__", lambda self, rows: calls.append(len(rows)) or real(self, rows))
    fast = gc.grads_report(f, p, g, oracle="fd", mode="full")
    assert calls and sum(calls) > 4 * 30
    monkeypatch.setattr(elements, "batched_evaluator", lambda ctx: None)
    slow = gc.grads_report(f, p, g, oracle="fd", mode="full")
    assert fast.passed and slow.passed
    for a, b in zip(fast.params, slow.params):
        assert a.max_abs == pytest.approx(b.max_abs, abs=1e-5)
    bad = {"x": g["x"], "W": g["W"].at[2, 3].multiply(1.01)}
    report = gc.grads_report(f, p, bad, oracle="fd", mode="full")
    assert [r.path for r in report.failures] == ["params['W']"] and report.failures[0].worst_index == (2, 3)
