"""Hessian-vector products against finite differences of the gradient (the same verdict engine as vjp_report)."""
import numpy as np
import pytest

from gradcheck import GradcheckUsageError, GradientMismatch, assert_hvp_match, hvp_report
from tests.torch_functions import cube_function, cube_vjp, optional

A = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, -0.3], [0.0, -0.3, 3.0]])
X = np.array([0.4, -0.8, 1.1])


def f(x):
    return 0.5 * x @ A @ x + np.sum(np.sin(x))


def grad(x):
    return A @ x + np.cos(x)


def hvp(x, v):
    return A @ v - np.sin(x) * v


def test_numpy_hvp_function_correct_and_one_percent_off():
    report = assert_hvp_match(f, X, hvp, grads=grad)
    assert report.kind == "hvp" and report.params[0].path == "hvp"
    wrong = lambda x, v: hvp(x, v) * np.array([1.0, 1.01, 1.0])  # noqa: E731
    with pytest.raises(GradientMismatch, match="Hessian-vector products do not match") as info:
        assert_hvp_match(f, X, wrong, grads=grad, mode="full")
    assert info.value.report.params[0].worst_index == (1,)
    assert "calls of your gradient function" in str(info.value)  # what is counted is the gradient's calls


def test_precomputed_product_needs_its_vector():
    v = np.array([1.0, 0.0, -1.0])
    assert hvp_report(f, X, hvp(X, v), grads=grad, vector=v).passed
    with pytest.raises(GradcheckUsageError, match="vector="):
        hvp_report(f, X, hvp(X, v), grads=grad)


def test_a_numpy_f_needs_a_gradient_function():
    with pytest.raises(GradcheckUsageError, match="gradient"):
        hvp_report(f, X, hvp)


class TestTorch:
    torch = optional("torch")  # skipped per test, so the numpy tests still run without it

    def test_double_backward_through_a_custom_function(self):
        torch = self.torch
        x = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
        good, bad = cube_function(), cube_function(detach=True)  # detached: right first, wrong second derivatives
        assert hvp_report(lambda p: torch.sin(good.apply(p["x"])).sum(), {"x": x}).passed
        report = hvp_report(lambda p: torch.sin(bad.apply(p["x"])).sum(), {"x": x})
        assert not report.passed and report.failures[0].path == "hvp['x']"


class TestJax:
    jax = optional("jax")  # skipped per test, so the numpy tests still run without it

    def test_custom_vjp_second_derivatives(self):
        jax, jnp = self.jax, self.jax.numpy

        x = np.array([0.5, -1.0, 2.0])
        with jax.enable_x64(True):
            x = jnp.asarray(x)
            assert hvp_report(lambda p: jnp.sum(jnp.sin(cube_vjp()(p))), x).passed
            assert not hvp_report(lambda p: jnp.sum(jnp.sin(cube_vjp(stop=True)(p))), x).passed
