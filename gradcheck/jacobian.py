"""jacobian_report: the input-output Jacobian of a vector function, column by column.

Each column is one finite difference of the whole output vector, so the
cost is six evaluations per input element (more where a kink needs a
finer step); the noise is measured per output component.
"""
from __future__ import annotations

import time

import numpy as np

from gradcheck import fd, tolerances
from gradcheck.context import Options
from gradcheck.compare import compare_arrays, subgradient_target
from gradcheck.diagnose import ElementEvidence, diagnose_block
from gradcheck.errors import GradcheckUsageError, NonDeterministic, NonNumericParams, StructureMismatch
from gradcheck.problem import probing, raised, to_numpy
from gradcheck.report import CheckReport, ParamReport


def jacobian_report(f, x, jacobian, *, oracle="fd", mode="full", rtol=None, atol=None, seed=0) -> CheckReport:
    """Compare ``jacobian`` (shape f(x).shape + x.shape, or a function of x) with f's Jacobian."""
    Options(oracle=oracle, mode=mode, rtol=rtol, atol=atol, seed=seed).validate()
    if oracle not in ("fd", "auto"):
        raise GradcheckUsageError(f"oracle={oracle!r}: jacobian_report compares with finite differences only "
                                  f"(oracle='fd' or 'auto')")
    if mode not in ("full", "auto"):
        raise GradcheckUsageError(f"mode={mode!r}: jacobian_report checks every column (mode='full' or 'auto'); "
                                  f"for random directions through a vector function use vjp_report")
    start = time.perf_counter()
    x_arr = to_numpy(x)
    if not tolerances.is_real_numeric(x_arr.dtype):
        raise NonNumericParams(f"x must be a real numeric array; got dtype {x_arr.dtype}")
    x0 = x_arr.astype(np.float64)
    counter = {"n": 0}

    def F(xx, where=""):
        try:
            with probing(xx is not x0):
                out = f(xx.copy())
        except Exception as exc:  # noqa: BLE001
            raise raised("f", exc, f" at {where}" if where else "") from exc
        counter["n"] += 1
        arr = to_numpy(out)
        if not tolerances.is_real_numeric(arr.dtype):
            raise GradcheckUsageError(f"f returned dtype {arr.dtype}; it must return a real array")
        return arr.astype(np.float64)

    y0 = F(x0)
    J = to_numpy(jacobian(x_arr) if callable(jacobian) else jacobian)
    user_dtype = tolerances.float_or_float64(J.dtype)
    want = y0.shape + x0.shape
    if J.shape != want:
        hint = ""
        if J.shape == x0.shape + y0.shape and J.shape != want:
            hint = " It has the shape of the transpose: rows must follow the outputs, columns the inputs."
        raise StructureMismatch(f"jacobian has shape {J.shape}; expected f(x).shape + x.shape = {want}.{hint}")
    J = J.astype(np.float64)
    again = F(x0)
    if not np.array_equal(again, y0, equal_nan=True):
        raise NonDeterministic("f returned different outputs at the same x: f is not deterministic "
                                  "(fix its random seed, disable dropout).")
    rng = np.random.default_rng(seed)
    n = x0.size
    xs = x0.reshape(-1)
    scale = fd.own_step_scale(xs)
    u = rng.standard_normal(n) * scale
    u /= np.linalg.norm(u / scale)

    def along(v, where):
        return lambda tau: F((xs + tau * v).reshape(x0.shape), where).reshape(-1)

    noise = fd.estimate_noise(along(u, "a point near x"), y0.reshape(-1))
    t = fd.choose_step(noise)
    m = y0.size
    exp = np.empty((m, n))
    err = np.empty((m, n))
    kink = np.zeros((m, n), dtype=bool)
    lo = np.empty((m, n))
    hi = np.empty((m, n))
    for j in range(n):
        v = np.zeros(n)
        v[j] = scale[j]
        est = fd.derivative(along(v, f"x[{j}]"), y0.reshape(-1), t, noise.sigma)
        exp[:, j], err[:, j] = est.value / scale[j], est.error / scale[j]
        kink[:, j], lo[:, j], hi[:, j] = est.kink, est.lo / scale[j], est.hi / scale[j]
    user = J.reshape(m, n)
    target, bar = subgradient_target(user, exp, err, kink, lo, hi)
    cmp = compare_arrays(user, target, rtol=rtol, atol=atol, error_estimate=bar, dtype=user_dtype)
    shape = want
    worst = np.unravel_index(int(np.ravel_multi_index(cmp.worst_index, (m, n))), shape) if m * n else ()
    rep = ParamReport(
        path="jacobian", shape=tuple(shape), dtype=str(user_dtype), size=int(m * n), passed=cmp.passed,
        checked="all elements", n_checked=cmp.n_total, n_mismatch=cmp.n_mismatch, max_abs=cmp.max_abs,
        max_rel=cmp.max_rel, worst_index=tuple(int(i) for i in worst), worst_actual=cmp.worst_actual,
        worst_expected=cmp.worst_expected, worst_error_estimate=float(err[cmp.worst_index]) if m * n else None,
        error_estimate=float(np.max(err[~kink], initial=0.0)), rtol=cmp.rtol, atol=cmp.atol, step=t,
        n_kinks=int(kink.sum()),
        kink_indices=[tuple(int(i) for i in np.unravel_index(k, shape)) for k in np.flatnonzero(kink)[:10]],
    )
    if not cmp.passed:
        tol = cmp.atol + cmp.rtol * np.abs(target) + np.where(kink, 0, err)
        ev = ElementEvidence(np.arange(m * n), target.reshape(-1), tol.reshape(-1))
        rep.diagnosis = diagnose_block("jacobian", {"jacobian": user}, ev)
    return CheckReport(passed=cmp.passed, oracle="fd", mode="full", n_evals=counter["n"],
                       time=time.perf_counter() - start, seed=int(seed), params=[rep], n_params=int(n),
                       noise=float(np.max(noise.sigma)), step=t, kind="jacobian")
