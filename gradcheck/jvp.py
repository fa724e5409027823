"""jvp_report: forward-mode products J(primals) @ tangents, checked against f itself.

A Jacobian-vector product is one directional derivative of every output at
once, so the finite-difference oracle is a single direction: phi(tau) =
f(primals + tau * tangents), differentiated element-wise (fd.derivative works
on vectors), with f's noise measured along that same line. About twenty
evaluations of f, whatever the sizes; every output element is compared.
With jvp=None the product under test is JAX's (jax.jvp: custom_jvp rules)
or torch's forward-mode AD (torch.func.jvp: autograd.Function.jvp).
"""
from __future__ import annotations

import contextlib
import sys
import time

import numpy as np

from gradcheck import fd, oracle_torch, tolerances
from gradcheck.api import _maybe_replaying, _raising, _returning
from gradcheck.autodiff_oracle import measured_noise
from gradcheck.compare import compare_arrays, subgradient_target
from gradcheck.context import check_tolerance
from gradcheck.diagnose import ElementEvidence, diagnose_block
from gradcheck.errors import FunctionRaised, GradcheckUsageError, NonDeterministic, StructureMismatch
from gradcheck.problem import Problem, _jax_x64, flatten_like, flatten_with_paths, probing, raised, to_numpy
from gradcheck.report import CheckReport, ParamReport

ORACLES = ("auto", "fd", "jax")


def jvp_report(f, primals, tangents, jvp=None, *, oracle="auto", rtol=None, atol=None, reference=None,
               replay_random=False):
    """Check a Jacobian-vector product: jvp ~ d f(primals + tau * tangents) / d tau at 0.

    primals is a tuple of f's positional arguments (as in jax.jvp), or one
    argument (a pytree); tangents has primals' structure. jvp: the product you
    computed (a pytree like f's output), a function jvp(tangents) returning it,
    or None for JAX's jax.jvp / torch's torch.func.jvp of f (custom rules
    included). oracle: "auto" (finite differences, or jax.jvp of reference when
    one is given), "fd", or "jax" (jax.jvp of reference, else of f, in float64).
    replay_random: f draws random numbers (dropout); replay the same draws at
    every evaluation (gradcheck.replay). Returns a CheckReport (kind "jvp");
    raises a usage error when the call is wrong.
    """
    report = _jvp_report(f, primals, tangents, jvp, oracle=oracle, rtol=rtol, atol=atol, reference=reference,
                         replay_random=replay_random)
    return _returning("jvp_report", report)


def assert_jvp_match(f, primals, tangents, jvp=None, *, oracle="auto", rtol=None, atol=None, reference=None,
                     replay_random=False):
    """Return the report if jvp is f's Jacobian-vector product along tangents; raise GradientMismatch otherwise."""
    __tracebackhide__ = True
    report = _jvp_report(f, primals, tangents, jvp, oracle=oracle, rtol=rtol, atol=atol, reference=reference,
                         replay_random=replay_random)
    return _raising("assert_jvp_match", report)


# -- evaluation --------------------------------------------------------------------------
def user_precision(tree):
    """JAX's float64 switched on for the user's own autodiff only if their arrays are float64.

    A float32 custom rule run with x64 on can change its dtypes (a constant
    becomes float64), so it runs as the user runs it.
    """
    import jax

    wide = any(np.dtype(getattr(x, "dtype", np.float64)).itemsize >= 8
               for x in jax.tree_util.tree_leaves(tree) if np.dtype(getattr(x, "dtype", np.float64)).kind == "f")
    return jax.enable_x64(True) if wide else contextlib.nullcontext()


def _caller(primals):
    return (lambda fn, p: fn(*p)) if isinstance(primals, tuple) else (lambda fn, p: fn(p))


class _Line:
    """f along primals + tau * w, as one flat float64 vector of outputs; evaluations counted."""

    def __init__(self, problem: Problem):
        self.p = problem
        self.n_evals = 0
        self.cast = "float64"

    def outputs(self, x=None, u=None, tau=0.0, where=""):
        x = self.p.x0 if x is None else x
        with _jax_x64(), probing(tau != 0.0 or x is not self.p.x0):
            params = self.p.build(x, self.cast, u=u, tau=tau)
            try:
                out = self.p.call(self.p.f, params)
            except Exception as exc:  # noqa: BLE001 - shown to the user
                raise raised("f", exc, f" at {where}" if where else "") from exc
        self.n_evals += 1
        return out

    def first(self):
        try:
            return self.outputs()
        except FunctionRaised:
            if all(leaf.dtype == np.float64 for leaf in self.p.leaves):
                raise
            self.cast = "original"  # f insists on its own dtypes (a float32 torch module)
            return self.outputs()

    def flat(self, out) -> np.ndarray:
        _, parts, _ = flatten_with_paths(out, "f(primals)")
        return np.concatenate([np.asarray(to_numpy(y), dtype=np.float64).reshape(-1) for y in parts]) \
            if parts else np.zeros(0)


# -- the check ---------------------------------------------------------------------------------
def _jvp_report(f, primals, tangents, jvp, *, oracle, rtol, atol, reference, replay_random) -> CheckReport:
    if oracle not in ORACLES:
        raise GradcheckUsageError(f"oracle={oracle!r}; choose one of {', '.join(map(repr, ORACLES))}")
    check_tolerance("rtol", rtol)
    check_tolerance("atol", atol)
    if reference is not None and not callable(reference):
        raise GradcheckUsageError("reference must be a function with f's signature (a JAX twin of f)")
    f, jvp = _maybe_replaying(f, jvp, primals, replay_random)
    start = time.perf_counter()
    problem = Problem(f, primals, root="primals", call=_caller(primals))
    v = np.concatenate([np.asarray(a, dtype=np.float64).reshape(-1)
                        for a in flatten_like(problem, tangents, what="tangents")])
    line = _Line(problem)
    out0 = line.first()
    out_paths, out_leaves, out_def = flatten_with_paths(out0, "jvp")
    y0 = line.flat(out0)
    again = line.flat(line.outputs())
    if not np.array_equal(y0, again, equal_nan=True):
        raise NonDeterministic("f returned different outputs at the same primals: f is not deterministic, so no "
                               "derivative of it can be checked. Fix its random seed or disable dropout, or pass "
                               "replay_random=True to replay the random state at every evaluation.")
    user, user_dtypes = _user_product(f, primals, tangents, jvp, problem, out_def, out_paths, out_leaves)
    name = "jax" if oracle == "jax" or (oracle == "auto" and reference is not None) else "fd"
    if name == "jax":
        fn, label = (reference, "reference") if reference is not None else (f, "f")
        expected = _jax_product(fn, problem, v, label)
        err = tolerances.autodiff_error(expected)
        kink = np.zeros(expected.shape, dtype=bool)
        lo = hi = expected
        step = noise = None
    else:
        expected, err, kink, lo, hi, step, noise = _fd_product(line, v, y0)
    gscale = tolerances.finite_scale(expected)

    def leaf_reports(err):
        params, offset = [], 0
        for path, leaf, u, dtype in zip(out_paths, out_leaves, user, user_dtypes):
            sl = slice(offset, offset + u.size)
            offset += u.size
            params.append(_leaf_report(path, tuple(np.shape(to_numpy(leaf))), dtype, u, expected[sl], err[sl],
                                       kink[sl], lo[sl], hi[sl], rtol, atol, gscale, step))
        return params

    params = leaf_reports(err)
    if name == "jax" and not all(p.passed for p in params):
        # JAX's own round-off where its formula cancels, measured a hair away (as for gradients)
        measured, jumps = measured_noise(lambda x: _jax_product(fn, problem, v, label, at=x), problem.x0,
                                         _step_units(problem), expected, np.random.default_rng(0))
        err = np.maximum(err, measured)
        if np.any(jumps):
            # where JAX's product jumps within a hair (a kink at primals: JAX takes one side, yours may take
            # another; or JAX's round-off), the finite differences along the tangents decide, kinks included
            fd_exp, fd_err, fd_kink, fd_lo, fd_hi, step, noise = _fd_product(line, v, y0)
            expected, err = np.where(jumps, fd_exp, expected), np.where(jumps, fd_err, err)
            kink, lo, hi = jumps & fd_kink, np.where(jumps, fd_lo, expected), np.where(jumps, fd_hi, expected)
        params = leaf_reports(err)
    return CheckReport(passed=all(p.passed for p in params), oracle=name, mode="full", n_evals=line.n_evals,
                       time=time.perf_counter() - start, seed=0, params=params, n_params=int(y0.size),
                       noise=noise, step=step, kind="jvp")


def _fd_product(line: _Line, v: np.ndarray, y0: np.ndarray):
    """Finite differences along v, rescaled so that the largest relative move per element is one unit."""
    scale = _step_units(line.p)
    c = float(np.max(np.abs(v) / scale, initial=0.0))
    zeros = np.zeros(y0.shape)
    if c == 0.0 or not np.isfinite(c):
        if not np.isfinite(c):
            raise GradcheckUsageError("tangents contain inf or NaN; give finite tangents")
        return zeros, zeros, zeros.astype(bool), zeros, zeros, None, None  # d/dtau along 0 is 0
    w = v / c

    def phi(tau):
        return line.flat(line.outputs(u=w, tau=tau, where="a point along the tangents"))

    noise = fd.estimate_noise(phi, y0)
    t = fd.choose_step(noise)
    est = fd.derivative(phi, y0, t, noise.sigma)
    return (est.value * c, est.error * c, np.asarray(est.kink, dtype=bool), est.lo * c, est.hi * c,
            float(est.step), float(np.max(noise.sigma, initial=0.0)))


def _step_units(problem: Problem) -> np.ndarray:
    """Each primal's step unit: |x|, or its leaf's rms."""
    units = np.empty_like(problem.x0)
    for leaf in problem.leaves:
        units[leaf.slice] = fd.own_step_scale(problem.x0[leaf.slice])
    return units


def _user_product(f, primals, tangents, jvp, problem, out_def, out_paths, out_leaves):
    """The product under test, matched leaf by leaf to f's output: (flat float64 arrays, dtypes)."""
    if jvp is None:
        tree = _autodiff_product(f, primals, tangents, problem)
    elif callable(jvp):
        try:
            tree = jvp(tangents)
        except Exception as exc:  # noqa: BLE001
            raise raised("your jvp function", exc) from exc
    else:
        tree = jvp
    paths, parts, tree_def = flatten_with_paths(tree, "jvp")
    if tree_def != out_def:
        raise StructureMismatch(f"jvp must have the structure of f's output: f returned {out_def}, jvp is {tree_def}")
    flat, dtypes, bad = [], [], []
    for path, part, leaf in zip(out_paths, parts, out_leaves):
        arr = to_numpy(part)
        shape = np.shape(to_numpy(leaf))
        if arr.shape != shape:
            bad.append(f"  {path} has shape {arr.shape}, f's output there has shape {shape}")
        if not tolerances.is_real_numeric(arr.dtype):
            bad.append(f"  {path} has dtype {arr.dtype}; a product of real derivatives is a float array")
        flat.append(np.asarray(arr, dtype=np.float64).reshape(-1))
        dtypes.append(tolerances.float_or_float64(arr.dtype))
    if bad:
        raise StructureMismatch("jvp does not match f's output:\n" + "\n".join(bad))
    return flat, dtypes


def _autodiff_product(f, primals, tangents, problem):
    if oracle_torch.is_torch(primals, f):
        return oracle_torch.jvp(f, primals, tangents)
    if "jax" in sys.modules:
        import jax
        import jax.numpy as jnp

        args = primals if isinstance(primals, tuple) else (primals,)
        tans = tangents if isinstance(tangents, tuple) else (tangents,)
        fn = f if isinstance(primals, tuple) else (lambda p: f(p))
        with user_precision(args):
            args = jax.tree_util.tree_map(jnp.asarray, args)
            tans = jax.tree_util.tree_map(lambda t, x: jnp.asarray(to_numpy(t), dtype=x.dtype), tans, args)
            try:
                _, out = jax.jvp(fn, tuple(args), tuple(tans))
            except Exception as exc:  # noqa: BLE001 - numpy code rejects tracers in many ways
                raise GradcheckUsageError(
                    f"jvp was not given, and JAX could not differentiate f in forward mode "
                    f"({type(exc).__name__}: {str(exc)[:300]}). Pass your product: jvp=... (a pytree like f's "
                    f"output) or jvp=lambda tangents: ...") from exc
        return out
    raise GradcheckUsageError("jvp was not given and f is neither JAX nor torch code. Pass your product: jvp=... "
                              "(a pytree like f's output) or jvp=lambda tangents: ... returning one.")


def _jax_product(fn, problem: Problem, v: np.ndarray, name: str, at: np.ndarray | None = None) -> np.ndarray:
    """jax.jvp of fn (f or a twin) in float64 at primals (or at the flat point ``at``), flat."""
    import jax
    import jax.numpy as jnp

    x = problem.x0 if at is None else at
    with jax.enable_x64(True):
        args = jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype=jnp.float64), problem.unflatten(x))
        tans = jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype=jnp.float64), problem.unflatten(v))
        if not isinstance(args, tuple):
            args, tans, call = (args,), (tans,), (lambda p: fn(p))
        else:
            call = fn
        try:
            _, out = jax.jvp(call, tuple(args), tuple(tans))
        except Exception as exc:  # noqa: BLE001
            raise GradcheckUsageError(f"oracle='jax': JAX could not differentiate {name} in forward mode: "
                                      f"{type(exc).__name__}: {str(exc)[:300]}\nUse oracle='fd'.") from exc
        leaves = jax.tree_util.tree_leaves(out)
        return np.concatenate([np.asarray(y, dtype=np.float64).reshape(-1) for y in leaves])


def _leaf_report(path, shape, dtype, user, exp, err, kink, lo, hi, rtol, atol, gscale, step) -> ParamReport:
    target, bar = subgradient_target(user, exp, err, kink, lo, hi)
    cmp = compare_arrays(user, target, rtol=rtol, atol=atol, error_estimate=bar, dtype=dtype, global_scale=gscale)
    rep = ParamReport(path=path, shape=shape, dtype=str(dtype), size=int(user.size), passed=cmp.passed,
                      checked="all elements", n_checked=cmp.n_total, n_mismatch=cmp.n_mismatch, max_abs=cmp.max_abs,
                      max_rel=cmp.max_rel, rtol=cmp.rtol, atol=cmp.atol, step=step, n_kinks=int(kink.sum()))
    if user.size:
        k = int(np.ravel_multi_index(cmp.worst_index, user.shape)) if user.ndim else 0
        rep.worst_index = tuple(int(i) for i in np.unravel_index(k, shape)) if shape else ()
        rep.worst_actual, rep.worst_expected = cmp.worst_actual, cmp.worst_expected
        rep.worst_error_estimate = None if kink[k] else float(err[k])
        if kink[k]:
            rep.worst_kink_interval = (float(lo[k]), float(hi[k]))
        finite = err[~kink & np.isfinite(err)]
        rep.error_estimate = float(finite.max()) if finite.size else None
        rep.kink_indices = [tuple(int(i) for i in np.unravel_index(int(j), shape)) for j in np.flatnonzero(kink)[:10]]
    if not cmp.passed:
        tol = cmp.atol + cmp.rtol * np.abs(target) + bar
        ev = ElementEvidence(np.arange(user.size), target, tol)
        rep.diagnosis = diagnose_block(path, {path: user.reshape(shape)}, ev)
    return rep
