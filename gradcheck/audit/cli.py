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
  gradcheck audit submissions/ --assignment my_course.toml --out graded/ --timeout 5
  gradcheck audit --gradescope --assignment mlp       # inside Gradescope's run_autograder

Each subfolder of SUBMISSIONS is one submission.  OUT receives <subfolder>/results.json
(Gradescope format), <subfolder>/feedback.html, summary.csv and report.html.
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
    p.add_argument("--assignment", required=True, metavar="NAME_OR_TOML",
                   help="built-in assignment name (mlp) or an assignment TOML file")
    p.add_argument("--out", metavar="OUT", help="output folder (created if missing)")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="submissions graded in parallel (default 1)")
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="wall-clock limit per call (default: assignment's)")
    p.add_argument("--memory", type=int, metavar="MB", help="address-space limit per child (default: assignment's)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    g = p.add_argument_group("Gradescope")
    g.add_argument("--gradescope", action="store_true", help="grade one submission inside Gradescope's container")
    g.add_argument("--submission", default="/autograder/submission", metavar="DIR",
                   help="with --gradescope: the submission folder (default %(default)s)")
    g.add_argument("--results", default="/autograder/results/results.json", metavar="FILE",
                   help="with --gradescope: where to write results.json (default %(default)s)")
    return p


def _check(args) -> None:
    """Semantic checks argparse cannot do; raise _BadArgs with the fix."""
    if args.jobs < 1:
        raise _BadArgs(f"--jobs must be at least 1, got {args.jobs}")
    if args.timeout is not None and not args.timeout > 0:
        raise _BadArgs(f"--timeout must be a positive number of seconds, got {args.timeout:g}")
    if args.memory is not None and args.memory < 64:
        raise _BadArgs(f"--memory is in MB and must be at least 64, got {args.memory}")
    if args.gradescope:
        if args.submissions or args.out:
            raise _BadArgs("--gradescope reads --submission and writes --results; drop SUBMISSIONS and --out")
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


def _gradescope_failure(path: str, message: str) -> None:
    """Even a misconfigured autograder leaves a results.json that says what happened."""
    from .writers import write_json

    try:
        write_json(path, {"score": 0, "execution_time": 0, "output": message, "tests": []})
    except OSError:
        pass


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        _check(args)
        from .assignment import AssignmentError, load

        try:
            assignment = load(args.assignment)
        except AssignmentError as e:
            if args.gradescope:
                _gradescope_failure(args.results, f"The autograder is misconfigured: {e}")
            raise _BadArgs(str(e)) from None
    except _BadArgs as e:
        print(f"gradcheck audit: error: {e}\n(see 'gradcheck audit --help')", file=sys.stderr)
        return 2
    except SystemExit as e:  # --help
        return int(e.code or 0)

    from . import runner

    if args.gradescope:
        try:
            res = runner.gradescope(assignment, args.submission, args.results, timeout=args.timeout,
                                    memory_mb=args.memory)
        except Exception as e:  # noqa: BLE001 - Gradescope still needs a results.json
            _gradescope_failure(args.results, f"The autograder failed ({type(e).__name__}: {e}); not a verdict "
                                              f"on your work.")
            raise

        print(f"gradcheck audit: {res.score:g} / {res.max_score:g} -> {args.results}", file=sys.stderr)
        return 1 if res.grader_error else 0
    results = runner.audit(assignment, args.submissions, args.out, jobs=args.jobs, timeout=args.timeout,
                           memory_mb=args.memory, progress=not args.quiet)
    failed = [r.name for r in results if r.grader_error]
    print(f"gradcheck audit: graded {len(results)} submissions -> {os.path.join(args.out, 'report.html')}",
          file=sys.stderr)
    if failed:
        print(f"gradcheck audit: the grader failed on {len(failed)} submission(s): {', '.join(failed[:10])}",
              file=sys.stderr)
        return 1
    return 0
