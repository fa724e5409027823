"""The gradient under test: read from arrays, a function, or the user's autodiff, as flat float64 blocks."""
from __future__ import annotations

import numpy as np

from gradcheck import tolerances
from gradcheck.autodiff import user_gradient
from gradcheck.errors import FunctionRaised
from gradcheck.problem import Problem, flatten_like


def read_user_gradient(f, params, grads, problem: Problem, what: str):
    """(blocks, dtypes): the user's gradient per leaf as flat float64, and the dtype it came in."""
    if grads is None:
        tree = user_gradient(f, problem.build(problem.x0, cast="original"), problem)
    elif callable(grads):
        arg = problem.build(problem.x0, cast="original")
        try:
            tree = grads(arg)
        except Exception as exc:  # noqa: BLE001
            raise FunctionRaised(f"your gradient function raised {type(exc).__name__}: {exc}") from exc
        problem.check_unchanged(arg, problem.x0, who="your gradient function")
    else:
        tree = grads
    arrays = flatten_like(problem, tree, what=what)
    dtypes = [tolerances.float_or_float64(a.dtype) for a in arrays]
    # float64 arrays are used as they are (no copy: memory matters at a million parameters)
    blocks = [np.asarray(a, dtype=np.float64).reshape(-1) for a in arrays]
    return blocks, dtypes


def measure_roundoff(grads, problem: Problem, user, dtypes) -> list:
    """|g(float32 params) - g(float64 params)| per element, when the gradient function allows it.

    A float32 backward pass can lose far more than its dtype's floor suggests
    (y - t near a minimum, 1 - tanh(v)^2 when saturated): every element then
    carries the same relative error. Calling your gradient function once more with
    float64 params measures that round-off instead of assuming it; a bug is in
    both results, so the difference never hides one. None where not measurable.
    """
    none = [None] * len(user)
    if not callable(grads) or all(np.dtype(d).itemsize >= 8 for d in dtypes):
        return none
    try:
        wide = flatten_like(problem, grads(problem.build(problem.x0, cast="float64")), what="grads")
    except Exception:  # noqa: BLE001 - only an estimate: your function may insist on float32
        return none
    out = []
    for g, w, d in zip(user, wide, dtypes):
        w = np.asarray(w)
        if np.dtype(d).itemsize >= 8 or w.dtype.itemsize < 8:
            out.append(None)  # float64 already, or the function computes in float32 anyway
            continue
        diff = np.abs(g - w.astype(np.float64).reshape(-1))
        diff = np.where(np.isfinite(diff), diff, 0.0)
        eps = tolerances.eps_of(d)
        if not np.max(diff, initial=0.0) > 1e-3 * eps * float(np.max(np.abs(g), initial=0.0)):
            out.append(None)  # identical results: the function rounds to float32 inside, nothing measured
            continue
        out.append(diff)
    return out
