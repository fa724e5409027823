"""torch.autograd as the source of the gradient under test.

When f is torch code, its gradient is whatever torch.autograd computes: a
custom ``torch.autograd.Function.backward`` (or ``.jvp``, or the backward of
a backward) is exactly what gets checked. torch is imported only inside the
functions that run torch, never to find out whether torch is involved.
"""
from __future__ import annotations

import numpy as np

from gradcheck import pytree
from gradcheck.errors import FunctionRaised, GradcheckUsageError, NonNumericParams, NonScalarOutput


def _is_torch_object(obj) -> bool:
    return (type(obj).__module__ or "").startswith("torch")


def _is_torch_callable(f) -> bool:
    """An nn.Module, or Function.apply of a custom autograd.Function (classes checked by name, torch not imported)."""
    for cls in (type(f), getattr(f, "__self__", None)):
        if isinstance(cls, type) and any((c.__module__ or "").startswith("torch") for c in cls.__mro__[1:]):
            return True
    return False


def leaves(tree) -> list:
    """The leaves of a pytree, in gradcheck's order (dict keys sorted, as jax sorts them)."""
    return pytree.flatten(tree)[0]


def tree_map(fn, tree):
    """fn applied to every leaf, the containers rebuilt."""
    parts, treedef = pytree.flatten(tree)
    return treedef.unflatten([fn(x) for x in parts])


def is_torch(params, f=None) -> bool:
    """True when a leaf of params is a torch tensor, or f is an nn.Module / autograd.Function.apply."""
    return any(_is_torch_object(x) for x in leaves(params)) or (f is not None and _is_torch_callable(f))


def to_numpy(t) -> np.ndarray:
    """A tensor (any device) as numpy, in its own dtype (bfloat16 as ml_dtypes' bfloat16, which keeps its
    tolerance; exactly as float32 where ml_dtypes is missing)."""
    from gradcheck.problem import to_numpy as as_numpy

    try:
        return as_numpy(t)
    except NonNumericParams:
        return t.detach().cpu().float().numpy()


def _differentiable(params, who: str):
    """(fresh leaf tensors requiring grad, the params rebuilt from them)."""
    import torch

    fresh = []

    def leaf(x):
        if not isinstance(x, torch.Tensor):
            raise GradcheckUsageError(
                f"{who}: params mix torch tensors with {type(x).__name__} leaves; torch.autograd can only "
                f"differentiate tensors. Make every parameter a torch tensor, or pass your gradient (grads=...).")
        if not (x.is_floating_point() or x.is_complex()):
            raise GradcheckUsageError(f"{who}: a parameter is a {x.dtype} tensor; only floating-point tensors have "
                                      f"gradients. Convert it with .double() or .float().")
        t = x.detach().clone().requires_grad_(True)
        fresh.append(t)
        return t

    return fresh, tree_map(leaf, params)


def _scalar_output(out, who: str):
    import torch

    if not isinstance(out, torch.Tensor):
        raise NonScalarOutput(
            f"{who}: f returned a {type(out).__name__}, not a torch tensor, so torch.autograd cannot give its "
            f"gradient (does f call .item(), float() or .numpy()?). Return the tensor, or pass grads=...")
    if out.numel() != 1:
        raise NonScalarOutput(f"{who}: f returned a tensor of shape {tuple(out.shape)}; it must return a scalar "
                              f"loss (reduce it, e.g. .sum()), or use assert_vjp_match for vector outputs.")
    _require_graph([out], who)
    return out.reshape(())


def _require_graph(outs, who: str) -> None:
    if not any(o.requires_grad for o in outs):
        raise GradcheckUsageError(
            f"{who}: f's result does not depend on params through torch operations (it has no grad_fn): "
            f"a .detach(), .numpy() or torch.no_grad() inside f cuts the graph. Keep the computation in torch, "
            f"or pass your gradient (grads=...).")


def _grads_or_zeros(grads, fresh):
    """An input the output does not use has gradient zero (torch says None)."""
    import torch

    return [torch.zeros_like(t) if g is None else g for g, t in zip(grads, fresh)]


def _rebuild(params, values):
    it = iter(values)
    return tree_map(lambda _x: next(it), params)


def user_gradient(f, params, problem=None):
    """torch.autograd's gradient of the scalar f(params), as a pytree of numpy arrays like params."""
    import torch

    who = "grads=None (torch.autograd's gradient of f)"
    fresh, p = _differentiable(params, who)
    with torch.enable_grad():
        try:
            out = _scalar_output(f(p), who)
            grads = torch.autograd.grad(out, fresh, allow_unused=True)
        except GradcheckUsageError:
            raise
        except Exception as exc:  # noqa: BLE001 - shown to the user
            raise FunctionRaised(f"{who}: f or its backward raised {type(exc).__name__}: {exc}") from exc
    return _rebuild(params, [to_numpy(g) for g in _grads_or_zeros(grads, fresh)])


def gradient_function(f):
    """grads(params) for grads=None: torch.autograd's gradient of f, called like a user's gradient function."""
    def grads(params):
        return user_gradient(f, params)
    grads.__name__ = f"torch_autograd_gradient_of_{getattr(f, '__name__', 'f')}"
    return grads


def _call(f, inputs):
    return f(*inputs) if isinstance(inputs, tuple) else f(inputs)


def _as_tensor_like(c, y):
    import torch

    c = c if isinstance(c, torch.Tensor) else torch.as_tensor(np.asarray(c))
    return c.to(dtype=y.dtype, device=y.device).reshape(y.shape)


def vjp(f, inputs, cotangent, *, create_graph: bool = False, as_numpy: bool = True):
    """torch.autograd's vector-Jacobian product of f at inputs (f(*inputs) when inputs is a tuple)."""
    import torch

    who = "vjp=None (torch.autograd's vector-Jacobian product)"
    fresh, p = _differentiable(inputs, who)
    with torch.enable_grad():
        out = _call(f, p)
        outs, cots = leaves(out), leaves(cotangent)
        if len(outs) != len(cots):
            raise GradcheckUsageError(f"{who}: f returned {len(outs)} array(s), the cotangent has {len(cots)}; "
                                      f"it must have the structure of f's output.")
        pairs = [(y, _as_tensor_like(c, y)) for y, c in zip(outs, cots)
                 if isinstance(y, torch.Tensor) and y.requires_grad]
        _require_graph([y for y, _ in pairs], who)
        try:
            grads = torch.autograd.grad([y for y, _ in pairs], fresh, [c for _, c in pairs],
                                        allow_unused=True, create_graph=create_graph)
        except RuntimeError as exc:
            raise FunctionRaised(f"{who}: torch raised {exc}") from exc
    grads = _grads_or_zeros(grads, fresh)
    return _rebuild(inputs, [to_numpy(g) for g in grads] if as_numpy else grads)


def vjp_function(f, inputs):
    """vjp(cotangent) at fixed inputs, the shape vjp_report accepts for a user's backward."""
    return lambda cotangent: vjp(f, inputs, cotangent)


def jvp(f, primals, tangents):
    """torch.func.jvp (forward-mode AD: autograd.Function.jvp rules) of f at primals, as numpy."""
    import warnings

    import torch
    import torch.func

    who = "jvp=None (torch.func.jvp, forward-mode AD)"
    args = primals if isinstance(primals, tuple) else (primals,)
    tans = tangents if isinstance(tangents, tuple) else (tangents,)
    flat_args, flat_tans = leaves(args), leaves(tans)
    tans_t = [_as_tensor_like(t, x) for t, x in zip(flat_tans, flat_args)]

    def flat_f(*xs):
        return tuple(leaves(_call(f, _rebuild(primals, xs))))

    try:
        with warnings.catch_warnings():
            # forward AD's first use loads decompositions through the deprecated torch.jit.script: torch's, not yours
            warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=DeprecationWarning)
            _, out_t = torch.func.jvp(flat_f, tuple(x.detach() for x in flat_args), tuple(tans_t))
    except RuntimeError as exc:
        raise FunctionRaised(f"{who}: torch raised {exc}\nA custom autograd.Function needs a jvp() staticmethod "
                             f"for forward mode; or pass your own jvp=...") from exc
    out = _call(f, primals)
    return _rebuild(out, [to_numpy(t) for t in out_t])


def gradient_with_graph(f, params):
    """(fresh inputs, their gradient kept differentiable): the first half of a double backward."""
    import torch

    who = "second order (torch.autograd's gradient, differentiated again)"
    fresh, p = _differentiable(params, who)
    with torch.enable_grad():
        out = _scalar_output(f(p), who)
        grads = torch.autograd.grad(out, fresh, allow_unused=True, create_graph=True)
    return fresh, _grads_or_zeros(grads, fresh)


def hvp(f, params, v):
    """Hessian-vector product by double backward (autograd.grad with create_graph=True) through f's rules."""
    import torch

    fresh, g = gradient_with_graph(f, params)
    vs = [_as_tensor_like(x, t) for x, t in zip(leaves(v), fresh)]
    pairs = [(gi, vi) for gi, vi in zip(g, vs) if gi.requires_grad]
    if not pairs:
        return _rebuild(params, [np.zeros(tuple(t.shape), dtype=to_numpy(t).dtype) for t in fresh])
    with torch.enable_grad():
        try:
            h = torch.autograd.grad([a for a, _ in pairs], fresh, [b for _, b in pairs], allow_unused=True)
        except RuntimeError as exc:
            raise FunctionRaised(
                f"differentiating your backward again (double backward) failed: torch raised {exc}\n"
                f"A custom autograd.Function's backward must be written with differentiable torch operations "
                f"(no numpy, no @once_differentiable) to have second derivatives.") from exc
    return _rebuild(params, [to_numpy(x) for x in _grads_or_zeros(h, fresh)])
