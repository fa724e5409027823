"""grads=None: the user's own autodiff gradient of f, from the framework f is written in.

JAX first (when jax is already imported and can trace f), then torch (filled
in by gradcheck.oracle_torch). A numpy f gets an error that says what to pass.
"""
from __future__ import annotations

from gradcheck.errors import GradcheckUsageError

NO_AUTODIFF = ("grads was not given and f is not differentiable by JAX or torch here. Pass your gradient: "
               "grads=... (a pytree like params) or grads=lambda params: ... returning one.")


def user_gradient(f, params, problem):
    """The gradient tree of f at params as the user's framework computes it, or a usage error."""
    if problem.involves("jax"):
        from gradcheck import oracle_jax

        if oracle_jax.is_traceable(f, problem):
            return oracle_jax.user_gradient(f, params, problem)
    if problem.involves("torch"):
        from gradcheck import oracle_torch

        # torch.autograd differentiates tensors only: numpy params with torch merely imported
        # (by another test, say) are not torch code, and get the plain "pass grads" message
        if oracle_torch.is_torch(params, f):
            return oracle_torch.user_gradient(f, params, problem)
    raise GradcheckUsageError(NO_AUTODIFF)
