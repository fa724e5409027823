"""torch.autograd.gradcheck and gradgradcheck, with gradcheck's verdicts.

    from gradcheck.compat.torch import gradcheck, gradgradcheck

Same signatures, same calling patterns (a tensor or a tuple of arguments,
non-tensor arguments, tuple outputs; only inputs with requires_grad=True are
checked; an input the output does not use has gradient zero), same result:
True, or GradcheckError (a torch GradcheckError, also an AssertionError) /
False with raise_exception=False. What changes is the verdict: the backward
is checked against finite differences with measured error bars (no eps to
tune, float32 passes on its own round-off, kinks accept any subgradient) and a
failure names the wrong elements. The arguments that would mean something
else here:

- eps: ignored. gradcheck measures f's noise and picks its step (and a finer
  one where a kink or truncation shows); a fixed eps is what makes torch's
  check false-fail in float32.
- atol, rtol: torch's defaults (1e-5, 1e-3) mean "gradcheck's own floors"
  (from the gradient's dtype, plus the finite differences' error bar); any
  other value replaces the floor, with the error bar still added.
- fast_mode: ignored; gradcheck's session mode decides (every element where
  cheap, random directions with localization beyond).
- nondet_tol, check_undefined_grad: accepted; the backward is called once, and
  undefined (None) output gradients are not exercised.
- check_grad_dtypes: accepted; torch's autograd engine already casts every
  gradient to its input's dtype, and the tolerance follows that dtype.
- check_batched_grad, check_batched_forward_grad, masked=True: refused (vmap
  over the backward and masked tensors are not checked here).
- check_forward_ad=True: the forward-mode rule (autograd.Function.jvp) is
  checked too, along a random tangent (gradcheck.assert_jvp_match).
"""
from __future__ import annotations

import re

import numpy as np
import torch
from torch.autograd.gradcheck import GradcheckError as _TorchGradcheckError

from gradcheck import oracle_torch
from gradcheck.errors import GradcheckUsageError, GradientMismatch

TORCH_ATOL, TORCH_RTOL = 1e-5, 1e-3


class GradcheckError(GradientMismatch, _TorchGradcheckError):
    """A failed check: torch's GradcheckError (a RuntimeError) and gradcheck's GradientMismatch (an AssertionError).

    ``.report`` holds the CheckReport(s) behind the message.
    """


def gradcheck(func, inputs, *, eps=1e-06, atol=1e-05, rtol=0.001, raise_exception=True, nondet_tol=0.0,
              check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
              check_batched_forward_grad=False, check_forward_ad=False, check_backward_ad=True, fast_mode=False,
              masked=None):
    """Check func's backward (and, with check_forward_ad, its forward-mode rule) at inputs; True if right.

    See the module docstring for what each torch argument means here.
    """
    _refuse(check_batched_grad=check_batched_grad, check_batched_forward_grad=check_batched_forward_grad,
            masked=masked)
    args = (inputs,) if isinstance(inputs, torch.Tensor) else tuple(inputs)
    names = ["inputs"] if isinstance(inputs, torch.Tensor) else [f"inputs[{i}]" for i in range(len(args))]
    return _check(func, args, names, "gradcheck", atol=atol, rtol=rtol, raise_exception=raise_exception,
                  check_forward_ad=check_forward_ad, check_backward_ad=check_backward_ad)


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-06, atol=1e-05, rtol=0.001,
                  gen_non_contig_grad_outputs=False, raise_exception=True, nondet_tol=0.0, check_undefined_grad=True,
                  check_grad_dtypes=False, check_batched_grad=False, check_fwd_over_rev=False,
                  check_rev_over_rev=True, fast_mode=False, masked=False):
    """Check second derivatives: the backward of func's backward (double backward), as torch's gradgradcheck.

    The function checked is (inputs, grad_outputs) -> torch.autograd.grad(func(inputs), inputs, grad_outputs,
    create_graph=True); grad_outputs default to random tensors (seeded). gen_non_contig_grad_outputs is
    accepted (contiguity does not change values).
    """
    _refuse(check_batched_grad=check_batched_grad, masked=masked)
    args = (inputs,) if isinstance(inputs, torch.Tensor) else tuple(inputs)
    checked = _checked(args, "gradgradcheck")
    with torch.enable_grad():
        outs = _differentiable_outputs(func(*_fresh(args, checked)))
    if grad_outputs is None:
        gen = np.random.default_rng(0)
        gos = tuple(torch.tensor(gen.standard_normal(tuple(o.shape)), dtype=o.dtype).requires_grad_(True)
                    for o in outs)
    else:
        gos = (grad_outputs,) if isinstance(grad_outputs, torch.Tensor) else tuple(grad_outputs)
        if len(gos) != len(outs):
            raise GradcheckUsageError(f"grad_outputs has {len(gos)} tensor(s) but func has {len(outs)} "
                                      f"differentiable output(s); give one per output, shaped like it.")
    n = len(args)

    def first_backward(*all_args):
        xs = [_leaf(a) if i in checked else a for i, a in enumerate(all_args[:n])]
        with torch.enable_grad():
            ys = _differentiable_outputs(func(*xs))
            grads = torch.autograd.grad(ys, [xs[i] for i in checked], all_args[n:], create_graph=True,
                                        allow_unused=True)
        return tuple(torch.zeros_like(xs[i]) if g is None else g for i, g in zip(checked, grads))

    names = [f"inputs[{i}]" for i in range(n)] + [f"grad_outputs[{j}]" for j in range(len(gos))]
    return _check(first_backward, args + gos, names, "gradgradcheck", atol=atol, rtol=rtol,
                  raise_exception=raise_exception,
                  check_forward_ad=check_fwd_over_rev, check_backward_ad=check_rev_over_rev)


# -- the shared check ----------------------------------------------------------------------
def _refuse(**flags) -> None:
    why = {"check_batched_grad": "vmap over the backward",
           "check_batched_forward_grad": "vmap over the forward-mode rule",
           "masked": "masked (sparse) tensors"}
    for name, value in flags.items():
        if value:
            raise GradcheckUsageError(
                f"{name}={value!r}: {why[name]} is not checked by gradcheck.compat.torch. Keep "
                f"torch.autograd.gradcheck for this call, or drop {name}.")


def _checked(args, who) -> list:
    checked = [i for i, a in enumerate(args) if isinstance(a, torch.Tensor) and a.requires_grad]
    if not checked:
        raise GradcheckUsageError(f"{who} expects at least one input tensor to require gradient, but none of "
                                  f"them have requires_grad=True (only those inputs are checked, as in torch).")
    for i in checked:
        if args[i].is_complex():
            raise GradcheckUsageError(f"input {i} is complex; gradcheck checks real-valued gradients only.")
        if args[i].is_sparse:
            raise GradcheckUsageError(f"input {i} is a sparse tensor; pass it dense (.to_dense()).")
    return checked


def _leaf(a):
    return a if a.requires_grad else a.detach().requires_grad_(True)


def _fresh(args, checked):
    return [a.detach().clone().requires_grad_(True) if i in checked else a for i, a in enumerate(args)]


def _differentiable_outputs(out) -> tuple:
    """The outputs torch would check: floating-point tensors (in a tuple output, in order)."""
    outs = (out,) if isinstance(out, torch.Tensor) else tuple(out)
    return tuple(o for o in outs if isinstance(o, torch.Tensor) and o.is_floating_point())


def _check(func, args, names, who, *, atol, rtol, raise_exception, check_forward_ad,
           check_backward_ad) -> bool:
    from gradcheck.api import grads_report
    from gradcheck.jvp import jvp_report

    checked = _checked(args, who)
    atol_, rtol_ = (None if atol == TORCH_ATOL else atol), (None if rtol == TORCH_RTOL else rtol)
    params = tuple(args[i].detach() for i in checked)

    def f(*xs):
        full = list(args)
        for i, x in zip(checked, xs):
            full[i] = x
        return _differentiable_outputs(func(*full))

    reports = []
    if check_backward_ad:
        with torch.enable_grad():
            outs = _differentiable_outputs(func(*_fresh(args, checked)))
            if not any(o.requires_grad for o in outs):
                raise GradcheckUsageError(
                    f"{who}: no output of func depends on the inputs through torch operations (none has a "
                    f"grad_fn), so there is no backward to check. Does func leave torch (.numpy(), .item())?")
        gen = np.random.default_rng(0)
        cot = tuple(gen.standard_normal(tuple(o.shape)) for o in outs)

        def projected(xs):
            """<func(xs), cot>: its gradient is the vector-Jacobian product with cotangent cot."""
            return float(sum(float(np.sum(oracle_torch.to_numpy(o).astype(np.float64) * c))
                             for o, c in zip(f(*xs), cot)))

        def backward(xs):
            """func's backward at xs (called at your dtype, and once at float64 to measure float32 round-off)."""
            return oracle_torch.vjp(f, tuple(xs), cot)

        rep = grads_report(projected, params, backward, rtol=rtol_, atol=atol_)
        rep.kind = "vjp"
        _rename(rep, checked, names)
        reports.append(("backward", rep))
    if check_forward_ad:
        gen = np.random.default_rng(1)
        tangents = tuple(torch.as_tensor(gen.standard_normal(tuple(p.shape)), dtype=p.dtype) for p in params)
        rep = jvp_report(f, params, tangents, rtol=rtol_, atol=atol_)
        reports.append(("forward-mode (jvp)", rep))
    failed = [(what, r) for what, r in reports if not r.passed]
    if not failed:
        return True
    lines = [f"{who}: func's {what} rule disagrees with finite differences of func." for what, _ in failed]
    lines += [r.message() for _, r in failed]
    if raise_exception:
        raise GradcheckError("\n".join(lines), [r for _, r in reports])
    return False


def _rename(report, checked, names) -> None:
    """Paths of the checked tuple (inputs[k]) renamed to the position the user knows (inputs[i], grad_outputs[j])."""
    for p in report.params:
        m = re.match(r"^[a-z_]+\[(\d+)\]", p.path)
        if m:
            p.path = names[checked[int(m.group(1))]] + p.path[m.end():]
