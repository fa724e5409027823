"""The JAX oracle: autodiff of f (or of a JAX twin) in float64.

Float64 is switched on only for the duration of the call (jax.enable_x64
context), never globally.
"""
from __future__ import annotations

import numpy as np

from gradcheck.errors import FunctionRaised, GradcheckUsageError


def require_jax(why: str):
    """jax, or a usage error saying how to install it (jax is the optional extra gradcheck[jax])."""
    try:
        import jax
    except ImportError:
        raise GradcheckUsageError(f"{why} needs JAX, which is not installed: pip install 'gradcheck[jax]' "
                                  f"(or pass your gradient and use oracle='fd').") from None
    return jax


def _jnp_params(problem, dtype, x=None):
    import jax.numpy as jnp

    x = problem.x0 if x is None else x
    parts = [jnp.asarray(np.array(x[leaf.slice].reshape(leaf.shape), dtype=dtype)) for leaf in problem.leaves]
    return problem.treedef.unflatten(parts)


def is_traceable(fn, problem) -> bool:
    """True when jax can differentiate fn at params (traced once, in float64)."""
    import jax

    shapes = problem.treedef.unflatten([jax.ShapeDtypeStruct(leaf.shape, np.float64) for leaf in problem.leaves])
    try:
        with jax.enable_x64(True):
            out = jax.eval_shape(lambda p: problem.call(fn, p), shapes)  # abstract: no arrays are made
    except Exception:  # noqa: BLE001 - numpy code rejects tracers in many ways
        return False
    return getattr(out, "shape", None) in ((), (1,), (1, 1))


def gradient(fn, problem, *, name: str = "f", at: np.ndarray | None = None) -> np.ndarray:
    """Flat float64 gradient of fn at params (or at the flat point ``at``), in the problem's leaf order."""
    import jax
    import jax.numpy as jnp

    with jax.enable_x64(True):
        try:
            g = jax.grad(lambda p: jnp.reshape(problem.call(fn, p), ()))(_jnp_params(problem, np.float64, at))
        except Exception as exc:  # noqa: BLE001
            raise GradcheckUsageError(
                f"JAX could not differentiate {name}: {type(exc).__name__}: {exc}\n"
                f"Use oracle='fd', or pass reference=g with a jax.numpy twin of f."
            ) from exc
        leaves = problem.treedef.flatten_up_to(g)
        return np.concatenate([np.asarray(x, dtype=np.float64).reshape(-1) for x in leaves])


def user_gradient(f, params, problem):
    """grads=None: the user's own JAX gradient of f, computed as their code would (their dtypes)."""
    import jax
    import jax.numpy as jnp

    try:
        return jax.grad(lambda p: jnp.reshape(problem.call(f, p), ()))(params)
    except Exception as exc:  # noqa: BLE001
        raise FunctionRaised(
            f"grads was not given, so gradcheck tried JAX's gradient of f, and that failed: "
            f"{type(exc).__name__}: {exc}\nPass your gradient: grads=... (a pytree like params, "
            f"or a function grads(params) returning one)."
        ) from exc
