"""Throughput of `gradcheck audit`: N submissions per built-in assignment with --jobs 2.

    python benchmarks/bench_audit.py                       # mlp, layers and network, 200 each
    python benchmarks/bench_audit.py --assignment layers --n 200 --jobs 2
    python benchmarks/bench_audit.py --quick               # 20 each: a smoke test
    python benchmarks/bench_audit.py --seeds 10            # false failures and misses under 10 seeds

Copies the fixtures of each built-in round-robin into a temporary folder (honest styles,
planted bugs and stubs alike, each student in their own sandbox), runs the audit and
prints the wall-clock time.  Every copy of a fixture must get the same score (grading is
deterministic), or the run fails.  Targets on 2 cores: 200 mlp under 60 s, 200 layers
under 3 minutes.  Results go to benchmarks/results/audit[-quick].json.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from gradcheck.audit import cli  # noqa: E402

FIXTURES = os.path.join(ROOT, "tests", "audit_fixtures")
STYLES = {
    "mlp": ["correct_matrix", "correct_loops", "bug_missing_half", "bug_no_hidden_derivative"],
    "layers": ["layers_vectorized", "layers_loops", "layers_buggy", "layers_stub"],
    "network": ["network_book", "network_costs_vectorized", "network_loops", "network_bad_delta"],
}
TARGET_S = {"mlp": 60.0, "layers": 180.0, "network": 180.0}


def run(assignment: str, n: int, jobs: int, sandbox: str) -> dict:
    styles = STYLES[assignment]
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        subs = os.path.join(tmp, "submissions")
        for i in range(n):
            shutil.copytree(os.path.join(FIXTURES, styles[i % len(styles)]), os.path.join(subs, f"s{i:03d}"))
        out = os.path.join(tmp, "out")
        start = time.perf_counter()
        code = cli.main([subs, "--assignment", assignment, "--out", out, "--jobs", str(jobs), "--quiet",
                         "--sandbox", sandbox])
        seconds = time.perf_counter() - start
        scores = [json.load(open(os.path.join(out, f"s{i:03d}", "results.json")))["score"] for i in range(n)]
    by_style = {}
    for i, s in enumerate(scores):
        by_style.setdefault(styles[i % len(styles)], set()).add(s)
    deterministic = all(len(v) == 1 for v in by_style.values())
    return {"assignment": assignment, "n": n, "jobs": jobs, "sandbox": sandbox, "seconds": round(seconds, 2),
            "ms_per_submission": round(seconds / n * 1000, 1), "exit": code, "deterministic": deterministic,
            "scores": {k: sorted(v) for k, v in by_style.items()}, "target_s": TARGET_S[assignment]}


HONEST = {"layers": ["layers_vectorized", "layers_loops"],
          "network": ["network_book", "network_loops", "network_costs_vectorized"],
          "slides": ["slides_scalar", "slides_numpy"]}
BUGGY = {"layers_buggy": {"affine backward", "batchnorm forward", "batchnorm backward", "layernorm forward",
                          "dropout forward", "conv backward", "softmax_loss backward"},
         "network_bad_delta": {"backprop · net 3-4-2", "backprop · net 2-5-3-1", "QuadraticCost",
                               "backprop with QuadraticCost · net 2-5-3-1"},
         "slides_wrong_path": {"gradients"}}


def robustness(seeds: int) -> dict:
    """Each built-in under `seeds` assignment seeds: honest fixtures that lose points (false
    failures) and planted bugs whose checks pass or other checks fail (misses, stray failures)."""
    from gradcheck.audit import runner
    from gradcheck.audit.sandbox import Limits

    false_failures, misses, graded = [], [], 0
    for seed in range(seeds):
        for name, honest in HONEST.items():
            build = importlib.import_module(f"gradcheck.audit.contracts.{name}").build
            for f in honest + [b for b in BUGGY if b.split("_")[0] == name]:
                res = runner.grade_folder(build(seed=seed), os.path.join(FIXTURES, f), f, Limits(timeout=10))
                graded += 1
                failed = {t.name for t in res.tests if t.status == "failed"}
                if f in BUGGY and failed != BUGGY[f]:
                    misses.append((seed, f, sorted(failed ^ BUGGY[f])))
                elif f not in BUGGY and failed:
                    false_failures.append((seed, f, sorted(failed)))
    return {"seeds": seeds, "graded": graded, "false_failures": false_failures, "misses": misses}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--assignment", choices=["all", *STYLES], default="all")
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--sandbox", choices=("auto", "bwrap", "fallback"), default="auto")
    p.add_argument("--quick", action="store_true", help="20 submissions each (a smoke test, not a measurement)")
    p.add_argument("--seeds", type=int, metavar="S",
                   help="instead of timing: grade the honest and buggy fixtures of layers, network and slides under "
                        "S assignment seeds and count false failures and misses")
    args = p.parse_args(argv)
    if args.seeds:
        r = robustness(args.seeds)
        print(f"{r['graded']} gradings over {r['seeds']} seeds: {len(r['false_failures'])} false failures, "
              f"{len(r['misses'])} planted bugs missed or stray failures {r['false_failures'][:3]} {r['misses'][:3]}")
        with open(os.path.join(ROOT, "benchmarks", "results", "audit-robustness.json"), "w") as f:
            json.dump(r, f, indent=2)
            f.write("\n")
        return 0 if not r["false_failures"] and not r["misses"] else 1
    n = 20 if args.quick else args.n
    names = list(STYLES) if args.assignment == "all" else [args.assignment]
    rows = []
    for name in names:
        r = run(name, n, args.jobs, args.sandbox)
        rows.append(r)
        verdict = "within" if r["seconds"] < r["target_s"] * n / 200 else "over"
        print(f"gradcheck audit --assignment {name}: {n} submissions, --jobs {args.jobs}: {r['seconds']:.1f} s "
              f"({r['ms_per_submission']:.0f} ms each; {verdict} the target of {r['target_s'] * n / 200:.0f} s); "
              f"scores per fixture {r['scores']}; deterministic: {r['deterministic']}; exit {r['exit']}")
    out = os.path.join(ROOT, "benchmarks", "results", f"audit{'-quick' if args.quick else ''}.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump({"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                               "platform": platform.platform()},
                   "command": " ".join(["python benchmarks/bench_audit.py", *(argv if argv is not None
                                                                              else sys.argv[1:])]),
                   "runs": rows}, f, indent=2)
        f.write("\n")
    return 0 if all(r["exit"] == 0 and r["deterministic"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
