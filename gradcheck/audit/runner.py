"""Wiring: one sandbox per submission, fed to the grader, results to the writers.

The only module that knows both sides: it turns an assignment's limits into a sandbox,
hands the sandbox's ``call`` to ``grader.grade``, and makes sure that every submission
gets a results.json even when the grader itself fails on it.
"""
from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

from . import grader, writers
from .sandbox import Limits, Sandbox


def limits_for(a, *, timeout=None, memory_mb=None) -> Limits:
    return Limits(timeout=timeout or a.timeout, memory_mb=memory_mb or a.memory_mb, cpu_seconds=a.cpu_seconds,
                  file_mb=a.file_mb, nproc=a.nproc)


def grade_folder(a, folder: str, name: str, cases, limits: Limits) -> grader.SubmissionResult:
    """Grade one submission folder; never raises (a grader failure becomes a 0 with an explanation)."""
    start = time.monotonic()
    try:
        with Sandbox(folder, a.module, limits=limits, allowed_imports=list(a.allowed_imports)
                     if a.allowed_imports is not None else None) as sb:
            res = grader.grade(a, sb.call, name, cases, notes=[n for n in sb.notes if n.startswith("not copied")])
            infra = [n for n in sb.notes if not n.startswith("not copied")]
    except Exception as e:  # noqa: BLE001 - a bug of ours must not cost the other submissions
        detail = "".join(traceback.format_exception(type(e), e, e.__traceback__)[-3:])
        res = grader.SubmissionResult(
            name, [], "The grader failed on this submission (not a verdict on your work; your instructor has "
                       "been told).", grader_error=detail)
        infra = []
    res.execution_time = time.monotonic() - start
    res.infra_notes = infra
    return res


def list_submissions(root: str) -> list:
    """Every subfolder is one submission, whatever its name; hidden folders are skipped."""
    return sorted(e.name for e in os.scandir(root) if e.is_dir(follow_symlinks=False)
                  and not e.name.startswith(".") and e.name != "__pycache__")


class Progress:
    """A one-line progress bar on stderr (one line per 10% when stderr is not a terminal)."""

    def __init__(self, total: int, stream=None, enabled: bool = True):
        self.total, self.done, self.stream, self.enabled = total, 0, stream or sys.stderr, enabled
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.lock = threading.Lock()
        self.start = time.monotonic()
        self.last_decile = -1

    def step(self, label: str) -> None:
        with self.lock:
            self.done += 1
            if not self.enabled:
                return
            frac = self.done / self.total if self.total else 1.0
            bar = "#" * int(30 * frac) + "." * (30 - int(30 * frac))
            line = f"grading [{bar}] {self.done}/{self.total}  {time.monotonic() - self.start:5.1f} s  {label[:30]}"
            if self.tty:
                self.stream.write("\r" + line.ljust(100)[:100] + ("\n" if self.done == self.total else ""))
            elif int(10 * frac) != self.last_decile or self.done == self.total:
                self.last_decile = int(10 * frac)
                self.stream.write(line + "\n")
            self.stream.flush()


def audit(a, submissions: str, out: str, *, jobs: int = 1, timeout=None, memory_mb=None,
          progress: bool = True, log=None) -> list:
    """Grade every subfolder of ``submissions`` into ``out``; returns the SubmissionResults."""
    log = log or (lambda msg: print(msg, file=sys.stderr))
    start = time.monotonic()
    names = list_submissions(submissions)
    os.makedirs(out, exist_ok=True)
    cases = grader.make_cases(a)
    limits = limits_for(a, timeout=timeout, memory_mb=memory_mb)
    bar = Progress(len(names), enabled=progress)
    warned: set = set()

    def one(name):
        res = grade_folder(a, os.path.join(submissions, name), name, cases, limits)
        try:
            writers.write_submission(out, res, a.visibility)
        except OSError as e:
            res.grader_error = res.grader_error or f"could not write results: {e}"
        for n in getattr(res, "infra_notes", []):
            if n not in warned:
                warned.add(n)
                log(f"gradcheck audit: sandbox: {n}")
        if res.grader_error:
            log(f"gradcheck audit: grader error on {name!r}:\n{res.grader_error}")
        bar.step(name)
        return res

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(one, names))
    writers.write_class(out, results, a, time.monotonic() - start)
    return results


def gradescope(a, submission: str, results_path: str, *, timeout=None, memory_mb=None) -> grader.SubmissionResult:
    """Inside Gradescope's container: one submission in, one results.json out."""
    cases = grader.make_cases(a)
    res = grade_folder(a, submission, "submission", cases, limits_for(a, timeout=timeout, memory_mb=memory_mb))
    writers.write_json(results_path, writers.results_json(res, a.visibility))
    return res
