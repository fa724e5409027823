"""``gradcheck audit``: argument parsing and exit codes only; the work is in runner.py.

Exit 0 when every submission was graded (however badly it did), 2 for bad arguments
or a bad assignment file, 1 when the grader itself failed on some submission.
"""
from __future__ import annotations

import argparse
import os
import sys

EPILOG = """\
examples:
  gradcheck audit submissions/ --assignment mlp --out graded/ --jobs 2
  gradcheck audit submissions/ --assignment layers --out graded/     # also: network, slides
  gradcheck audit submissions/ --assignment my_course.toml --out graded/ --timeout 5
  gradcheck audit submissions/ --assignment my_checks.py --out graded/
  gradcheck audit submissions/ --assignment layers --out part3/ --shard 3/8
  gradcheck audit merge part1/ part2/ ... part8/ --out graded/
  gradcheck audit --gradescope --assignment mlp       # inside Gradescope's run_autograder

Each subfolder of SUBMISSIONS is one submission.  OUT receives <subfolder>/results.json
(Gradescope format), <subfolder>/feedback.html, summary.csv, report.html and audit.json.
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _BadArgs(message)


class _BadArgs(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="gradcheck audit", description="Grade backprop submissions, each in a sandboxed child process.",
                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("submissions", nargs="?", metavar="SUBMISSIONS", help="folder with one subfolder per submission")
    p.add_argument("--assignment", metavar="NAME_OR_FILE",
                   help="built-in assignment (mlp, layers, network, slides), a TOML file or a Python file")
    p.add_argument("--out", metavar="OUT", help="output folder, new or empty (created if missing; see --overwrite)")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="submissions graded in parallel (default 1)")
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="wall-clock limit per call (default: assignment's)")
    p.add_argument("--memory", type=int, metavar="MB",
                   help="memory of one submission: all its processes together where a cgroup is writable, "
                        "else its one process (default: assignment's)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--shard", metavar="K/N", help="grade only the K-th of N deterministic slices of SUBMISSIONS "
                                                  "(then: gradcheck audit merge)")
    p.add_argument("--overwrite", action="store_true",
                   help="OUT may hold an earlier run: what that run wrote is deleted first (and counted)")
    s = p.add_argument_group("sandbox (docs/audit-sandbox.md)")
    s.add_argument("--sandbox", choices=("auto", "bwrap", "fallback"), default="auto",
                   help="how student code is isolated: bubblewrap, the fallback, or auto (bubblewrap where it runs)")
    s.add_argument("--sandbox-check", action="store_true",
                   help="print which protections are active on this machine and exit (1 if unsafe)")
    s.add_argument("--trust-submissions", action="store_true",
                   help="grade even where the sandbox cannot protect this account (your own reference solutions)")
    g = p.add_argument_group("Gradescope")
    g.add_argument("--gradescope", action="store_true", help="grade one submission inside Gradescope's container")
    g.add_argument("--submission", default="/autograder/submission", metavar="DIR",
                   help="with --gradescope: the submission folder (default %(default)s)")
    g.add_argument("--results", default="/autograder/results/results.json", metavar="FILE",
                   help="with --gradescope: where to write results.json (default %(default)s)")
    return p


def _check(args) -> None:
    """Semantic checks argparse cannot do; raise _BadArgs with the fix."""
    if args.sandbox_check:
        return
    if not args.assignment:
        raise _BadArgs("the following arguments are required: --assignment")
    if args.jobs < 1:
        raise _BadArgs(f"--jobs must be at least 1, got {args.jobs}")
    if args.timeout is not None and not args.timeout > 0:
        raise _BadArgs(f"--timeout must be a positive number of seconds, got {args.timeout:g}")
    if args.memory is not None and args.memory < 64:
        raise _BadArgs(f"--memory is in MB and must be at least 64, got {args.memory}")
    if args.gradescope:
        if args.submissions or args.out or args.shard or args.overwrite:
            raise _BadArgs("--gradescope reads --submission and writes --results; drop SUBMISSIONS, --out, "
                           "--shard and --overwrite")
        if not os.path.isdir(args.submission):
            raise _BadArgs(f"--submission folder {args.submission!r} does not exist")
        return
    if not args.submissions:
        raise _BadArgs("give the SUBMISSIONS folder (or --gradescope inside Gradescope)")
    if not os.path.isdir(args.submissions):
        raise _BadArgs(f"SUBMISSIONS {args.submissions!r} is not a folder")
    if not args.out:
        raise _BadArgs("give --out OUT, the folder for results.json files and the report")
    sub, out = os.path.realpath(args.submissions), os.path.realpath(args.out)
    if out == sub or out.startswith(sub + os.sep):
        raise _BadArgs("--out must not be inside SUBMISSIONS (it would be graded as a submission)")
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise _BadArgs(f"--out {args.out!r} exists and is not a folder")
    args.shard_of = None if args.shard is None else _parse_shard(args.shard)
    old = _earlier_run(args.out)
    if old and not args.overwrite:
        raise _BadArgs(f"--out {args.out!r} already holds {len(old)} entries (an earlier run?), e.g. "
                       f"{', '.join(sorted(old)[:3])}; give a new folder, or add --overwrite to delete them first")


def _parse_shard(text: str) -> tuple:
    k, sep, n = text.partition("/")
    if not (sep and k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        raise _BadArgs(f"--shard must be K/N with 1 <= K <= N, e.g. 3/8, got {text!r}")
    return int(k), int(n)


def _earlier_run(out: str) -> list:
    """Names in OUT (empty when OUT does not exist)."""
    try:
        return os.listdir(out)
    except FileNotFoundError:
        return []


def _clear(out: str) -> list:
    """Delete what an earlier run left in OUT: result folders and the class files; returns their names.

    Refuses (with the names) when OUT holds anything a run does not write, so that a
    mistyped --out never deletes someone's files.
    """
    from .workspace import remove_tree
    from .writers import CLASS_FILES

    entries = _earlier_run(out)
    foreign = [e for e in entries if e not in CLASS_FILES and not os.path.isfile(os.path.join(out, e, "results.json"))]
    if foreign:
        raise _BadArgs(f"--overwrite: {out!r} holds entries no gradcheck audit run wrote "
                       f"({', '.join(sorted(foreign)[:5])}); not deleting anything; give a new folder")
    for e in entries:
        remove_tree(os.path.join(out, e))
    return entries


def _usage_error(prog: str, e: _BadArgs) -> int:
    """Say what is wrong with the arguments and where the help is; exit code 2."""
    print(f"{prog}: error: {e}\n(see '{prog} --help')", file=sys.stderr)
    return 2


def merge_main(argv) -> int:
    """``gradcheck audit merge OUT_1 ... OUT_N --out OUT``."""
    p = _Parser(prog="gradcheck audit merge", description="Combine the OUT folders of --shard runs into one "
                "summary.csv and report.html (and copy every student's folder).")
    p.add_argument("shards", nargs="+", metavar="OUT_K", help="the --out folders of the shard runs")
    p.add_argument("--out", required=True, metavar="OUT", help="the merged output folder (new or empty)")
    try:
        args = p.parse_args(argv)
        if _earlier_run(args.out):
            raise _BadArgs(f"--out {args.out!r} is not empty; give a new folder for the merged results")
        for d in args.shards:
            if not os.path.isdir(d):
                raise _BadArgs(f"{d!r} is not a folder")
        from .writers import MergeError, merge

        try:
            n = merge(args.shards, args.out)
        except MergeError as e:
            raise _BadArgs(str(e)) from None
    except _BadArgs as e:
        return _usage_error("gradcheck audit merge", e)
    except SystemExit as e:  # --help
        return int(e.code or 0)
    print(f"gradcheck audit merge: {n} submissions from {len(args.shards)} shards -> "
          f"{os.path.join(args.out, 'report.html')}", file=sys.stderr)
    return 0


def _gradescope_failure(path: str, message: str) -> None:
    """Even a misconfigured autograder leaves a results.json that says what happened."""
    from .writers import write_json

    try:
        write_json(path, {"score": 0, "execution_time": 0, "output": message, "tests": []})
    except OSError:
        pass


def _engine(args):
    """The sandbox engine, or _BadArgs saying what this machine lacks (a results.json too, in Gradescope)."""
    from .engine import SandboxUnavailable, choose, require_untrusted_ok

    try:
        engine = choose(args.sandbox)
        if not args.trust_submissions:
            require_untrusted_ok(engine)
    except SandboxUnavailable as e:
        if args.gradescope:
            _gradescope_failure(args.results, f"The autograder is misconfigured: {e}")
        raise _BadArgs(str(e)) from None
    os.umask(0o077)  # everything the grader creates (copies, OUT) is private to the instructor
    return engine


def main(argv=None) -> int:
    """Run the CLI; the umask it sets for the run is restored, so an in-process caller keeps its own."""
    previous = os.umask(0o077)
    os.umask(previous)
    try:
        return _main(argv)
    finally:
        os.umask(previous)


def _main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["merge"]:
        return merge_main(argv[1:])
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        _check(args)
        if args.sandbox_check:
            from .sandbox_check import report

            return report(args.sandbox)
        engine = _engine(args)
        from .assignment import AssignmentError, load

        try:
            assignment = load(args.assignment)
        except AssignmentError as e:
            if args.gradescope:
                _gradescope_failure(args.results, f"The autograder is misconfigured: {e}")
            raise _BadArgs(str(e)) from None
    except _BadArgs as e:
        return _usage_error("gradcheck audit", e)
    except SystemExit as e:  # --help
        return int(e.code or 0)

    from . import runner

    if args.gradescope:
        print(f"gradcheck audit: sandbox: {engine.summary()}", file=sys.stderr)
        try:
            res = runner.gradescope(assignment, args.submission, args.results, timeout=args.timeout,
                                    memory_mb=args.memory, engine=engine)
        except Exception as e:  # noqa: BLE001 - Gradescope still needs a results.json
            _gradescope_failure(args.results, f"The autograder failed ({type(e).__name__}: {e}); not a verdict "
                                              f"on your work.")
            raise

        print(f"gradcheck audit: {res.score:g} / {res.max_score:g} -> {args.results}", file=sys.stderr)
        return 1 if res.grader_error else 0
    if args.overwrite and _earlier_run(args.out):
        try:
            gone = _clear(args.out)
        except _BadArgs as e:
            print(f"gradcheck audit: error: {e}", file=sys.stderr)
            return 2
        print(f"gradcheck audit: --overwrite: deleted {len(gone)} entries of the earlier run in {args.out}",
              file=sys.stderr)
    results = runner.audit(assignment, args.submissions, args.out, jobs=args.jobs, timeout=args.timeout,
                           memory_mb=args.memory, progress=not args.quiet, engine=engine,
                           shard_of=args.shard_of)
    failed = [r.name for r in results if r.grader_error]
    print(f"gradcheck audit: graded {len(results)} submissions -> {os.path.join(args.out, 'report.html')}",
          file=sys.stderr)
    if failed:
        print(f"gradcheck audit: the grader failed on {len(failed)} submission(s): {', '.join(failed[:10])}",
              file=sys.stderr)
        return 1
    return 0
