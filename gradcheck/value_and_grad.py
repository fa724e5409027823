"""Functions that return (loss, grad) together: scipy.optimize's jac=True shape, courses' loss_and_grad.

The returned gradient is checked against the returned losses: the loss half
of fg is f, the gradient half at params is the gradient under test. Each
evaluation calls fg once (the gradient of a perturbed call is not used).
"""
from __future__ import annotations

from gradcheck.errors import GradcheckUsageError, NonScalarOutput


def _split(fg):
    """(f, grads): the two halves of fg, each call checked for the (loss, grad) shape.

    The observers (the pytest plugin) see the inner grads_report call, once.
    """
    if not callable(fg):
        raise GradcheckUsageError(f"fg must be a function fg(params) -> (loss, grad); got {type(fg).__name__}")

    def both(params):
        out = fg(params)
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            what = f"a {type(out).__name__} of length {len(out)}" if isinstance(out, (tuple, list)) \
                else f"a {type(out).__name__}"
            raise NonScalarOutput(
                f"fg returned {what}; it must return the pair (loss, grad), grad shaped like params. "
                f"For a function returning only the loss, use assert_grads_match(f, params, grads).")
        return out

    def f(params):
        return both(params)[0]

    def grads(params):
        return both(params)[1]

    return f, grads


def value_and_grad_report(fg, params, *, oracle="auto", mode=None, rtol=None, atol=None, seed=0, directions=2,
                          replay_random=False):
    """Check the gradient fg returns against the losses it returns: fg(params) -> (loss, grad).

    Options as for grads_report. Returns a CheckReport; a grad that does not
    have params' structure or shapes raises StructureMismatch, naming the leaf.
    """
    from gradcheck.api import grads_report

    f, grads = _split(fg)
    report = grads_report(f, params, grads, oracle=oracle, mode=mode, rtol=rtol, atol=atol, seed=seed,
                          directions=directions, replay_random=replay_random)
    return report


def assert_value_and_grad_match(fg, params, *, oracle="auto", mode=None, rtol=None, atol=None, seed=0,
                                directions=2, replay_random=False):
    """Return the report if the grad fg returns is the gradient of the loss it returns; raise GradientMismatch otherwise."""
    __tracebackhide__ = True
    from gradcheck.api import assert_grads_match

    f, grads = _split(fg)
    report = assert_grads_match(f, params, grads, oracle=oracle, mode=mode, rtol=rtol, atol=atol, seed=seed,
                                directions=directions, replay_random=replay_random)
    return report
