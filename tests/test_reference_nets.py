"""reference_nets: the loop form, the matrix form and JAX autodiff agree; shapes and errors."""
from __future__ import annotations

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gradcheck import reference_nets as rn
from gradcheck.reference_nets import (ACTIVATIONS, TARGETS, NetSpec, backprop, backprop_loops, forward, init_params,
                            input_jacobian, input_jacobian_batch, jax_twin, loss)

from gradcheck.reference_nets._matrix import forward_cache
try:  # tests/ may or may not be a package
    from tests.test_reference_nets_strategies import data, nets
except ImportError:
    from test_reference_nets_strategies import data, nets



@pytest.fixture(autouse=True, scope="module")
def _float64_jax():
    """Float64 JAX for this module only: other tests check that nothing flips the global flag."""
    with jax.enable_x64(True):
        yield

SETTINGS = settings(max_examples=30, deadline=None)


def assert_tree_close(actual: dict, desired: dict, rtol=1e-12, what="grads"):
    assert sorted(actual) == sorted(desired), f"{what}: keys {sorted(actual)} != {sorted(desired)}"
    for k in desired:
        a, d = np.asarray(actual[k]), np.asarray(desired[k])
        scale = max(np.abs(d).max(initial=0.0), 1e-300)
        np.testing.assert_allclose(a, d, rtol=rtol, atol=rtol * scale, err_msg=f"{what}[{k!r}]")


def unsaturated(spec, params, x, bound=4.0) -> bool:
    """All |net| <= bound.  Beyond it 1 - tanh(v) and 1 - σ(v) keep few digits in ANY library, and
    numpy's and XLA's tanh differ in the last bit, so 1e-12 agreement stops being meaningful."""
    nets, _ = forward_cache(spec, params, np.atleast_2d(x))
    return all(np.abs(v).max() <= bound for v in nets[1:])


def jax_grads(spec, params, x, t):
    _, loss_j = jax_twin(spec)
    jparams = {k: jnp.asarray(v) for k, v in params.items()}
    # jit: one XLA compilation per network instead of one per operation (eager mode is ~6x slower here)
    g = jax.jit(jax.grad(loss_j))(jparams, jnp.asarray(x), None if t is None else jnp.asarray(t))
    return {k: np.asarray(v) for k, v in g.items()}


# JAX is compared on a handful of fixed networks (each new shape costs XLA a compilation); together they
# cover every activation, target and layout, with and without biases, batches of 1 and more, 1 to 3 layers.
# Hypothesis draws freely where the comparison is numpy against numpy (loops against matrix form).
JAX_CASES = [
    (NetSpec((3, 4, 2), "logistic", True, "in_out", "half_sse"), 4),
    (NetSpec((2, 3, 3, 2), ("tanh", "relu", "linear"), False, "out_in", "mse"), 3),
    (NetSpec((4, 2), "logistic", True, "out_in", "cross_entropy"), 1),
    (NetSpec((3, 5, 2), ("relu", "logistic"), True, "in_out", "entropy"), 2),
    (NetSpec((2, 2, 2), "tanh", True, "in_out", "output"), 2),
    (NetSpec((1, 3, 1), ("tanh", "linear"), False, "out_in", "half_sse"), 5),
    (NetSpec((3, 3, 3, 3), ("logistic", "tanh", "logistic"), True, "out_in", "cross_entropy"), 2),
]


def _case_id(case):
    spec, batch = case
    acts = spec.activations if isinstance(spec.activations, str) else "-".join(spec.activations)
    return f"{'-'.join(map(str, spec.sizes))}:{acts}:{spec.target}:{spec.layout}:{'bias' if spec.bias else 'nobias'}:b{batch}"


@pytest.fixture(params=JAX_CASES, ids=_case_id)
def jax_case(request):
    spec, batch = request.param
    for seed in range(100):   # the first seed whose net is unsaturated: there 1e-12 agreement is meaningful
        params, x, t = data(spec, seed, batch)
        if unsaturated(spec, params, x):
            return spec, params, x, t
    raise AssertionError(f"no unsaturated data for {spec} in 100 seeds")


def test_jax_cases_cover_every_activation_target_and_layout():
    specs = [spec for spec, _ in JAX_CASES]
    assert {a for s in specs for a in s.layer_activations} == set(ACTIVATIONS)
    assert {s.target for s in specs} == set(TARGETS)
    assert {s.layout for s in specs} == {"in_out", "out_in"} and {s.bias for s in specs} == {True, False}
    assert {len(s.sizes) - 1 for s in specs} == {1, 2, 3} and {b for _, b in JAX_CASES} >= {1, 2}


@settings(max_examples=60, deadline=None)
@given(nets())
def test_loops_and_matrix_agree(net):
    spec, params, x, t = net
    matrix = backprop(spec, params, x, t)
    loops = backprop_loops(spec, params, x, t)
    assert_tree_close(matrix.grads, loops.grads, what="backprop vs backprop_loops")
    for l, (dm, dl) in enumerate(zip(matrix.deltas, loops.deltas), start=1):
        assert dm.shape == (x.shape[0], spec.sizes[l])
        np.testing.assert_allclose(dm, dl, rtol=1e-12, atol=1e-12 * max(np.abs(dl).max(), 1e-300),
                                   err_msg=f"delta of layer {l}")


def test_backprop_matches_jax_grad(jax_case):
    spec, params, x, t = jax_case
    assert_tree_close(backprop(spec, params, x, t).grads, jax_grads(spec, params, x, t), what="backprop vs jax.grad")


def test_forward_and_loss_match_jax(jax_case):
    spec, params, x, t = jax_case
    fwd_j, loss_j = jax_twin(spec)
    ours, theirs = forward(spec, params, x), np.asarray(jax.jit(fwd_j)(params, x))
    # an output that cancels (a linear layer's) is only as good as the largest one
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12 * max(np.abs(theirs).max(), 1e-300))
    assert loss(spec, params, x, t) == pytest.approx(float(jax.jit(loss_j)(params, x, t)), rel=1e-12)


@SETTINGS
@given(nets(min_batch=1, max_batch=1))
def test_single_sample_shapes(net):
    spec, params, x, t = net
    x1, t1 = x[0], t[0]
    assert forward(spec, params, x1).shape == (spec.sizes[-1],)
    np.testing.assert_array_equal(forward(spec, params, x1), forward(spec, params, x)[0])
    bp = backprop(spec, params, x1, t1)
    assert {k: v.shape for k, v in bp.grads.items()} == {k: v.shape for k, v in params.items()}
    assert [d.shape for d in bp.deltas] == [(1, n) for n in spec.sizes[1:]]
    assert_tree_close(bp.grads, backprop(spec, params, x, t).grads)


def test_input_jacobian_matches_jax(jax_case):
    spec, params, x, _ = jax_case
    fwd_j, _ = jax_twin(spec)
    Jb = input_jacobian_batch(spec, params, x)
    assert Jb.shape == (x.shape[0], spec.sizes[-1], spec.sizes[0])
    jacobian = jax.jit(jax.jacobian(lambda xi: fwd_j(params, xi)))
    for s in range(x.shape[0]):
        J = input_jacobian(spec, params, x[s])
        desired = np.asarray(jacobian(jnp.asarray(x[s])))
        np.testing.assert_allclose(J, desired, rtol=1e-12, atol=1e-12 * max(np.abs(desired).max(), 1e-300))
        np.testing.assert_allclose(Jb[s], J, rtol=1e-12, atol=1e-12 * max(np.abs(J).max(), 1e-300))


@settings(max_examples=40, deadline=None)
@given(nets())
def test_input_jacobian_batch_agrees_with_single_samples(net):
    spec, params, x, _ = net
    Jb = input_jacobian_batch(spec, params, x)
    for s in range(x.shape[0]):
        J = input_jacobian(spec, params, x[s])
        np.testing.assert_allclose(Jb[s], J, rtol=1e-12, atol=1e-12 * max(np.abs(J).max(), 1e-300))


@settings(max_examples=20, deadline=None)
@given(nets(targets=("half_sse", "cross_entropy")), st.data())
def test_delta_out_is_y_minus_t_for_matching_pairs(net, draw):
    """Yoshida section 5.1: half_sse with a linear output and cross-entropy with a logistic
    output both give δ_out = y - t."""
    spec, params, x, t = net
    acts = spec.layer_activations[:-1] + ("linear" if spec.target == "half_sse" else "logistic",)
    spec = NetSpec(spec.sizes, acts, spec.bias, spec.layout, spec.target)
    bp = backprop(spec, params, x, t)
    np.testing.assert_allclose(bp.deltas[-1], forward(spec, params, x) - t, rtol=1e-10, atol=1e-14)


def test_delta_out_is_not_y_minus_t_for_mismatched_pair():
    """The pairing matters: half_sse with a logistic output has δ_out = (y - t) y (1 - y)."""
    spec = NetSpec((3, 4, 2), "logistic", target="half_sse")
    params, x, t = data(spec, 0, 5)
    y = forward(spec, params, x)
    delta = backprop(spec, params, x, t).deltas[-1]
    assert not np.allclose(delta, y - t)
    np.testing.assert_allclose(delta, (y - t) * y * (1 - y), rtol=1e-12)


@pytest.mark.parametrize("target", TARGETS)
def test_delta_out_formulas_of_document_001(target):
    """Entropy (5.2): δ = (log(1-y) - log y) y(1-y); output (5.3): δ = φ'(v) = y(1-y) for logistic."""
    spec = NetSpec((2, 3, 3), "logistic", target=target)
    params, x, t = data(spec, 1, 4)
    t = np.clip(t, 0, 1)
    y = forward(spec, params, x)
    expected = {
        "half_sse": (y - t) * y * (1 - y),
        "mse": 2 * (y - t) / len(x) * y * (1 - y),
        "cross_entropy": y - t,
        "entropy": (np.log(1 - y) - np.log(y)) * y * (1 - y),
        "output": y * (1 - y),
    }[target]
    np.testing.assert_allclose(backprop(spec, params, x, t).deltas[-1], expected, rtol=1e-10)


@pytest.mark.parametrize("target", ["mse", "half_sse"])
def test_central_differences(target):
    spec = NetSpec((3, 4, 2), ("tanh", "linear"), target=target, layout="out_in")
    params, x, t = data(spec, 7, 6)
    grads = backprop(spec, params, x, t).grads
    h = 1e-6
    for k, p in params.items():
        for idx in np.ndindex(p.shape):
            plus = {**params, k: p.copy()}
            minus = {**params, k: p.copy()}
            plus[k][idx] += h
            minus[k][idx] -= h
            fd = (loss(spec, plus, x, t) - loss(spec, minus, x, t)) / (2 * h)
            assert grads[k][idx] == pytest.approx(fd, rel=1e-6, abs=1e-8), (k, idx)


def test_spec_validation_names_allowed_values():
    with pytest.raises(ValueError, match="logistic, tanh, relu, linear"):
        NetSpec((2, 2), "sigmoid")
    with pytest.raises(ValueError, match="half_sse, mse, cross_entropy, entropy, output"):
        NetSpec((2, 2), target="sse")
    with pytest.raises(ValueError, match="in_out, out_in"):
        NetSpec((2, 2), layout="row")
    with pytest.raises(ValueError, match="2 names"):
        NetSpec((2, 3, 2), ("tanh",))
    with pytest.raises(ValueError, match="positive ints"):
        NetSpec((2, 0, 1))
    with pytest.raises(ValueError, match="positive ints"):
        NetSpec((2,))
    with pytest.raises(ValueError, match="must be 'logistic'"):
        NetSpec((2, 2), "linear", target="cross_entropy")
    assert NetSpec([2, 3, 1], ["tanh", "relu"]).sizes == (2, 3, 1)
    assert ACTIVATIONS == ("logistic", "tanh", "relu", "linear")


def test_params_and_bug_validation():
    spec = NetSpec((2, 3, 2), "tanh", bias=False)
    params = init_params(spec)
    assert sorted(params) == ["W1", "W2"] and params["W1"].dtype == np.float64
    x, t = np.zeros((1, 2)), np.zeros((1, 2))
    with pytest.raises(ValueError, match="W2.*need \\(3, 2\\)"):
        backprop(spec, {**params, "W2": params["W2"].T}, x, t)
    with pytest.raises(ValueError, match="missing \\['W2'\\]"):
        backprop(spec, {"W1": params["W1"]}, x, t)
    with pytest.raises(ValueError, match="allowed: None, no_output_derivative"):
        backprop(spec, params, x, t, bug="typo")
    with pytest.raises(ValueError, match="jacobian_transposed"):
        input_jacobian(spec, params, x[0], bug="missing_half")
    with pytest.raises(ValueError, match="shape \\(2,\\)"):
        forward(spec, params, np.zeros(3))


def test_import_needs_numpy_only():
    code = ("import sys, gradcheck.reference_nets; bad = [m for m in ('jax', 'torch', 'matplotlib', 'hypothesis') "
            "if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
