"""Feedback text for students, at the instructor's level of detail.

``full``: what is wrong, the values (worst element, tolerances) and the diagnosis;
``hint``: which check and which part is wrong and the diagnosis in words, no expected
values and no formula; ``score``: the points only.  Every sentence a student reads
is built here, so wording changes happen in one place.
"""
from __future__ import annotations

import re

DETAILS = ("full", "hint", "score")


def _num(v) -> str:
    return f"{v:.6g}"


def capitalized(text: str) -> str:
    """``text`` with its first letter upper case (the rest untouched), as a sentence starts."""
    return text[:1].upper() + text[1:]


def mismatch_problem(cmp) -> str:
    """How many elements differ, in words (shown at every detail but "score")."""
    if cmp.n_total == 1:
        return "wrong"
    verb = "differs" if cmp.n_mismatch == 1 else "differ"
    return f"{cmp.n_mismatch} of {cmp.n_total} elements {verb}"


def mismatch_numbers(cmp) -> str:
    """The library's message builder (worst element, max differences) plus the tolerance (detail "full")."""
    from gradcheck.report import describe_comparison

    tolerance = f"tolerance: rtol={cmp.rtol:.1e}, atol={cmp.atol:.1e}"
    if cmp.n_total == 1:
        return f"yours {_num(cmp.worst_actual)}, expected {_num(cmp.worst_expected)}\n{tolerance}"
    return "\n".join(describe_comparison("x", cmp, indent="").split("\n")[1:] + [tolerance])


def fd_numbers(p) -> str:
    """A failed ParamReport of gradcheck's finite-difference check, as numbers (detail "full")."""
    lines = []
    if p.worst_index is not None and p.worst_actual is not None:
        idx = ", ".join(str(i) for i in p.worst_index)
        lines.append(f"worst at [{idx}]: yours {_num(p.worst_actual)}, finite differences of your forward give "
                     f"{_num(p.worst_expected)}")
    if p.max_abs is not None:
        lines.append(f"max abs difference {_num(p.max_abs)}, max rel difference {_num(p.max_rel)}")
    if p.rtol is not None:
        lines.append(f"tolerance: rtol={p.rtol:.1e}, atol={p.atol:.1e}")
    return "\n".join(lines)


def pattern_words(label, actual, expected) -> list:
    """gradcheck.diagnose's pattern sentences (a factor, a transpose, a NaN ...) for one array."""
    from gradcheck.diagnose import diagnose_patterns

    try:
        found = diagnose_patterns({label: actual}, {label: expected}).get(label, [])
    except Exception:  # noqa: BLE001 - a diagnosis is a bonus; never let it fail the grading
        return []
    return [capitalized(s) for s in found]


def failure_text(out, function: str) -> str:
    """What went wrong in the student's process, in their terms (never the grader's paths)."""
    if out.kind == "skipped":
        return out.message
    if out.kind == "timeout":
        text = f"{function}() {out.message}"
    elif out.kind == "exit":
        text = f"{function}() {out.message}; nothing was returned"
    elif out.kind in ("crash", "protocol", "stale", "convert"):
        text = f"{function}(): {out.message}"
    elif out.kind == "missing":
        text = out.message
    elif out.kind == "import":
        return "importing your code failed: " + import_failure(out)
    else:
        msg = out.message if len(out.message) <= 300 else out.message[:300] + " … (message cut)"
        text = f"{function}() raised {out.error_type or 'an exception'}: {msg}"
    return _with_traceback(text, out)


def import_failure(out) -> str:
    """Why the student's module did not import: the error and their traceback, nothing around it."""
    return _with_traceback(f"{out.error_type}: {out.message}", out)


def _with_traceback(text: str, out) -> str:
    tb = student_traceback(out.traceback)
    if tb:
        text += "\ntraceback (most recent call last, your files only):\n" + tb
    return text


_GRADER_FILE = re.compile(r'^\s*File "[^"]*(harness|wire)\.py", line \d+, in \w+\n(    .*\n)?', re.M)


def student_traceback(tb: str) -> str:
    """The child's trimmed traceback, minus any frame of the grader's own files."""
    tb = _GRADER_FILE.sub("", tb or "")
    return tb.rstrip("\n")


def printed_text(chunks) -> str:
    s = "".join(chunks).strip()
    if not s:
        return ""
    lines = [ln if len(ln) <= 160 else ln[:160] + " …" for ln in s[:2000].split("\n")[:12]]
    return "your code printed (first lines):\n" + "\n".join("  " + ln for ln in lines)


def _indent(text: str, by: str) -> str:
    return "\n".join(by + ln if ln else ln for ln in text.split("\n"))


def render_part(p, detail: str) -> str:
    if p.passed:
        return f"{p.label}: correct"
    text = f"{p.label}: {p.problem or 'wrong'}" if p.label else p.problem
    if detail == "full" and p.numbers:
        text += "\n" + _indent(p.numbers, "    ")
    for d in p.diagnosis:
        text += "\n" + _indent("diagnosis: " + d, "    ")
    if detail == "full":
        for f in p.formulas:
            text += "\n" + _indent("formula: " + f, "    ")
    return text


def render_check(check, parts, detail: str, *, notes=(), printed: str = "") -> str:
    """One check's output text at ``detail``."""
    if detail == "score":
        return ""
    ok = sum(1 for p in parts if p.passed)
    lines = []
    if len(parts) > 1:
        lines.append(f"{ok} of {len(parts)} {check.part_noun} correct")
    elif parts and parts[0].passed:
        lines.append("correct")
    body = [render_part(p, detail) for p in parts if not (len(parts) == 1 and p.passed)]
    lines += [_indent(b, "  " if len(parts) > 1 else "") for b in body]
    lines += list(notes)
    if printed and ok < len(parts):
        lines.append(printed)
    return "\n".join(lines)
