"""gradcheck.compat.jax.check_grads: jax.test_util.check_grads' signature and raising, gradcheck's verdicts."""
import inspect

import numpy as np
import pytest

jax = pytest.importorskip("jax", reason="jax is optional (the 'jax' extra)")
jnp = jax.numpy

from jax.test_util import check_grads as jax_check_grads  # noqa: E402

from gradcheck import GradcheckUsageError, GradientMismatch  # noqa: E402
from gradcheck.compat.jax import check_grads  # noqa: E402
from tests.torch_functions import cube_vjp, sin_jvp  # noqa: E402

X = jnp.array([0.5, -1.0, 2.0])
OFF = np.array([1.0, 1.01, 1.0], dtype=np.float32)


def test_signature_is_jaxs():
    assert list(inspect.signature(check_grads).parameters) == list(inspect.signature(jax_check_grads).parameters)


def test_correct_rules_return_none():
    assert check_grads(sin_jvp(1.0), (X,), order=2) is None
    assert check_grads(cube_vjp(), (X,), order=2, modes=["rev"]) is None


def test_wrong_custom_jvp_rule():
    f = sin_jvp(OFF)
    with pytest.raises(AssertionError, match="jax.jvp") as info:
        check_grads(f, (X,), order=1, modes=["fwd"])
    assert isinstance(info.value, GradientMismatch) and info.value.report.params[0].worst_index == (1,)
    with pytest.raises(AssertionError, match="jax.vjp"):  # JAX's reverse mode transposes that same rule
        check_grads(f, (X,), order=1, modes=["rev"])
    check_grads(sin_jvp(1.0), (X,), order=1, modes=["rev"])


def test_wrong_custom_vjp_rule():
    with pytest.raises(AssertionError, match="jax.vjp") as info:
        check_grads(cube_vjp(OFF), (X,), order=1, modes=["rev"])
    assert info.value.report.params[0].worst_index == (1,)
    with pytest.raises(GradcheckUsageError, match="forward mode"):  # JAX has no forward mode for custom_vjp
        check_grads(cube_vjp(), (X,), order=1, modes=["fwd"])


def test_wrong_only_in_second_order():
    f = cube_vjp(stop=True)
    check_grads(f, (X,), order=1, modes=["rev"])
    with pytest.raises(AssertionError, match="second derivatives"):
        check_grads(f, (X,), order=2, modes=["rev"])


def test_float32_passes_on_its_own_roundoff():
    x32 = jnp.linspace(-2.0, 2.0, 16, dtype=jnp.float32)
    check_grads(lambda x: jnp.tanh(x) * jnp.sum(x ** 2), (x32,), order=1)


def test_bad_arguments_are_refused():
    with pytest.raises(GradcheckUsageError, match="order"):
        check_grads(jnp.sin, (X,), order=0)
    with pytest.raises(GradcheckUsageError, match="modes"):
        check_grads(jnp.sin, (X,), order=1, modes=["backward"])
    with pytest.raises(GradcheckUsageError, match="dict"):
        check_grads(jnp.sin, (X,), order=1, atol={np.float32: 1e-3})
