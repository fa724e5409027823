"""The terminal summary and the JSON report, from the recorded checks (plain dicts, report.to_dict()).

Standard library only. A check's ``status`` is "passed", "failed" or "expected": a failed check is expected
when its test accepted the failure (the test passed anyway, e.g. inside ``pytest.raises(GradientMismatch)``,
or the test is marked xfail and failed as expected). The plugin sets it on the worker that ran the test.
"""
from __future__ import annotations

import json
import os
import tempfile

_RANK = {"failed": 0, "expected": 1, "passed": 2}
_LABEL = {"failed": "FAILED", "expected": "expected", "passed": "passed"}


def status(check: dict) -> str:
    if check.get("passed"):
        return "passed"
    return "expected" if check.get("expected_failure") else "failed"


def _number(v):
    """to_dict keeps non-finite floats as strings ("inf", "nan"); they rank above every finite value."""
    if v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _worst(values):
    """The largest value; NaN (a gradient that is not a number) ranks above every number."""
    nums = [v for v in (_number(x) for x in values) if v is not None]
    return max(nums, key=lambda v: (v != v, v if v == v else 0.0)) if nums else None


def _fmt(v) -> str:
    if v is None:
        return "n/a"
    if v != v or v == float("inf"):
        return str(v)
    return f"{v:.1e}"


def _resolution(c: dict):
    """Fast mode's coarsest per-parameter resolution: a single-element error above it would have been caught."""
    return _worst(p.get("resolution") for p in c.get("params") or ())


def fold(checks: list) -> list:
    """One row per test: n checks, the worst error, the total evaluations and time; failures first."""
    groups: dict = {}
    for c in checks:
        groups.setdefault(c.get("test", "?"), []).append(c)
    rows = []
    for test, cs in groups.items():
        statuses = [status(c) for c in cs]
        row_status = min(statuses, key=_RANK.__getitem__)
        worst = max(cs, key=lambda c: (-_RANK[status(c)], _number(c.get("worst_rel_error")) or 0.0))
        passed_fast = [c for c in cs if c.get("passed") and c.get("mode") == "fast"]
        rows.append({
            "status": row_status, "test": test, "n": len(cs),
            "params": str(worst.get("n_params", 0)),
            "rel": _fmt(_worst(c.get("worst_rel_error") for c in cs)),
            "mode": "/".join(sorted({str(c.get("mode", "?")) for c in cs})),
            "resolution": _fmt(_worst(_resolution(c) for c in passed_fast)) if passed_fast else "",
            "evals": str(sum(int(c.get("n_evals") or 0) for c in cs)),
            "time": f"{sum(float(c.get('time') or 0.0) for c in cs):.2f}s",
            "reasons": sorted({c["mode_reason"] for c in cs if c.get("mode_reason")}),
        })
    return sorted(rows, key=lambda r: _RANK[r["status"]])


def count_line(checks: list, seed) -> str:
    counts = {s: 0 for s in _RANK}
    for c in checks:
        counts[status(c)] += 1
    noun = "check" if len(checks) == 1 else "checks"
    expected = f", {counts['expected']} failed as expected" if counts["expected"] else ""
    return (f"{len(checks)} gradient {noun}: {counts['passed']} passed, {counts['failed']} failed{expected} "
            f"(gradcheck seed {seed})")


def table(rows: list) -> list:
    """The rows of fold() as aligned text lines, with a header."""
    head = ("", "test", "n", "params", "rel err", "mode", "resolution", "evals", "time")
    keys = ("test", "n", "params", "rel", "mode", "resolution", "evals", "time")
    rows = [(_LABEL[r["status"]], *(str(r[k]) for k in keys)) for r in rows]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    right = {2, 3, 4, 6, 7, 8}

    def fmt(r):
        return "  ".join(r[i].rjust(widths[i]) if i in right else r[i].ljust(widths[i])
                         for i in range(len(r))).rstrip()

    return [fmt(head), *map(fmt, rows)]


RESOLUTION_NOTE = ("resolution (fast mode): any single-element error above it is caught with 99% probability; "
                   "--gradcheck-mode=full compares every element")


def write_summary(terminalreporter, checks: list, seed, quiet: bool, verbose: bool = False) -> None:
    """The table (one row per test); with -v each row is followed by why its mode ran (auto mode's choice)."""
    if not checks:
        return
    tr = terminalreporter
    if quiet:
        tr.write_line("gradcheck: " + count_line(checks, seed))
        return
    tr.write_sep("=", "gradcheck summary")
    rows = fold(checks)
    lines = table(rows)
    tr.write_line(lines[0])
    for line, row in zip(lines[1:], rows):
        tr.write_line(line, red=line.startswith("FAILED"), green=line.startswith("passed"))
        if verbose:
            for reason in row["reasons"]:
                tr.write_line(f"        mode: {reason}")
    if any(c.get("passed") and c.get("mode") == "fast" for c in checks):
        tr.write_line(RESOLUTION_NOTE)
    tr.write_line(count_line(checks, seed))


def report_document(checks: list, settings) -> dict:
    ordered = sorted(checks, key=lambda c: _RANK[status(c)])
    return {
        "format": "gradcheck-pytest-report",
        "version": 2,
        "seed": settings.seed,
        "settings": dict(settings.values),
        "n_checks": len(checks),
        "n_failed": sum(1 for c in checks if status(c) == "failed"),
        "n_expected_failures": sum(1 for c in checks if status(c) == "expected"),
        "checks": [dict(c, status=status(c)) for c in ordered],
    }


def write_json_atomically(path: str, document: dict) -> None:
    """Write to a temporary file in the same directory, then os.replace: readers never see half a file."""
    path = os.path.abspath(path)
    fd, tmp = tempfile.mkstemp(prefix=".gradcheck-report-", suffix=".tmp", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(document, fh, indent=2, allow_nan=False)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
