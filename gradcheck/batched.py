"""Many evaluations of a JAX-traceable f in one call, with jax.vmap.

Full mode perturbs one element at a time: four evaluations per element.
For JAX functions those rows go through one jitted, vmapped call per chunk
instead of a Python loop.
"""
from __future__ import annotations

import numpy as np

ROW_BUDGET = 1 << 24   # floats per chunk of perturbed parameter vectors (128 MiB)


class BatchedEvaluator:
    def __init__(self, problem):
        import jax
        import jax.numpy as jnp

        self.problem = problem
        leaves = problem.leaves

        def f_flat(flat):
            parts = [flat[leaf.offset:leaf.offset + leaf.size].reshape(leaf.shape) for leaf in leaves]
            tree = problem.treedef.unflatten(parts)
            return jnp.reshape(problem.call(problem.f, tree), ())

        self._fn = jax.jit(jax.vmap(f_flat))

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        """f at each row (a full flat parameter vector); counted as len(rows) evaluations.

        Rows go through in chunks of one fixed size (the last one padded), so jit
        compiles once per check instead of once per block size.
        """
        import jax
        import jax.numpy as jnp

        chunk = int(min(1024, max(1, ROW_BUDGET // max(1, rows.shape[1]))))
        out = []
        with jax.enable_x64(True):
            for start in range(0, len(rows), chunk):
                part = rows[start:start + chunk]
                n = len(part)
                if n < chunk:
                    part = np.concatenate([part, np.repeat(part[-1:], chunk - n, axis=0)])
                out.append(np.asarray(self._fn(jnp.asarray(part)), dtype=np.float64)[:n])
        self.problem.n_evals += len(rows)
        return np.concatenate(out) if out else np.zeros(0)


def coordinate_values(evaluate, x0: np.ndarray, flat_index: np.ndarray, steps: np.ndarray,
                      offsets=(-2, -1, 1, 2)) -> np.ndarray:
    """f(x0 + k*steps[i]*e_j) for each index j (rows) and offset k (columns).

    Built in chunks of elements so the perturbed vectors stay within ROW_BUDGET.
    """
    n, m = len(flat_index), len(offsets)
    per_chunk = max(1, ROW_BUDGET // max(1, x0.size * m))
    out = np.empty((n, m))
    for start in range(0, n, per_chunk):
        idx = flat_index[start:start + per_chunk]
        rows = np.repeat(x0[None, :], len(idx) * m, axis=0)
        r = np.arange(len(idx) * m)
        rows[r, np.repeat(idx, m)] += np.tile(offsets, len(idx)) * np.repeat(steps[start:start + per_chunk], m)
        out[start:start + len(idx)] = evaluate(rows).reshape(len(idx), m)
    return out
