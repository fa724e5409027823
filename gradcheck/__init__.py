"""gradcheck: prove that hand-written gradients are right.

Public API (implementations live in private-ish modules, re-exported here).
Importing gradcheck does not import jax; checks import it when they run.
"""
from gradcheck.api import assert_grads_match, assert_jacobian_match, assert_vjp_match, check_grads, check_jacobian, check_vjp
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
from gradcheck.report import CheckReport, ParamReport

__all__ = [
    "assert_grads_match", "check_grads", "assert_vjp_match", "check_vjp", "assert_jacobian_match",
    "check_jacobian", "CheckReport", "ParamReport", "GradientMismatch", "GradcheckUsageError",
    "StructureMismatch", "NonScalarOutput", "FunctionRaised", "NonDeterministic", "InPlaceMutation",
    "NonNumericParams", "add_observer", "remove_observer",
]
__version__ = "0.1.0"
