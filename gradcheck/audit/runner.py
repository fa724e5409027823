"""Wiring: one sandbox per submission, fed to the grader, results to the writers.

The only module that knows both sides: it turns an assignment's limits into a sandbox,
hands the sandbox to ``grader.grade``, and makes sure that every submission gets a
results.json even when the grader itself fails on it.  ``--shard K/N`` grades a
deterministic slice; ``writers.merge`` puts the slices back together.
"""
from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

from . import grader, writers
from . import engine as sandbox_engine
from .sandbox import Limits, Sandbox


def limits_for(a, *, timeout=None, memory_mb=None) -> Limits:
    return Limits(timeout=timeout or a.timeout, memory_mb=memory_mb or a.memory_mb, cpu_seconds=a.cpu_seconds,
                  file_mb=a.file_mb, nproc=a.nproc)


def grade_folder(a, folder: str, name: str, limits: Limits, engine="auto") -> grader.SubmissionResult:
    """Grade one submission folder; never raises (a grader failure becomes a 0 with an explanation)."""
    from .submission_files import listing

    start = time.monotonic()
    try:
        module, root = a.locate(folder)
        label = "/".join(([root] if root else []) + [module.replace(".", "/") + ".py"])
        with Sandbox(folder, module, root=root, limits=limits, allowed_imports=list(a.allowed_imports)
                     if a.allowed_imports is not None else None, engine=engine) as sb:
            # what the copy left out is the student's to read; the sandbox's other notes (some
            # appear while the checks run, so they are read afterwards) are the instructor's
            res = grader.grade(a, sb, name, module_label=label, contents=listing(folder),
                               notes=[n for n in sb.notes if n.startswith("not copied")])
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


def shard(names: list, k: int, n: int) -> list:
    """The k-th (1-based) of n deterministic slices of the sorted names: every n-th from the k-th.

    Depends only on the names, so every array task of a Slurm job or a Kubernetes indexed
    Job computes the same partition without talking to the others.
    """
    if not (isinstance(k, int) and isinstance(n, int) and 1 <= k <= n):
        raise ValueError(f"a shard is K/N with 1 <= K <= N, got {k}/{n}")
    return sorted(names)[k - 1::n]


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
          progress: bool = True, log=None, engine="auto", shard_of: tuple | None = None) -> list:
    """Grade every subfolder of ``submissions`` into ``out``; returns the SubmissionResults.

    ``engine``: the sandbox ("auto", "bwrap", "fallback"; see engine.py), named in the run's header.
    ``shard_of``: (K, N) grades only the K-th of N slices (see ``shard``).
    """
    log = log or (lambda msg: print(msg, file=sys.stderr))
    start = time.monotonic()
    names = list_submissions(submissions)
    if shard_of is not None:
        names = shard(names, *shard_of)
    os.makedirs(out, mode=0o700, exist_ok=True)
    sandbox_engine.remove_stale()
    engine = sandbox_engine.choose(engine)
    log(f"gradcheck audit: sandbox: {engine.summary()}")
    limits = limits_for(a, timeout=timeout, memory_mb=memory_mb)
    bar = Progress(len(names), enabled=progress)
    warned: set = set()

    def one(name):
        res = grade_folder(a, os.path.join(submissions, name), name, limits, engine)
        try:
            writers.write_submission(out, res, a.visibility)
        except Exception as e:  # noqa: BLE001 - one student's results must not stop the others'
            res.grader_error = res.grader_error or f"could not write results: {type(e).__name__}: {e}"
        for n in res.infra_notes:
            if n not in warned:
                warned.add(n)
                log(f"gradcheck audit: sandbox: {n}")
        if res.grader_error:
            log(f"gradcheck audit: grader error on {name!r}:\n{res.grader_error}")
        bar.step(name)
        return res

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(one, names))
    writers.write_class(out, results, a, time.monotonic() - start, shard_of=shard_of)
    return results


def gradescope(a, submission: str, results_path: str, *, timeout=None, memory_mb=None,
               engine="auto") -> grader.SubmissionResult:
    """Inside Gradescope's container: one submission in, one results.json out."""
    res = grade_folder(a, submission, "submission", limits_for(a, timeout=timeout, memory_mb=memory_mb),
                       sandbox_engine.choose(engine))
    writers.write_json(results_path, writers.results_json(res, a.visibility))
    return res
