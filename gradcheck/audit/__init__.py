"""gradcheck audit: grade backprop homework in a sandbox (``gradcheck audit --help``).

Public API: ``Assignment`` (checks an instructor declares; docs/audit.md), ``load_submission``
/ ``SubmissionError`` (the sandbox for your own pytest graders), ``load_assignment`` /
``AssignmentError``, ``audit`` (a folder of submissions)
and the lower-level ``Sandbox`` / ``Limits``.  Implementation lives in the submodules.
"""
from .assignment import AssignmentError
from .assignment import load as load_assignment
from .checks import Assignment, Check, Context, NotImplementedByStudent, Part, StudentFailed, Wrong
from .remote import RemoteSubmission, SubmissionError, load_submission
from .runner import audit
from .sandbox import Limits, Outcome, Sandbox
from .wire import Handle

__all__ = ["Assignment", "Check", "Context", "Part", "Wrong", "StudentFailed", "NotImplementedByStudent",
           "load_submission", "RemoteSubmission", "SubmissionError", "load_assignment", "AssignmentError", "audit",
           "Sandbox", "Limits", "Outcome", "Handle"]
