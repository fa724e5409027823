"""What grading produces: Parts (one verdict each), a check's result, a submission's result,
and the three ways a check stops early (the student's call failed, is not implemented, or
returned the wrong structure).  Plain data, read by the writers and the class report.
"""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Part", "CheckResult", "SubmissionResult", "StudentFailed", "NotImplementedByStudent", "Wrong"]


@dataclass
class Part:
    """One verdict inside a check: ``label`` (e.g. "dw") passed or not, with its reasons.

    ``problem``: what is wrong, in words (shown at detail "full" and "hint");
    ``numbers``: values, tolerances, worst element (shown at "full" only);
    ``diagnosis``: likely causes in words (full and hint); ``formulas``: the same as formulas
    (full only); ``bugs``: names for the class report.
    """

    label: str
    passed: bool
    weight: float = 1.0
    problem: str = ""
    numbers: str = ""
    diagnosis: list = field(default_factory=list)
    bugs: list = field(default_factory=list)
    formulas: list = field(default_factory=list)   # the diagnosed mistakes as formulas ("full" only)


@dataclass
class CheckResult:
    name: str
    check: str          # the check's kind label for the class report ("affine backward", "forward", ...)
    score: float
    max_score: float
    output: str
    bugs: list = field(default_factory=list)   # diagnosed mistakes and failure kinds (timeout, ...)

    @property
    def status(self) -> str:
        return "passed" if self.score >= self.max_score - 1e-9 else "failed"


@dataclass
class SubmissionResult:
    name: str
    tests: list
    output: str
    execution_time: float = 0.0
    grader_error: str = ""
    infra_notes: list = field(default_factory=list)   # for the instructor's log, not the student

    @property
    def score(self) -> float:
        return round(sum(t.score for t in self.tests), 4)

    @property
    def max_score(self) -> float:
        return round(sum(t.max_score for t in self.tests), 4)

    @property
    def bugs(self) -> list:
        return sorted({b for t in self.tests for b in t.bugs})


class StudentFailed(Exception):
    """A call into the submission did not return (exception, timeout, crash, missing ...)."""

    def __init__(self, outcome, function: str):
        super().__init__(outcome.message)
        self.outcome, self.function = outcome, function


class NotImplementedByStudent(Exception):
    """The function is missing, raises NotImplementedError or returns None (an unfilled stub)."""


class Wrong(Exception):
    """What came back has the wrong structure (a list for a dict, a wrong shape): a failed Part."""
