"""Files for people: Gradescope's results.json, a CSV for the gradebook, HTML for reading.

Everything that came from a student (folder names, messages, printed output) is escaped
for HTML and quoted for CSV here, the only place that writes it out.
"""
from __future__ import annotations

import csv
import html
import json
import os
import urllib.parse
from collections import Counter

from .grader import SubmissionResult


def results_json(res: SubmissionResult, visibility: str = "visible") -> dict:
    """Gradescope's results.json: score, execution_time, output, tests[] (name, score, max_score, status...)."""
    return {
        "score": res.score,
        "max_score": res.max_score,
        "execution_time": round(res.execution_time, 3),
        "output": res.output,
        "output_format": "text",
        "test_output_format": "text",
        "visibility": visibility,
        "stdout_visibility": "hidden",
        "tests": [{"name": t.name, "score": round(t.score, 4), "max_score": round(t.max_score, 4),
                   "status": t.status, "output": t.output, "visibility": visibility} for t in res.tests],
    }


def write_json(path: str, data: dict) -> None:
    """Write atomically, so a reader never sees half a file."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, path)


def _cell(v: str) -> str:
    """Keep spreadsheets from evaluating a cell that starts like a formula."""
    return "'" + v if v[:1] in ("=", "+", "-", "@", "\t", "\r") else v


def write_summary_csv(path: str, results: list) -> None:
    """One row per submission: name, score, max_score, then one column per check."""
    columns = []
    for r in results:
        for t in r.tests:
            if t.name not in columns:
                columns.append(t.name)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["name", "score", "max_score"] + columns)
        for r in results:
            by_name = {t.name: t.score for t in r.tests}
            w.writerow([_cell(r.name), r.score, r.max_score] + [by_name.get(c, "") for c in columns])


_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
table{border-collapse:collapse}td,th{padding:.25em .6em;border-bottom:1px solid #ddd;text-align:left}
.bar{background:#4a7fb5;height:1em;display:inline-block}.passed{color:#17803d}.failed{color:#b42318}
pre{background:#f6f6f6;padding:.6em;white-space:pre-wrap;overflow-wrap:anywhere}"""


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body>\n{body}\n</body></html>\n")


def feedback_html(res: SubmissionResult) -> str:
    """One submission's results, as the student would see them on Gradescope."""
    e = html.escape
    rows = "".join(
        f"<h3 class=\"{t.status}\">{e(t.name)}: {t.score:g} / {t.max_score:g} ({t.status})</h3><pre>{e(t.output)}</pre>"
        for t in res.tests)
    body = (f"<p><a href=\"../report.html\">← class report</a></p><h1>{e(res.name)}: {res.score:g} / "
            f"{res.max_score:g}</h1><pre>{e(res.output)}</pre>{rows}")
    return _page(f"{res.name}: feedback", body)


def _histogram(scores: list, max_score: float, bins: int = 10) -> str:
    counts = [0] * bins
    for s in scores:
        i = min(int(bins * s / max_score), bins - 1) if max_score > 0 else 0
        counts[i] += 1
    top = max(counts) or 1
    rows = []
    for i, c in enumerate(counts):
        lo, hi = max_score * i / bins, max_score * (i + 1) / bins
        rows.append(f"<tr><td>{lo:g}–{hi:g}{'' if i < bins - 1 else ' (incl.)'}</td><td>{c}</td>"
                    f"<td><span class=\"bar\" style=\"width:{20 * c / top:.2f}em\"></span></td></tr>")
    return "<table><tr><th>score</th><th>submissions</th><th></th></tr>" + "".join(rows) + "</table>"


def report_html(results: list, assignment, seconds: float) -> str:
    """Class overview: histogram, most common diagnosed bugs, checks most often failed, one row each."""
    from reference_nets import CATALOG

    e = html.escape
    max_score = assignment.max_score
    scores = [r.score for r in results]
    bugs = Counter(b for r in results for b in r.bugs)
    bug_rows = "".join(
        f"<tr><td>{n}</td><td>{e(CATALOG[b].title) if b in CATALOG else e(b)}</td><td><code>{e(b)}</code></td></tr>"
        for b, n in bugs.most_common()) or "<tr><td colspan=3>none diagnosed</td></tr>"
    checks = Counter()
    for r in results:
        for t in r.tests:
            if t.status == "failed":
                checks[t.check] += 1
    check_rows = "".join(f"<tr><td>{e(c)}</td><td>{n}</td></tr>" for c, n in checks.most_common()) \
        or "<tr><td colspan=2>every check passed everywhere</td></tr>"
    sub_rows = "".join(
        f"<tr><td><a href=\"{e(urllib.parse.quote(r.name))}/feedback.html\">{e(r.name)}</a></td>"
        f"<td>{r.score:g} / {r.max_score:g}</td><td>{e(', '.join(r.bugs))}</td>"
        f"<td>{'<b>grader error</b>' if r.grader_error else ''}</td></tr>" for r in results)
    mean = sum(scores) / len(scores) if scores else 0.0
    body = (f"<h1>{e(assignment.title)}</h1><p>{len(results)} submissions graded in {seconds:.1f} s; "
            f"mean score {mean:.2f} / {max_score:g}. Assignment {e(assignment.name)}, seed {assignment.seed}.</p>"
            f"<h2>Scores</h2>{_histogram(scores, max_score)}"
            f"<h2>Most common diagnosed bugs</h2><table><tr><th>submissions</th><th>bug</th><th>catalog name</th></tr>"
            f"{bug_rows}</table>"
            f"<h2>Checks failed most often</h2><table><tr><th>check</th><th>failed (check × network)</th></tr>"
            f"{check_rows}</table>"
            f"<h2>Submissions</h2><table><tr><th>name</th><th>score</th><th>diagnosed</th><th></th></tr>{sub_rows}"
            f"</table>")
    return _page(f"{assignment.title}: class report", body)


def write_submission(out_dir: str, res: SubmissionResult, visibility: str) -> None:
    folder = os.path.join(out_dir, res.name)
    write_json(os.path.join(folder, "results.json"), results_json(res, visibility))
    with open(os.path.join(folder, "feedback.html"), "w", encoding="utf-8") as f:
        f.write(feedback_html(res))


def write_class(out_dir: str, results: list, assignment, seconds: float) -> None:
    write_summary_csv(os.path.join(out_dir, "summary.csv"), results)
    with open(os.path.join(out_dir, "report.html"), "w", encoding="utf-8") as f:
        f.write(report_html(results, assignment, seconds))
