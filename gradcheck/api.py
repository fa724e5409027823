"""The public entry points: *_report return a CheckReport, assert_*_match raise on a mismatch.

Each pair shares one private implementation; ``_returning`` and ``_raising``
are the two wrappers (tell the observers, then return or raise), as chex's
_value_assertion pairs one check with its assertion.
"""
from __future__ import annotations

import numpy as np

from gradcheck.checker import Options, Target, run_check
from gradcheck.errors import GradcheckUsageError, GradientMismatch, StructureMismatch
from gradcheck.jacobian import jacobian_report as _jacobian
from gradcheck.observers import notify
from gradcheck.problem import flatten_with_paths, to_numpy


def grads_report(f, params, grads=None, *, oracle="auto", mode=None, rtol=None, atol=None, seed=0,
                 directions=2, reference=None, network=None, replay_random=False):
    """Check grads (a pytree like params, or grads(params) returning one) against f's gradient.

    f(params) must return a real scalar. With grads=None, the autodiff gradient
    of JAX or torch code is what gets checked (custom_vjp rules and custom
    autograd.Function backwards included). Returns a CheckReport;
    raises a usage error (ValueError/TypeError) when the call itself is wrong.

    oracle: "auto" (JAX when f is JAX-traceable and grads is given, finite
    differences otherwise), "fd", "jax" or "both". mode: None (the session
    default, "auto" unless changed with set_default_mode), "auto" (every
    element where that is cheap, random directions beyond), "fast" (a fixed
    number of evaluations; localizes wrong elements when it fails) or "full"
    (every element). rtol/atol override the floors derived from your
    gradient's dtype. reference: a JAX twin of f to differentiate instead of
    f. network=(spec, x, t): f is reference_nets' network ``spec`` on that
    data, so failures are also matched against the bug catalog.
    replay_random: f draws random numbers (dropout); replay the same draws at
    every evaluation (gradcheck.replay).
    """
    report = _grads(f, params, grads, Options(oracle, mode, rtol, atol, seed, directions, reference, network),
                    replay_random)
    return _returning("grads_report", report)


def assert_grads_match(f, params, grads=None, *, oracle="auto", mode=None, rtol=None, atol=None, seed=0,
                       directions=2, reference=None, network=None, replay_random=False):
    """Return the report quietly if grads is f's gradient at params; raise GradientMismatch otherwise.

    Arguments as for grads_report.
    """
    __tracebackhide__ = True
    report = _grads(f, params, grads, Options(oracle, mode, rtol, atol, seed, directions, reference, network),
                    replay_random)
    return _raising("assert_grads_match", report)


def vjp_report(f, inputs, cotangent, vjp, *, oracle="auto", mode=None, rtol=None, atol=None, seed=0,
               directions=2, replay_random=False):
    """Check a vector-Jacobian product: vjp ~ d<f(inputs), cotangent>/d inputs.

    f(inputs) (or f(*inputs) when inputs is a tuple, as in jax.vjp) returns an
    array or a pytree of arrays; cotangent has its structure. vjp is the
    pytree you computed (like inputs), or a function vjp(cotangent) returning it
    (the shape of a layer's backward(dout, cache) closed over its cache).
    The oracle is finite differences ("auto" and "fd"); other options as for
    grads_report.
    """
    report = _vjp(f, inputs, cotangent, vjp, Options(oracle, mode, rtol, atol, seed, directions), replay_random)
    return _returning("vjp_report", report)


def assert_vjp_match(f, inputs, cotangent, vjp, *, oracle="auto", mode=None, rtol=None, atol=None, seed=0,
                     directions=2, replay_random=False):
    """Raise GradientMismatch unless vjp is the vector-Jacobian product of f at inputs (see vjp_report)."""
    __tracebackhide__ = True
    report = _vjp(f, inputs, cotangent, vjp, Options(oracle, mode, rtol, atol, seed, directions), replay_random)
    return _raising("assert_vjp_match", report)


def jacobian_report(f, x, jacobian, *, oracle="fd", mode="full", rtol=None, atol=None, seed=0):
    """Compare jacobian (shape f(x).shape + x.shape, or a function of x) with f's Jacobian at x.

    Every column is checked (mode "full"; "auto" means the same here), by
    finite differences (oracle "fd"; "auto" means the same here).
    """
    return _returning("jacobian_report", _jacobian(f, x, jacobian, oracle=oracle, mode=mode, rtol=rtol, atol=atol,
                                                   seed=seed))


def assert_jacobian_match(f, x, jacobian, *, oracle="fd", mode="full", rtol=None, atol=None, seed=0):
    """Raise GradientMismatch unless jacobian (shape f(x).shape + x.shape) is f's Jacobian at x."""
    __tracebackhide__ = True
    return _raising("assert_jacobian_match", _jacobian(f, x, jacobian, oracle=oracle, mode=mode, rtol=rtol,
                                                       atol=atol, seed=seed))


# -- the two wrappers ------------------------------------------------------------------
def _returning(function: str, report):
    notify(function, report)
    return report


def _raising(function: str, report):
    __tracebackhide__ = True
    notify(function, report)
    if not report.passed:
        raise GradientMismatch(report.message(), report)
    return report


# -- the private implementations ---------------------------------------------------------
def _grads(f, params, grads, opts: Options, replay_random: bool):
    opts.validate()
    f, grads = _maybe_replaying(f, grads, params, replay_random)
    return run_check(f, params, grads, opts)


def _vjp(f, inputs, cotangent, vjp, opts: Options, replay_random: bool):
    opts.validate()
    if opts.oracle not in ("auto", "fd"):
        raise GradcheckUsageError(
            f"oracle={opts.oracle!r}: a vjp check goes through your f as numpy, so its oracle is finite "
            f"differences (oracle='auto' or 'fd'). To compare with JAX, check the scalar "
            f"lambda p: jnp.vdot(f(p), cotangent) with grads_report(..., oracle='jax').")
    opts = Options("fd", opts.mode, opts.rtol, opts.atol, opts.seed, opts.directions)
    unpack = isinstance(inputs, tuple)
    cot_paths, cot_leaves, cot_def = flatten_with_paths(cotangent, "cotangent")
    cots = [np.asarray(to_numpy(c), dtype=np.float64) for c in cot_leaves]
    f, vjp = _maybe_replaying(f, vjp, inputs, replay_random)

    def scalarized(p):
        out = f(*p) if unpack else f(p)
        _, out_leaves, out_def = flatten_with_paths(out, "f(inputs)")
        if out_def != cot_def:
            raise StructureMismatch(
                f"cotangent must have the structure of f's output: f returned {out_def}, cotangent is {cot_def}")
        total = 0.0
        for path, y, c in zip(cot_paths, out_leaves, cots):
            y = np.asarray(to_numpy(y), dtype=np.float64)
            if y.shape != c.shape:
                raise StructureMismatch(
                    f"{path} has shape {c.shape} but f's output there has shape {y.shape}; "
                    f"the cotangent (dout) must have exactly the output's shape.")
            total += float(np.sum(y * c))
        return total

    if vjp is None:
        vjp = _framework_vjp(f, inputs)
    grads = (lambda _p: vjp(cotangent)) if callable(vjp) else vjp
    return run_check(scalarized, inputs, grads, opts, Target(kind="vjp", root="inputs", what="vjp"))


def _framework_vjp(f, inputs):
    """vjp=None: the vjp of f from torch's autograd where f is torch code, else a usage error."""
    from gradcheck import oracle_torch

    if oracle_torch.is_torch(inputs, f):
        return oracle_torch.vjp_function(f, inputs)
    raise GradcheckUsageError("vjp was not given and f is not a torch function here. Pass your vjp: the "
                              "pytree you computed (like inputs), or a function vjp(cotangent) returning it.")


def _maybe_replaying(f, grads, params, replay_random: bool):
    """replay_random=True: f (and a gradient function) replay the same random draws at every call."""
    if not isinstance(replay_random, bool):
        raise GradcheckUsageError(f"replay_random={replay_random!r}; it must be True or False")
    if not replay_random:
        return f, grads
    from gradcheck.replay import replaying

    return replaying(f, grads, params)
