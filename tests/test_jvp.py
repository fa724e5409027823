"""assert_jvp_match / jvp_report: forward-mode products against finite differences along the tangent."""
import numpy as np
import pytest

import gradcheck
from gradcheck import GradientMismatch, StructureMismatch, assert_jvp_match, jvp_report
from tests.torch_functions import exp_function, optional, sin_jvp


def f(x):
    return np.sin(x) * x.sum()


def jacobian(x):
    return np.diag(np.cos(x)) * x.sum() + np.outer(np.sin(x), np.ones_like(x))


X = np.array([0.3, -1.2, 2.0, 0.7])
T = np.array([1.0, 0.5, -2.0, 0.25])


def test_correct_product_passes_with_few_evaluations():
    report = assert_jvp_match(f, X, T, jacobian(X) @ T)
    assert report.kind == "jvp" and report.n_evals <= 40
    assert "Jacobian-vector products match" in report.message()


def test_one_element_one_percent_off_is_found():
    bad = jacobian(X) @ T
    bad[2] *= 1.01
    with pytest.raises(GradientMismatch) as info:
        assert_jvp_match(f, X, T, lambda t: bad)
    p = info.value.report.params[0]
    assert p.worst_index == (2,) and p.n_mismatch == 1


def test_tuple_primals_and_tuple_outputs():
    def g(a, b):
        return {"prod": a * b, "sum": np.tanh(a).sum() + b[0]}
    a, b = np.array([0.5, -1.0]), np.array([2.0, 3.0])
    ta, tb = np.array([1.0, 2.0]), np.array([-1.0, 0.5])
    right = {"prod": ta * b + a * tb, "sum": np.sum((1 - np.tanh(a) ** 2) * ta) + tb[0]}
    assert jvp_report(g, (a, b), (ta, tb), right).passed
    wrong = dict(right, sum=right["sum"] * 1.01)
    report = jvp_report(g, (a, b), (ta, tb), wrong)
    assert [p.path for p in report.failures] == ["jvp['sum']"]


def test_kink_accepts_any_one_sided_slope():
    relu = lambda x: np.maximum(x, 0.0)  # noqa: E731
    x, t = np.array([0.0, 1.0, -1.0]), np.array([1.0, 1.0, 1.0])
    assert jvp_report(relu, x, t, np.array([0.0, 1.0, 0.0])).passed
    assert jvp_report(relu, x, t, np.array([1.0, 1.0, 0.0])).passed
    assert not jvp_report(relu, x, t, np.array([2.0, 1.0, 0.0])).passed


def test_a_dead_output_does_not_blur_its_neighbours():
    """relu at -1 is flat along the tangent: its noise table widens until it moves (steps of 1), and its
    neighbour at 1 read the kink that table crosses as noise (an error bar of 600): 1 % off passed."""
    relu = lambda x: np.maximum(x, 0.0)  # noqa: E731
    x, t = np.array([0.0, 1.0, -1.0]), np.array([1.0, 1.0, 1.0])
    report = jvp_report(relu, x, t, np.array([1.0, 1.01, 0.0]))
    assert not report.passed and report.params[0].worst_index == (1,)


def test_float32_product_gets_float32_tolerance():
    x32, t32 = X.astype(np.float32), T.astype(np.float32)
    f32 = lambda x: (np.sin(x) * x.sum()).astype(np.float32)  # noqa: E731
    mine = (jacobian(x32.astype(np.float64)) @ T).astype(np.float32)
    report = jvp_report(f32, x32, t32, mine)
    assert report.passed and report.params[0].dtype == "float32"


def test_wrong_shape_is_a_structure_mismatch():
    with pytest.raises(StructureMismatch, match="shape"):
        jvp_report(f, X, T, np.zeros(3))
    with pytest.raises(StructureMismatch):
        jvp_report(f, X, np.zeros(3), np.zeros(4))


def test_numpy_f_without_jvp_is_a_usage_error():
    with pytest.raises(gradcheck.GradcheckUsageError, match="jvp"):
        jvp_report(f, X, T)


class TestJax:
    jax = optional("jax")  # skipped per test, so the numpy tests still run without it

    def test_custom_jvp_rule_is_what_gets_checked(self):
        x = self.jax.numpy.asarray(X)
        assert jvp_report(sin_jvp([1.0, 1.0, 1.0, 1.0]), (x,), (self.jax.numpy.asarray(T),)).passed
        report = jvp_report(sin_jvp([1.0, 1.0, 1.01, 1.0]), (x,), (self.jax.numpy.asarray(T),))
        assert not report.passed and report.params[0].worst_index == (2,)

    def test_against_jax_jvp_of_a_reference(self):
        jnp = self.jax.numpy
        mine = jacobian(X) @ T
        report = jvp_report(f, X, T, mine, reference=lambda x: jnp.sin(x) * x.sum())
        assert report.passed and report.oracle == "jax"
        mine[0] *= 1.01
        assert not jvp_report(f, X, T, mine, reference=lambda x: jnp.sin(x) * x.sum()).passed

    def test_jax_oracle_bar_holds_jaxs_own_round_off_at_saturation(self):
        """tanh at |w| in [6, 10]: JAX's float64 product and (1-y)(1+y) t written in numpy differ by 1e-9
        relative (y's last bit), far above eps times the result; the bar is measured as for gradients (it failed
        39 of 40 such draws with the fixed bar), and a 1 % error still fails."""
        jnp = self.jax.numpy
        w = np.array([-9.55, 8.93, -7.63, 7.94, 9.49, 6.55])
        t = np.array([0.3, -1.2, 0.8, 0.5, -0.7, 1.1])
        y = np.tanh(w)
        mine = (1 - y) * (1 + y) * t
        assert jvp_report(jnp.tanh, w, t, mine, oracle="jax").passed
        mine[4] *= 1.01
        report = jvp_report(jnp.tanh, w, t, mine, oracle="jax")
        assert not report.passed and report.params[0].worst_index == (4,)


    def test_jax_oracle_leaves_a_kink_or_its_own_round_off_to_finite_differences(self):
        """Where JAX's product jumps within a 1e-8 move of primals: at relu's kink (JAX's jvp says 0 along +1, the
        one-sided slope 2 is as valid) and where 1 - tanh**2 keeps a digit or two (|w| ~ 15). The finite
        differences along the tangents decide those outputs; the others stay JAX's."""
        jax, jnp = self.jax, self.jax.numpy
        relu2 = lambda w: jax.nn.relu(w) * 2.0  # noqa: E731
        w, t = np.array([0.0, 1.0, -1.0]), np.ones(3)
        for valid in ([2.0, 2.0, 0.0], [0.0, 2.0, 0.0], [1.0, 2.0, 0.0]):
            assert jvp_report(relu2, w, t, np.array(valid), oracle="jax").passed
        for wrong in ([3.0, 2.0, 0.0], [-1.0, 2.0, 0.0], [2.0, 2.02, 0.0]):
            assert not jvp_report(relu2, w, t, np.array(wrong), oracle="jax").passed
        w = np.array([14.2, -14.9, 15.3, -13.8])
        t = np.array([0.3, -1.2, 0.8, 0.5])
        y = np.tanh(w)
        mine = (1 - y) * (1 + y) * t
        assert jvp_report(jnp.tanh, w, t, mine, oracle="jax").passed
        assert not jvp_report(jnp.tanh, w, t, mine * np.array([2.0, 1.0, 1.0, 1.0]), oracle="jax").passed


class TestTorch:
    torch = optional("torch")  # skipped per test, so the numpy tests still run without it

    def test_autograd_function_jvp_rule(self):
        torch = self.torch

        Exp = exp_function()
        x, t = torch.tensor(X), torch.tensor(T)
        assert jvp_report(Exp.apply, (x,), (t,)).passed
        Exp.factor = 1.01
        assert not jvp_report(Exp.apply, (x,), (t,)).passed


def test_random_f_is_refused_or_replayed():
    def noisy(x):
        return np.sin(x) * (1.0 + np.random.rand(x.size))  # a new noise draw at every call
    with pytest.raises(gradcheck.NonDeterministic, match="replay_random=True"):
        jvp_report(noisy, X, T, np.zeros(4))
    state = np.random.get_state()
    noise = 1.0 + np.random.rand(4)
    np.random.set_state(state)
    assert jvp_report(noisy, X, T, np.cos(X) * T * noise, replay_random=True).passed
