"""The gradient under test: read from arrays, a function, or the user's autodiff, as flat float64 blocks."""
from __future__ import annotations

import numpy as np

from gradcheck import tolerances
from gradcheck.autodiff import user_gradient
from gradcheck.problem import Problem, flatten_like, raised


def read_user_gradient(f, params, grads, problem: Problem, what: str):
    """(blocks, dtypes): the user's gradient per leaf as flat float64, and the dtype it came in."""
    if grads is None:
        tree = user_gradient(f, problem.build(problem.x0, cast="original"), problem)
    elif callable(grads):
        arg = problem.build(problem.x0, cast="original")
        try:
            tree = grads(arg)
        except Exception as exc:  # noqa: BLE001
            raise raised("your gradient function", exc) from exc
        problem.check_unchanged(arg, problem.x0, who="your gradient function")
    else:
        tree = grads
    arrays = flatten_like(problem, tree, what=what)
    dtypes = [tolerances.float_or_float64(a.dtype) for a in arrays]
    # float64 arrays are used as they are (no copy: memory matters at a million parameters)
    blocks = [np.asarray(a, dtype=np.float64).reshape(-1) for a in arrays]
    return blocks, dtypes
