"""The terminal summary and the JSON report, from the recorded checks (plain dicts, report.to_dict()).

Standard library only.
"""
from __future__ import annotations

import json
import os
import tempfile


def _order(checks: list) -> list:
    """Failures first, then in the order they ran."""
    return sorted(checks, key=lambda c: bool(c.get("passed")))


def _rel(c: dict) -> str:
    v = c.get("worst_rel_error")
    if v is None:
        return "n/a"
    if isinstance(v, str):          # "inf", "nan": to_dict keeps non-finite floats as strings
        return v
    return f"{v:.1e}"


def _params(c: dict) -> str:
    return f"{len(c.get('params') or [])} ({c.get('n_params', 0)})"


def count_line(checks: list, seed) -> str:
    failed = sum(1 for c in checks if not c.get("passed"))
    noun = "check" if len(checks) == 1 else "checks"
    return f"{len(checks)} gradient {noun}: {len(checks) - failed} passed, {failed} failed (gradcheck seed {seed})"


def table(checks: list) -> list:
    """One row per check: verdict, test id, parameters (elements), worst relative error, oracle, evaluations, time."""
    head = ("", "test", "params (elements)", "worst rel err", "oracle", "evals", "time")
    rows = [("FAILED" if not c.get("passed") else "passed", c.get("test", "?"), _params(c), _rel(c),
             str(c.get("oracle", "?")), str(c.get("n_evals", "?")), f"{float(c.get('time', 0.0)):.2f}s")
            for c in _order(checks)]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    right = {2, 3, 5, 6}

    def fmt(r):
        return "  ".join(r[i].rjust(widths[i]) if i in right else r[i].ljust(widths[i])
                         for i in range(len(r))).rstrip()

    return [fmt(head), *map(fmt, rows)]


def write_summary(terminalreporter, checks: list, seed, quiet: bool) -> None:
    if not checks:
        return
    tr = terminalreporter
    if quiet:
        tr.write_line("gradcheck: " + count_line(checks, seed))
        return
    tr.write_sep("=", "gradcheck summary")
    for line in table(checks):
        red = line.startswith("FAILED")
        tr.write_line(line, red=red, green=line.startswith("passed"))
    tr.write_line(count_line(checks, seed))


def report_document(checks: list, settings) -> dict:
    return {
        "format": "gradcheck-pytest-report",
        "version": 1,
        "seed": settings.seed,
        "settings": dict(settings.values),
        "n_checks": len(checks),
        "n_failed": sum(1 for c in checks if not c.get("passed")),
        "checks": _order(checks),
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
