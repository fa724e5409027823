"""jax.test_util.check_grads, with gradcheck's verdicts.

    from gradcheck.compat.jax import check_grads

Same signature and behaviour: returns None, raises an AssertionError
(gradcheck's GradientMismatch) when a derivative is wrong. "rev" checks
jax.vjp of f (custom_vjp rules) and "fwd" checks jax.jvp (custom_jvp rules),
each against finite differences of f along a random cotangent / tangent
(seeded); order=2 checks the derivative functions the same way (reverse over
reverse, forward over forward), and so on. What changes is the verdict:
measured error bars instead of a fixed tolerance, float32 passes on its
own round-off, kinks accept any subgradient, and the message names the wrong
elements.

- eps: ignored; gradcheck measures f's noise and picks its own step.
- atol, rtol: None means gradcheck's floors (from the derivative's dtype, plus
  the error bar); a number replaces the floor. A dict per dtype is refused
  (give one number).
"""
from __future__ import annotations

import jax
import numpy as np

from gradcheck.errors import GradcheckUsageError, GradientMismatch

MODES = ("fwd", "rev")


def check_grads(f, args, order, modes=("fwd", "rev"), atol=None, rtol=None, eps=None):
    """Check f's JAX derivatives at args up to ``order``, in ``modes``; raise GradientMismatch if one is wrong."""
    __tracebackhide__ = True
    if not isinstance(order, int) or isinstance(order, bool) or order < 1:
        raise GradcheckUsageError(f"order={order!r}; it must be an int >= 1 (1: first derivatives, 2: second ...)")
    modes = (modes,) if isinstance(modes, str) else tuple(modes)
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise GradcheckUsageError(f"modes={modes!r}; use 'fwd' (jax.jvp), 'rev' (jax.vjp) or both")
    for name, tol in (("atol", atol), ("rtol", rtol)):
        if isinstance(tol, dict):
            raise GradcheckUsageError(f"{name} is a dict per dtype; give one number (it replaces gradcheck's floor "
                                      f"for every dtype) or None (gradcheck's floors from each dtype)")
    args = tuple(args) if isinstance(args, (tuple, list)) else (args,)
    _check(f, args, order, modes, atol, rtol, order_now=1, seed=0)


def _random_like(tree, seed):
    gen = np.random.default_rng(seed)
    return jax.tree_util.tree_map(lambda x: gen.standard_normal(tuple(x.shape)).astype(x.dtype), tree)


def _check(f, args, order, modes, atol, rtol, *, order_now, seed):
    from gradcheck.api import vjp_report
    from gradcheck.jvp import jvp_report, user_precision

    __tracebackhide__ = True
    with jax.enable_x64(True):
        args = jax.tree_util.tree_map(np.asarray, args)
        out = jax.eval_shape(f, *args)
    if "fwd" in modes:
        tangents = _random_like(args, [seed, 1])
        report = jvp_report(f, args, tangents, rtol=rtol, atol=atol)
        _raise(report, "fwd", order_now)
        if order > 1:
            def f_jvp(*xs):
                return jax.jvp(f, xs, tangents)[1]
            _check(f_jvp, args, order - 1, ("fwd",), atol, rtol, order_now=order_now + 1, seed=seed + 1)
    if "rev" in modes:
        cotangent = _random_like(out, [seed, 2])
        with user_precision(args):
            try:
                _, pullback = jax.vjp(f, *args)
                mine = pullback(cotangent)
            except Exception as exc:  # noqa: BLE001
                raise GradcheckUsageError(f"jax.vjp of f failed: {type(exc).__name__}: {str(exc)[:300]}") from exc
        mine = tuple(np.asarray(m) for m in mine)
        report = vjp_report(f, args, cotangent, mine, rtol=rtol, atol=atol)
        _raise(report, "rev", order_now)
        if order > 1:
            def f_vjp(*xs):
                return jax.vjp(f, *xs)[1](cotangent)
            _check(f_vjp, args, order - 1, ("rev",), atol, rtol, order_now=order_now + 1, seed=seed + 1)


def _raise(report, mode, order_now) -> None:
    __tracebackhide__ = True
    if report.passed:
        return
    what = {"fwd": "jax.jvp (forward mode: custom_jvp rules)", "rev": "jax.vjp (reverse mode: custom_vjp rules)"}[mode]
    level = {1: "first", 2: "second", 3: "third"}.get(order_now, f"order-{order_now}")
    head = f"check_grads: {what}, {level} derivatives, disagrees with finite differences of f."
    raise GradientMismatch(head + "\n" + report.message(), report)
