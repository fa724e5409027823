"""Verdicts: run every check of an assignment against one submission's sandbox.

Knows no contract: it loops over ``assignment.checks`` (see checks.py), each of which
talks to the submission through the sandbox it is given (anything with
``invoke(op, name, args, kwargs, handle=, value=, select=)`` and ``import_outcome``).
"""
from __future__ import annotations

import time

from .context import Session
from .feedback import capitalized, import_failure
from .results import CheckResult, SubmissionResult

__all__ = ["grade", "CheckResult", "SubmissionResult"]


def _fmt(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


def grade(a, sandbox, name: str, *, module_label: str = "", notes=(), contents: str = "") -> SubmissionResult:
    """Every check of ``a`` through ``sandbox``; ``contents`` lists the folder (said when the module is missing)."""
    start = time.monotonic()
    label = module_label or a.module.replace(".", "/") + ".py"
    session = Session(sandbox)
    imported = sandbox.invoke("get_attr", "__name__")   # starts the child, imports the module
    tests, errors, left_out = [], [], []
    not_imported = not imported.ok and imported.kind in ("import", "missing")
    if not_imported:
        tag = "module missing" if imported.kind == "missing" else "import failed"
        why = f"not run: importing {label} failed (see the top of the output)" if imported.kind == "import" \
            else f"not run: {imported.message}"
        for c in a.checks:
            tests.append(CheckResult(c.name, c.kind, 0.0, c.points, why if a.detail != "score" else "", [tag]))
    else:
        for c in a.checks:
            try:
                res = a.run_check(c, session)
            except Exception as e:  # noqa: BLE001 - a bug in a check must not cost the student or the others
                import traceback

                errors.append(f"check {c.name!r}: " + "".join(traceback.format_exception(type(e), e,
                                                                                         e.__traceback__)[-3:]))
                res = CheckResult(c.name, c.kind, 0.0, c.points, "The grader failed on this check (not a verdict "
                                  "on your work; your instructor has been told).", ["grader error"])
            if res is None:
                left_out.append(c)
            else:
                tests.append(res)
    if left_out and tests:
        # an optional part the module does not have: its points are shared by the others, so a
        # complete submission of the smaller homework still scores the assignment's total
        factor = a.max_score / sum(t.max_score for t in tests)
        for t in tests:
            t.score, t.max_score = round(t.score * factor, 4), round(t.max_score * factor, 4)
    score = sum(t.score for t in tests)
    lines = [f"{a.title}: {_fmt(score)} / {_fmt(sum(t.max_score for t in tests))} points."]
    if a.summary_line:
        lines.append(a.summary_line)
    if a.detail == "score":  # the points only
        return SubmissionResult(name, tests, lines[0], time.monotonic() - start, grader_error="\n".join(errors))
    if not_imported:
        if imported.kind == "missing":
            msg = capitalized(imported.message)
            lines.append(f"{msg}, so no check could run. {contents}".rstrip())
            if a.description:
                lines.append("What the assignment expects:\n" + a.description.rstrip())
        else:
            lines.append(f"Your {label} could not be imported, so no check could run:\n" + import_failure(imported))
    else:
        failed = [t for t in tests if t.status == "failed"]
        if failed:
            lines.append(f"{len(failed)} of {len(tests)} checks lost points; each check's output says why.")
    if left_out and tests:
        names = sorted({c.optional for c in left_out})
        lines.append(f"Your module has no {' or '.join(names)}, so the checks of {'them' if len(names) > 1 else 'it'} "
                     f"are left out and the other checks share their points.")
    lines += [f"Note: {s}" for s in notes]
    return SubmissionResult(name, tests, "\n".join(lines), time.monotonic() - start, grader_error="\n".join(errors))
