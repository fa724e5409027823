"""grads=None with torch code: torch.autograd's gradient (custom autograd.Function.backward) is what gets checked."""
import numpy as np
import pytest

import gradcheck
from gradcheck import oracle_torch
from tests.torch_functions import cube_function, relu_function

# torch is imported by the fixture below when a test of this module runs, not when the suite is collected
torch = Cube = Relu = None   # Cube.scale multiplies one element's gradient (1.0: correct)


@pytest.fixture(autouse=True, scope="module")
def _torch():
    global torch, Cube, Relu
    torch = pytest.importorskip("torch", reason="torch is optional (the 'torch' extra)")
    Cube, Relu = cube_function(), relu_function()


def loss(p):
    return torch.sin(Cube.apply(p["x"])).sum() + (p["w"] * torch.tanh(p["x"])).sum()


@pytest.fixture
def params():
    gen = torch.Generator().manual_seed(0)
    return {"x": torch.randn(5, dtype=torch.float64, generator=gen),
            "w": torch.randn(5, dtype=torch.float64, generator=gen)}


@pytest.fixture(autouse=True)
def correct_cube():
    Cube.scale = 1.0
    yield
    Cube.scale = 1.0


def test_is_torch_without_importing_torch_for_numpy():
    assert oracle_torch.is_torch({"a": torch.zeros(2)})
    assert oracle_torch.is_torch({"a": np.zeros(2)}, torch.nn.Linear(2, 2))
    assert oracle_torch.is_torch(np.zeros(2), Cube.apply)
    assert not oracle_torch.is_torch({"a": np.zeros(2), "b": [1.0]}, np.sin)


def test_user_gradient_is_autograds_and_keeps_params_untouched(params):
    before = {k: v.clone() for k, v in params.items()}
    g = oracle_torch.user_gradient(loss, params)
    x, w = params["x"].numpy(), params["w"].numpy()
    np.testing.assert_allclose(g["x"], np.cos(x ** 3) * 3 * x ** 2 + w * (1 - np.tanh(x) ** 2), rtol=1e-12)
    np.testing.assert_allclose(g["w"], np.tanh(x), rtol=1e-12)
    assert all(torch.equal(before[k], params[k]) and not params[k].requires_grad for k in params)


def test_unused_input_has_zero_gradient(params):
    g = oracle_torch.user_gradient(lambda p: torch.sin(p["x"]).sum(), params)
    assert np.array_equal(g["w"], np.zeros(5))


def test_custom_backward_correct_passes(params):
    assert gradcheck.grads_report(loss, params, oracle_torch.gradient_function(loss)).passed


def test_custom_backward_one_element_one_percent_off_is_found(params):
    Cube.scale = 1.01
    with pytest.raises(gradcheck.GradientMismatch) as info:
        gradcheck.assert_grads_match(loss, params, oracle_torch.gradient_function(loss))
    bad = info.value.report.failures
    assert [p.path for p in bad] == ["params['x']"] and bad[0].worst_index == (1,)


def test_relu_like_kink_accepts_the_subgradient():
    x = torch.tensor([0.0, 0.7, -0.3, 0.0], dtype=torch.float64)
    f = lambda p: (Relu.apply(p) * torch.arange(1.0, 5.0, dtype=torch.float64)).sum()  # noqa: E731
    report = gradcheck.grads_report(f, x, oracle_torch.gradient_function(f))
    assert report.passed and report.params[0].n_kinks >= 1


def test_float32_tensors(params):
    p32 = {k: v.float() for k, v in params.items()}
    report = gradcheck.grads_report(loss, p32, oracle_torch.gradient_function(loss))
    assert report.passed and report.params[0].dtype == "float32"
    Cube.scale = 1.05
    assert not gradcheck.grads_report(loss, p32, oracle_torch.gradient_function(loss)).passed


def test_bfloat16_tensors_get_bfloat16_tolerance():
    x = torch.tensor([0.5, -1.0, 2.0, 0.3], dtype=torch.bfloat16)
    g = oracle_torch.user_gradient(lambda p: (p["x"] ** 2).sum(), {"x": x})
    assert "bfloat16" in str(g["x"].dtype)
    np.testing.assert_array_equal(g["x"].astype(np.float32), (2 * x).float().numpy())
    f = lambda p: torch.sin(p["x"]).sum()  # noqa: E731
    report = gradcheck.grads_report(f, {"x": x}, oracle_torch.gradient_function(f))
    assert report.passed and report.params[0].dtype == "bfloat16"
    wrong = lambda p: {"x": torch.cos(p["x"]) * 1.1}  # noqa: E731 - 10% off: beyond bfloat16's round-off
    assert not gradcheck.grads_report(f, {"x": x}, wrong).passed


def test_grads_none_with_a_torch_f_checks_the_custom_backward(params):
    assert gradcheck.grads_report(loss, params).passed
    Cube.scale = 1.01
    assert not gradcheck.grads_report(loss, params).passed


def test_a_detached_f_gets_a_clear_error(params):
    with pytest.raises(gradcheck.GradcheckUsageError, match="no grad_fn"):
        oracle_torch.user_gradient(lambda p: torch.sin(p["x"].detach()).sum(), params)
    with pytest.raises(gradcheck.NonScalarOutput, match=r"\.item\(\)"):
        oracle_torch.user_gradient(lambda p: p["x"].sum().item(), params)


def test_torch_vjp_of_a_vector_function(params):
    f = lambda x: Cube.apply(x) * 2  # noqa: E731
    cot = np.arange(5.0)
    vjp = oracle_torch.vjp(f, params["x"], cot)
    np.testing.assert_allclose(vjp, cot * 6 * params["x"].numpy() ** 2, rtol=1e-12)
    assert gradcheck.vjp_report(f, params["x"], cot, oracle_torch.vjp_function(f, params["x"])).passed
    Cube.scale = 1.01
    assert not gradcheck.vjp_report(f, params["x"], cot, oracle_torch.vjp_function(f, params["x"])).passed


def test_assert_vjp_match_with_vjp_none_uses_torch_autograd(params):
    f = lambda x: Cube.apply(x) * 2  # noqa: E731
    cot = np.arange(5.0)
    assert gradcheck.assert_vjp_match(f, params["x"], cot, None).passed
    Cube.scale = 1.01
    with pytest.raises(gradcheck.GradientMismatch):
        gradcheck.assert_vjp_match(f, params["x"], cot, None)


def test_numpy_checks_never_import_torch():
    import subprocess
    import sys

    code = ("import sys, numpy as np, gradcheck\n"
            "from gradcheck import oracle_torch\n"
            "assert not oracle_torch.is_torch({'a': np.zeros(2)}, np.sin)\n"
            "gradcheck.assert_jvp_match(np.sin, np.array([0.5]), np.array([1.0]), np.cos([0.5]))\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_numpy_params_with_torch_imported_get_the_plain_pass_grads_message():
    """torch imported elsewhere in the process does not make a numpy f torch code."""
    with pytest.raises(gradcheck.GradcheckUsageError, match="grads was not given"):
        gradcheck.grads_report(lambda p: float(np.sum(p ** 2)), np.ones(3))
