"""Second order: Hessian-vector products checked against finite differences of the gradient.

The gradient function g is itself a vector function of params, and its
vector-Jacobian product with cotangent v is H v (the Hessian is symmetric).
So an HVP check is vjp_report on g: the same verdict engine (random
directions, error bars, kinks, localization), with g's finite differences
as the oracle. For torch and JAX code the HVP under test defaults to double
backward through the user's own rules (torch: autograd.grad with
create_graph=True; JAX: jax.grad of jax.grad), which is what torch's
gradgradcheck and jax.test_util.check_grads(order=2) exercise.
"""
from __future__ import annotations

import sys

import numpy as np

from gradcheck import oracle_torch
from gradcheck.errors import FunctionRaised, GradcheckUsageError, GradientMismatch
from gradcheck.problem import Problem, flatten_like, raised


def hvp_report(f, params, hvp=None, *, grads=None, vector=None, mode=None, rtol=None, atol=None, seed=0,
               directions=2):
    """Check a Hessian-vector product H(params) @ vector against finite differences of the gradient.

    hvp: your product (a pytree like params; then pass the vector it was
    computed for), a function hvp(params, vector) returning one, or None for
    double backward through f's autodiff rules (torch or JAX). grads: your
    gradient function grads(params) (default: torch's or JAX's gradient of f);
    its finite differences are the reference, so this checks second derivatives
    against your first ones (check those with assert_grads_match). vector: the
    direction v (a pytree like params); None draws a random one from seed.
    mode/rtol/atol/seed/directions are grads_report's. Returns a CheckReport (kind "hvp").
    """
    report = _hvp_report(f, params, hvp, grads, vector, mode, rtol, atol, seed, directions)
    return report


def assert_hvp_match(f, params, hvp=None, *, grads=None, vector=None, mode=None, rtol=None, atol=None, seed=0,
                     directions=2):
    """Return the report if hvp is H(params) @ vector for f's Hessian H; raise GradientMismatch otherwise."""
    __tracebackhide__ = True
    report = _hvp_report(f, params, hvp, grads, vector, mode, rtol, atol, seed, directions)
    if not report.passed:
        raise GradientMismatch(report.message(), report)
    return report


def _framework(f, params) -> str:
    if oracle_torch.is_torch(params, f):
        return "torch"
    if "jax" in sys.modules:
        from gradcheck import oracle_jax

        if oracle_jax.is_traceable(f, Problem(f, params, root="params")):
            return "jax"
    return ""


def _gradient_function(f, params, grads, framework):
    if grads is not None:
        if not callable(grads):
            raise GradcheckUsageError("grads must be your gradient FUNCTION, grads(params) -> pytree like params: "
                                      "its finite differences along random directions are the reference.")
        return grads
    if framework == "torch":
        return oracle_torch.gradient_function(f)
    if framework == "jax":
        import jax
        import jax.numpy as jnp

        return jax.grad(lambda p: jnp.reshape(f(p), ()))
    raise GradcheckUsageError("grads was not given and f is neither torch nor JAX code: pass your gradient "
                              "function, grads=lambda params: ... (its finite differences are the reference).")


def _random_vector(params, seed):
    problem = Problem(lambda p: 0.0, params, root="params")
    rng = np.random.default_rng([int(seed), 2])
    return problem.unflatten(rng.standard_normal(problem.n))


def _autodiff_hvp(f, params, vector, grads, framework):
    """Double backward: the VJP of the gradient function with cotangent v."""
    if framework == "torch":
        if grads is None:
            return oracle_torch.hvp(f, params, vector)
        return oracle_torch.vjp(lambda p: grads(p[0]), [params], vector)[0]
    if framework == "jax":
        import jax

        from gradcheck.jvp import user_precision

        g = _gradient_function(f, params, grads, framework)
        with user_precision(params):
            try:
                _, pullback = jax.vjp(g, params)
                return pullback(jax.tree_util.tree_map(lambda x, c: np.asarray(c, dtype=np.asarray(x).dtype),
                                                       params, vector))[0]
            except Exception as exc:  # noqa: BLE001
                raise FunctionRaised(f"differentiating the gradient again (jax.grad of jax.grad) failed: "
                                     f"{type(exc).__name__}: {str(exc)[:300]}\nA custom_vjp's bwd must be "
                                     f"written in differentiable jax.numpy to have second derivatives; or pass "
                                     f"hvp=...") from exc
    raise GradcheckUsageError("hvp was not given and f is neither torch nor JAX code: pass your product, "
                              "hvp=lambda params, v: ... (a pytree like params).")


def _hvp_report(f, params, hvp, grads, vector, mode, rtol, atol, seed, directions):
    from gradcheck.api import vjp_report

    framework = _framework(f, params)
    if hvp is not None and not callable(hvp) and vector is None:
        raise GradcheckUsageError("hvp is an array (pytree), so pass the vector it was computed for: vector=v "
                                  "(or give hvp as a function hvp(params, v)).")
    if vector is None:
        vector = _random_vector(params, seed)
    else:
        flatten_like(Problem(lambda p: 0.0, params, root="params"), vector, what="vector")
    g = _gradient_function(f, params, grads, framework)
    if hvp is None:
        user = _autodiff_hvp(f, params, vector, grads, framework)
    elif callable(hvp):
        try:
            user = hvp(params, vector)
        except Exception as exc:  # noqa: BLE001
            raise raised("your hvp function", exc) from exc
    else:
        user = hvp
    # params as ONE argument of g: a tuple would be unpacked as several
    report = vjp_report(lambda p: g(p[0]), [params], vector, [user], oracle="fd", mode=mode, rtol=rtol,
                        atol=atol, seed=seed, directions=directions)
    report.kind = "hvp"
    for p in report.params:
        _, _, rest = p.path.partition("[0]")
        p.path = "hvp" + rest
    return report
