"""Exceptions. A wrong gradient is an AssertionError; a wrong call never is.

Usage errors subclass ValueError or TypeError so that a test that misuses the
checker errors out instead of reporting a gradient failure.
"""
from __future__ import annotations


class GradcheckUsageError(ValueError):
    """The call to the checker is wrong; the message says how to fix it."""


class StructureMismatch(GradcheckUsageError):
    """grads (or a cotangent, or a Jacobian) does not fit params."""


class NonScalarOutput(GradcheckUsageError):
    """f returned something other than one real number."""


class FunctionRaised(GradcheckUsageError):
    """f (or the user's gradient function) raised; the original is chained."""


class NonDeterministic(GradcheckUsageError):
    """Two evaluations of f at the same point disagree."""


class InPlaceMutation(GradcheckUsageError):
    """f modified the parameter arrays it was given."""


class NonNumericParams(TypeError):
    """A parameter leaf is not a real numeric array."""


class GradientMismatch(AssertionError):
    """The gradients are wrong. ``.report`` holds the full CheckReport."""

    def __init__(self, message: str, report=None):
        super().__init__(message)
        self.report = report
