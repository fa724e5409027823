"""gradcheck.compat.torch: torch's signatures and calling patterns, gradcheck's verdicts."""
import inspect
import sys
import warnings

import pytest

from gradcheck import GradcheckUsageError, GradientMismatch
from tests.torch_functions import cube, exp_function

# torch (and gradcheck.compat.torch, which imports it) are imported by the fixture below when a test of this
# module runs, not when the suite is collected: every pytest-xdist worker collects every module
torch = TORCH_GC = GradcheckError = gradcheck = gradgradcheck = None


@pytest.fixture(autouse=True, scope="module")
def _torch():
    global torch, TORCH_GC, GradcheckError, gradcheck, gradgradcheck
    torch = pytest.importorskip("torch", reason="torch is optional (the 'torch' extra)")
    import torch.autograd.gradcheck  # noqa: F401

    from gradcheck.compat.torch import GradcheckError, gradcheck, gradgradcheck
    TORCH_GC = sys.modules["torch.autograd.gradcheck"]  # torch.autograd.gradcheck is also a function's name


def leaf(*values, dtype=None):
    return torch.tensor(values, dtype=dtype or torch.float64, requires_grad=True)


def test_signatures_are_torchs():
    for ours, theirs in ((gradcheck, TORCH_GC.gradcheck),
                         (gradgradcheck, TORCH_GC.gradgradcheck)):
        a, b = inspect.signature(ours).parameters, inspect.signature(theirs).parameters
        assert list(a) == list(b)
        assert [p.default for p in a.values()] == [p.default for p in b.values()]


def test_correct_function_returns_true():
    assert gradcheck(cube(), (leaf(0.5, -1.0, 2.0),)) is True
    assert gradcheck(cube(), leaf(0.5, -1.0, 2.0)) is True  # a lone tensor, as torch allows


def test_one_element_one_percent_off_raises_a_torch_gradcheck_error_that_names_it():
    with pytest.raises(TORCH_GC.GradcheckError) as info:
        gradcheck(cube(scale=1.01), (leaf(0.5, -1.0, 2.0, 0.3),))
    assert isinstance(info.value, GradientMismatch) and isinstance(info.value, GradcheckError)
    text = str(info.value)
    assert "inputs[0]" in text and "worst at [1]" in text
    assert gradcheck(cube(scale=1.01), (leaf(0.5, -1.0, 2.0, 0.3),), raise_exception=False) is False


def test_torch_calling_patterns():
    a, b = leaf(0.5, -1.0), leaf(2.0, 3.0)
    unused = leaf(1.0, 1.0)
    frozen = torch.tensor([5.0, 7.0], dtype=torch.float64)  # no requires_grad: not checked, as in torch

    def func(x, k, y, name, z, c):
        assert isinstance(k, int) and name == "mode"
        return x * k + cube()(y) * c, (x ** 2).sum(), torch.tensor(3)  # tuple output with an int tensor

    assert gradcheck(func, (a, 3, b, "mode", unused, frozen)) is True
    failing = lambda x, k, y, name, z, c: (x * k + cube(scale=1.05, index=0)(y) * c,)  # noqa: E731
    with pytest.raises(GradcheckError, match=r"inputs\[2\]"):
        gradcheck(failing, (a, 3, b, "mode", unused, frozen))


def test_no_input_requires_grad_is_torchs_error():
    with pytest.raises(GradcheckUsageError, match="requires_grad"):
        gradcheck(torch.sin, (torch.tensor([1.0], dtype=torch.float64),))


def test_relu_kink_and_float32_pass_where_torch_false_fails():
    x = leaf(0.0, 1.0, -1.0)
    assert gradcheck(torch.relu, (x,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert TORCH_GC.gradcheck(torch.relu, (x,), raise_exception=False) is False
    x32 = torch.linspace(-2, 2, 12, dtype=torch.float32).requires_grad_()
    assert gradcheck(lambda t: torch.tanh(t) * t.sum(), (x32,))


def test_gradgradcheck_finds_a_backward_that_is_wrong_only_in_second_order():
    x = leaf(0.5, -1.0, 2.0)
    assert gradcheck(cube(detach=True), (x,))
    assert gradgradcheck(cube(), (x,))
    with pytest.raises(GradcheckError, match="gradgradcheck"):
        gradgradcheck(cube(detach=True), (x,))


def test_arguments_that_would_change_meaning_are_refused():
    x = leaf(0.5)
    for flag in ("check_batched_grad", "check_batched_forward_grad", "masked"):
        with pytest.raises(GradcheckUsageError, match=flag):
            gradcheck(torch.sin, (x,), **{flag: True})
    assert gradcheck(torch.sin, (x,), eps=1e-3, fast_mode=True, nondet_tol=1e-9)


def test_check_grad_dtypes_and_check_forward_ad():
    x = leaf(0.5, 1.5)
    assert gradcheck(cube(), (x,), check_grad_dtypes=True)
    assert gradcheck(torch.sin, (x,), check_forward_ad=True)
    assert gradcheck(torch.sin, (x,), check_forward_ad=True, check_backward_ad=False)


def test_forward_ad_rule_wrong_only_in_jvp():
    Exp = exp_function(factor=1.01)
    x = leaf(0.5, 1.5)
    assert gradcheck(Exp.apply, (x,))
    with pytest.raises(GradcheckError, match="forward-mode"):
        gradcheck(Exp.apply, (x,), check_forward_ad=True)


def test_float32_backward_judged_on_its_measured_roundoff():
    def tanh_fn(error):
        class Tanh(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return torch.tanh(x)

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                w = torch.ones_like(x)
                w[3] += error
                return g * (1 - torch.tanh(x) ** 2) * w
        return Tanh.apply

    x = torch.linspace(-1, 1, 8, dtype=torch.float32, requires_grad=True)
    assert gradcheck(tanh_fn(0.0), (x,))
    with pytest.raises(GradcheckError, match=r"worst at \[3\]"):
        gradcheck(tanh_fn(1e-3), (x,))  # 0.1 %: inside torch's atol=1e-5 + rtol=1e-3
