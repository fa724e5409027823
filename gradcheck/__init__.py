"""gradcheck: prove that hand-written gradients are right.

Public API (implementations live in private-ish modules, re-exported here).
Importing gradcheck does not import jax; checks import it when they run.
"""
from gradcheck.api import assert_grads_match, assert_jacobian_match, assert_vjp_match, grads_report, jacobian_report, vjp_report
from gradcheck.errors import (
    FunctionRaised,
    GradcheckUsageError,
    GradientMismatch,
    InPlaceMutation,
    NonDeterministic,
    NonNumericParams,
    NonScalarOutput,
    StructureMismatch,
)
from gradcheck.observers import add_observer, remove_observer
from gradcheck.jvp import assert_jvp_match, jvp_report
from gradcheck.second_order import assert_hvp_match, hvp_report
from gradcheck.value_and_grad import assert_value_and_grad_match, value_and_grad_report
from gradcheck.settings import set_default_mode
from gradcheck.report import CheckReport, ParamReport

__all__ = [
    "assert_grads_match", "grads_report", "assert_vjp_match", "vjp_report", "assert_jacobian_match",
    "jacobian_report", "CheckReport", "ParamReport", "GradientMismatch", "GradcheckUsageError",
    "StructureMismatch", "NonScalarOutput", "FunctionRaised", "NonDeterministic", "InPlaceMutation",
    "NonNumericParams", "add_observer", "remove_observer", "set_default_mode",
    "assert_jvp_match", "jvp_report", "assert_hvp_match", "hvp_report", "assert_value_and_grad_match",
    "value_and_grad_report",
]
__version__ = "0.1.0"

_RENAMED = {"check_grads": "grads_report", "check_vjp": "vjp_report", "check_jacobian": "jacobian_report"}


def __getattr__(name):
    """Old report-returning names fail loudly: jax.test_util.check_grads raises, ours returned quietly."""
    if name in _RENAMED:
        raise AttributeError(
            f"gradcheck.{name} was renamed {_RENAMED[name]} (it returns a report and never raises). "
            f"In a test use assert_{_RENAMED[name].replace('_report', '_match')}, which raises on a mismatch",
            name=name, obj=_RENAMED)  # obj: Python's "Did you mean" then offers nothing beside the new name
    raise AttributeError(f"module 'gradcheck' has no attribute {name!r}")
