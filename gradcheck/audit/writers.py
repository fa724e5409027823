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

from .results import SubmissionResult


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
    with open(tmp, "w", encoding="utf-8", errors="replace") as f:
        json.dump(data, f, indent=2, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, path)


def _cell(v: str) -> str:
    """Keep spreadsheets from evaluating a cell that starts like a formula."""
    return "'" + v if v[:1] in ("=", "+", "-", "@", "\t", "\r") else v


def write_summary_csv(path: str, records: list, checks: list) -> None:
    """One row per submission (sorted by name): name, score, max_score, then one column per check."""
    with open(path, "w", newline="", encoding="utf-8", errors="replace") as f:
        w = csv.writer(f)
        w.writerow(["name", "score", "max_score"] + list(checks))
        for r in sorted(records, key=lambda r: r["name"]):
            by_name = {t["name"]: t["score"] for t in r["tests"]}
            w.writerow([_cell(r["name"]), r["score"], r["max_score"]] + [by_name.get(c, "") for c in checks])


def record(res: SubmissionResult) -> dict:
    """What the class report and a later merge need of one submission (no student text)."""
    return {"name": res.name, "score": res.score, "max_score": res.max_score, "bugs": res.bugs,
            "grader_error": bool(res.grader_error),
            "tests": [{"name": t.name, "check": t.check, "score": round(t.score, 4), "max_score": round(t.max_score, 4),
                       "status": t.status, "bugs": list(t.bugs)} for t in res.tests]}


def meta(assignment) -> dict:
    return {"name": assignment.name, "title": assignment.title, "description": assignment.description,
            "seed": assignment.seed,
            "max_score": assignment.max_score, "checks": [c.name for c in assignment.checks],
            "bug_titles": dict(assignment.bug_titles)}


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


def _bar_rows(counts, label_html) -> str:
    top = max(counts.values(), default=0) or 1
    return "".join(
        f"<tr><td>{label_html(k)}</td><td>{n}</td><td><span class=\"bar\" style=\"width:{20 * n / top:.2f}em\">"
        f"</span></td></tr>" for k, n in counts.most_common())


def report_html(records: list, info: dict, seconds: float) -> str:
    """Class overview: histogram, how many students hit each diagnosed bug, checks failed most, one row each."""
    e = html.escape
    records = sorted(records, key=lambda r: r["name"])
    max_score = info["max_score"]
    titles = info.get("bug_titles", {})
    scores = [r["score"] for r in records]
    bugs = Counter(b for r in records for b in r["bugs"])

    def bug_label(b):
        title = titles.get(b, "")
        return f"{e(title)} <code>{e(b)}</code>" if title else e(b)

    bug_rows = _bar_rows(bugs, bug_label) or "<tr><td colspan=3>none diagnosed</td></tr>"
    checks = Counter(k for r in records for k in {t["check"] for t in r["tests"] if t["status"] == "failed"})
    check_rows = _bar_rows(checks, e) or "<tr><td colspan=3>every check passed everywhere</td></tr>"
    sub_rows = "".join(
        f"<tr><td><a href=\"{e(urllib.parse.quote(r['name']))}/feedback.html\">{e(r['name'])}</a></td>"
        f"<td>{r['score']:g} / {r['max_score']:g}</td><td>{e(', '.join(r['bugs']))}</td>"
        f"<td>{'<b>grader error</b>' if r['grader_error'] else ''}</td></tr>" for r in records)
    mean = sum(scores) / len(scores) if scores else 0.0
    body = (f"<h1>{e(info['title'])}</h1><p>{len(records)} submissions graded in {seconds:.1f} s; "
            f"mean score {mean:.2f} / {max_score:g}. Assignment {e(info['name'])}, seed {info['seed']}.</p>"
            + (f"<pre>{e(info['description'])}</pre>" if info.get("description") else "") +
            f"<h2>Scores</h2>{_histogram(scores, max_score)}"
            f"<h2>Most common diagnosed bugs</h2><p>How many students hit each diagnosed mistake or failure "
            f"(a student counts once per mistake).</p>"
            f"<table><tr><th>bug</th><th>students</th><th></th></tr>{bug_rows}</table>"
            f"<h2>Checks failed most often</h2><table><tr><th>check</th><th>failed (submissions)</th><th></th></tr>"
            f"{check_rows}</table>"
            f"<h2>Submissions</h2><table><tr><th>name</th><th>score</th><th>diagnosed</th><th></th></tr>{sub_rows}"
            f"</table>")
    return _page(f"{info['title']}: class report", body)


def write_submission(out_dir: str, res: SubmissionResult, visibility: str) -> None:
    folder = os.path.join(out_dir, res.name)
    write_json(os.path.join(folder, "results.json"), results_json(res, visibility))
    with open(os.path.join(folder, "feedback.html"), "w", encoding="utf-8", errors="replace") as f:
        f.write(feedback_html(res))


CLASS_FILES = ("summary.csv", "report.html", "audit.json")


def _write_class_files(out_dir: str, records: list, info: dict, seconds: float, shard_of=None) -> None:
    write_summary_csv(os.path.join(out_dir, "summary.csv"), records, info["checks"])
    with open(os.path.join(out_dir, "report.html"), "w", encoding="utf-8", errors="replace") as f:
        f.write(report_html(records, info, seconds))
    write_json(os.path.join(out_dir, "audit.json"), {"format": 1, "assignment": info, "seconds": round(seconds, 3),
                                                     "shard": list(shard_of) if shard_of else None,
                                                     "submissions": sorted(records, key=lambda r: r["name"])})


def write_class(out_dir: str, results: list, assignment, seconds: float, *, shard_of=None) -> None:
    """summary.csv, report.html and audit.json (what ``gradcheck audit merge`` reads)."""
    _write_class_files(out_dir, [record(r) for r in results], meta(assignment), seconds, shard_of)


class MergeError(ValueError):
    """Shard outputs that cannot be merged (missing, different assignments, overlapping)."""


def merge(shard_dirs: list, out_dir: str) -> int:
    """Combine the OUT folders of ``--shard`` runs into ``out_dir``; returns the number of submissions.

    Each shard's per-student folders are copied over; summary.csv and report.html are
    written for all of them, the same as one unsharded run would have written (times aside).
    """
    import shutil

    runs = []
    for d in shard_dirs:
        path = os.path.join(d, "audit.json")
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                runs.append(json.load(f))
        except FileNotFoundError:
            raise MergeError(f"{d} has no audit.json: is it the --out folder of a finished gradcheck audit run?") \
                from None
        except ValueError as e:
            raise MergeError(f"{path} is not valid JSON ({e})") from None
    infos = [r["assignment"] for r in runs]
    if any(i != infos[0] for i in infos[1:]):
        raise MergeError("the shards were graded with different assignments (name, seed, checks or points differ); "
                         "merge only the shards of one run")
    shards = [tuple(r["shard"]) if r.get("shard") else None for r in runs]
    if all(shards) and len({n for _, n in shards}) == 1 and sorted(k for k, _ in shards) != list(
            range(1, shards[0][1] + 1)):
        have = ", ".join(f"{k}/{n}" for k, n in sorted(shards))
        raise MergeError(f"incomplete or repeated shards: got {have}, need each of 1..{shards[0][1]} once")
    records, seen = [], {}
    for d, r in zip(shard_dirs, runs):
        for rec in r["submissions"]:
            if rec["name"] in seen:
                raise MergeError(f"submission {rec['name']!r} is in both {seen[rec['name']]} and {d}")
            seen[rec["name"]] = d
            records.append(rec)
    os.makedirs(out_dir, mode=0o700, exist_ok=True)
    for rec in records:
        src, dst = os.path.join(seen[rec["name"]], rec["name"]), os.path.join(out_dir, rec["name"])
        if os.path.realpath(src) != os.path.realpath(dst) and os.path.isdir(src):
            shutil.copytree(src, dst, dirs_exist_ok=True)
    _write_class_files(out_dir, records, infos[0], sum(r.get("seconds", 0.0) for r in runs))
    return len(records)
