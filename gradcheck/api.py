"""The public entry points: check_* return a report, assert_* raise on mismatch."""
from __future__ import annotations

import numpy as np

from gradcheck.checker import grads_report as _check_grads
from gradcheck.errors import GradientMismatch, StructureMismatch
from gradcheck.jacobian import jacobian_report as _check_jacobian
from gradcheck.observers import notify
from gradcheck.problem import flatten_with_paths, to_numpy


def grads_report(f, params, grads=None, *, oracle="auto", mode="fast", rtol=None, atol=None, seed=0,
                directions=2, reference=None, network=None):
    """Check grads (a pytree like params, or grads(params) returning one) against f's gradient.

    f(params) must return a real scalar. With grads=None, JAX's gradient of f
    is what gets checked (custom_vjp rules included). Returns a CheckReport;
    raises a usage error (ValueError/TypeError) when the call itself is wrong.

    oracle: "auto" (JAX when f is JAX-traceable and grads is given, finite
    differences otherwise), "fd", "jax" or "both". mode: "fast" (a fixed number
    of evaluations; localizes wrong elements when it fails) or "full" (every
    element). rtol/atol override the floors derived from your gradient's dtype.
    reference: a JAX twin of f to differentiate instead of f. network=(spec,
    x, t): f is reference_nets' network ``spec`` on that data, so failures
    are also matched against the bug catalog ("forgot φ' in the hidden layers").
    """
    report = _check_grads(f, params, grads, oracle=oracle, mode=mode, rtol=rtol, atol=atol, seed=seed,
                          directions=directions, reference=reference, network=network)
    notify("grads_report", report)
    return report


def assert_grads_match(f, params, grads=None, **options):
    """Return quietly if grads is f's gradient at params; raise GradientMismatch otherwise."""
    __tracebackhide__ = True
    report = _check_grads(f, params, grads, **options)
    notify("assert_grads_match", report)
    _raise_if_failed(report)
    return report


def vjp_report(f, inputs, cotangent, vjp, **options):
    """Check a vector-Jacobian product: vjp ~ d<f(inputs), cotangent>/d inputs.

    f(inputs) (or f(*inputs) when inputs is a tuple, as in jax.vjp) returns an
    array or a pytree of arrays; cotangent has its structure. vjp is the
    pytree you computed (like inputs), or a function vjp(cotangent) returning it
    (the shape of a layer's backward(dout, cache) closed over its cache).
    """
    report = _vjp_report(f, inputs, cotangent, vjp, **options)
    notify("vjp_report", report)
    return report


def _vjp_report(f, inputs, cotangent, vjp, **options):
    unpack = isinstance(inputs, tuple)
    cot_paths, cot_leaves, cot_def = flatten_with_paths(cotangent, "cotangent")
    cots = [np.asarray(to_numpy(c), dtype=np.float64) for c in cot_leaves]

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

    grads = (lambda _p: vjp(cotangent)) if callable(vjp) else vjp
    report = _check_grads(scalarized, inputs, grads, _kind="vjp", _root="inputs", _what="vjp",
                          **_fd_default(options))
    return report


def assert_vjp_match(f, inputs, cotangent, vjp, **options):
    """Raise GradientMismatch unless vjp is the vector-Jacobian product of f at inputs."""
    __tracebackhide__ = True
    report = _vjp_report(f, inputs, cotangent, vjp, **options)
    notify("assert_vjp_match", report)
    _raise_if_failed(report)
    return report


def assert_jacobian_match(f, x, jacobian, **options):
    """Raise GradientMismatch unless jacobian (shape f(x).shape + x.shape) is f's Jacobian at x."""
    __tracebackhide__ = True
    report = _check_jacobian(f, x, jacobian, **options)
    notify("assert_jacobian_match", report)
    _raise_if_failed(report)
    return report


def jacobian_report(f, x, jacobian, **options):
    """Compare jacobian (shape f(x).shape + x.shape, or a function of x) with f's Jacobian at x."""
    report = _check_jacobian(f, x, jacobian, **options)
    notify("jacobian_report", report)
    return report


def _fd_default(options: dict) -> dict:
    """A vjp's scalarized f goes through numpy, so JAX cannot trace it."""
    options = dict(options)
    if options.get("oracle", "auto") == "auto":
        options["oracle"] = "fd"
    return options


def _raise_if_failed(report) -> None:
    __tracebackhide__ = True
    if not report.passed:
        raise GradientMismatch(report.message(), report)
