"""float16 and bfloat16 params and gradients (numpy, JAX, torch), and the rule for tuple params."""
from __future__ import annotations

import numpy as np
import pytest

import gradcheck as gc


def _square_loss(p):
    return float(np.sum(np.asarray(p, dtype=np.float32) ** 2))


def test_numpy_float16_is_checked_with_the_float16_tolerance():
    x = np.linspace(-1, 1, 6).astype(np.float16)
    report = gc.assert_grads_match(_square_loss, x, (2 * x).astype(np.float16))
    assert report.params[0].dtype == "float16"
    with pytest.raises(gc.GradientMismatch):
        gc.assert_grads_match(_square_loss, x, (2.2 * x).astype(np.float16))   # 10 %: beyond float16 round-off


def test_jax_bfloat16_params_and_gradients():
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    x = jnp.linspace(-1, 1, 6, dtype=jnp.bfloat16)
    f = lambda p: jnp.sum(p.astype(jnp.float32) ** 2)  # noqa: E731
    assert gc.assert_grads_match(f, x, 2 * x).params[0].dtype == "bfloat16"
    assert gc.grads_report(lambda p: jnp.sum(p["w"] ** 2), {"w": x}).passed        # grads=None: JAX's own gradient
    with pytest.raises(gc.GradientMismatch):
        gc.assert_grads_match(f, x, 2.5 * x)
    del jax


@pytest.mark.parametrize("dtype_name", ["float16", "bfloat16"])
def test_torch_half_precision_tensors(dtype_name):
    torch = pytest.importorskip("torch")
    pytest.importorskip("ml_dtypes")
    dtype = getattr(torch, dtype_name)
    x = torch.linspace(-1, 1, 6, dtype=dtype)
    seen = []

    def f(p):
        seen.append(p.dtype)
        return float((p.float() ** 2).sum())

    report = gc.assert_grads_match(f, x, 2 * x)
    assert report.params[0].dtype == dtype_name and set(seen) <= {dtype, torch.float64}
    with pytest.raises(gc.GradientMismatch):
        gc.assert_grads_match(f, x, 2.5 * x)


def test_a_tuple_is_one_argument_and_the_error_says_how_to_unpack_it():
    def f(W, b):
        return float(np.sum(W ** 2) + np.sum(b ** 2))

    params = (np.ones(2), np.ones(3))
    grads = (2 * np.ones(2), 2 * np.ones(3))
    with pytest.raises(gc.FunctionRaised, match=r"f takes 2 positional parameters.*lambda p: f\(\*p\)"):
        gc.grads_report(f, params, grads)
    gc.assert_grads_match(lambda p: f(*p), params, grads)


def test_a_one_argument_f_that_fails_gets_no_unpacking_hint():
    def f(p):
        raise TypeError("something else")

    with pytest.raises(gc.FunctionRaised) as info:
        gc.grads_report(f, (np.ones(2), np.ones(3)), (np.ones(2), np.ones(3)))
    assert "f(*p)" not in str(info.value)
