"""Helpers shared by the torch and jax tests: torch autograd.Functions and jax custom rules, built (and torch or
jax imported) on demand."""
import pytest


def optional(name):
    """A property that imports the optional extra ``name`` or skips the test reading it: skipped per test,
    so the module's numpy tests still run without it."""
    return property(lambda self: pytest.importorskip(name, reason=f"{name} is optional (the '{name}' extra)"))


def cube_function(scale=1.0, detach=False, index=1):
    """x**3 with a hand-written backward: ``scale`` multiplies element ``index`` of the gradient (1.0: correct),
    ``detach`` detaches x in backward (right first, wrong second derivatives). ``scale`` is a class attribute,
    so a test may change it after the fact."""
    import torch

    class Cube(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            x = x.detach() if detach else x
            w = torch.ones_like(x)
            w.view(-1)[index] = Cube.scale
            return g * 3 * x ** 2 * w
    Cube.scale = scale
    return Cube


def relu_function():
    """relu with a hand-written backward: relu'(0) = 0, a valid subgradient."""
    import torch

    class Relu(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.clamp(min=0)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * (x > 0).to(g.dtype)
    return Relu


def cube(scale=1.0, detach=False, index=1):
    return cube_function(scale, detach, index).apply


def exp_function(factor=1.0):
    """exp with a correct backward and a forward-mode (jvp) rule scaled by ``factor`` (1.0: correct); ``factor``
    is a class attribute, so a test may change it after the fact."""
    import torch

    class Exp(torch.autograd.Function):
        @staticmethod
        def forward(x):
            return torch.exp(x)

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(output)
            ctx.save_for_forward(output)

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

        @staticmethod
        def jvp(ctx, t):
            (y,) = ctx.saved_tensors
            return y * t * Exp.factor
    Exp.factor = factor
    return Exp


def sin_jvp(factor=1.0):
    """jnp.sin with a custom_jvp rule whose tangent is multiplied by ``factor`` (1.0: correct; an array scales
    element by element)."""
    import jax
    import jax.numpy as jnp

    @jax.custom_jvp
    def s(x):
        return jnp.sin(x)

    @s.defjvp
    def rule(primals, tangents):
        (x,), (t,) = primals, tangents
        return jnp.sin(x), jnp.cos(x) * t * jnp.asarray(factor, x.dtype)
    return s


def cube_vjp(factor=1.0, stop=False):
    """x**3 with a custom_vjp rule multiplied by ``factor`` (1.0: correct); ``stop`` stops the gradient through x
    in the rule (right first, wrong second derivatives)."""
    import jax
    import jax.numpy as jnp

    @jax.custom_vjp
    def cube(x):
        return x ** 3

    def bwd(x, g):
        x2 = jax.lax.stop_gradient(x) if stop else x
        return (g * 3 * x2 ** 2 * jnp.asarray(factor, x.dtype),)
    cube.defvjp(lambda x: (x ** 3, x), bwd)
    return cube
