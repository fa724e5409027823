"""What the sandbox costs per submission, bubblewrap against the fallback, and whether a class still fits.

    python benchmarks/bench_sandbox.py            # 50 sandbox lifecycles per engine, then 200 mlp with --jobs 2
    python benchmarks/bench_sandbox.py --quick    # 10 lifecycles, 40 mlp: a smoke test, not a measurement

Part 1, one lifecycle: the bounded private copy of a one-file submission, the child's start
(namespaces, tmpfs mounts, cgroup, uid drop, numpy import), the module's import, one call,
the kill and the cleanup; the median over repeats, per engine, next to a bare
``python -c "import numpy"`` for scale.  Part 2 runs benchmarks/bench_audit.py's mlp class
(200 submissions, --jobs 2) once per engine; the target is under 60 s on 2 cores.  Results
go to benchmarks/results/sandbox[-quick].json.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks import bench_audit  # noqa: E402
from benchmarks.common import command_line, machine, machine_md, md_table  # noqa: E402
from gradcheck.audit import engine  # noqa: E402
from gradcheck.audit.sandbox import Limits, Sandbox  # noqa: E402

SUBMISSION = os.path.join(ROOT, "tests", "audit_fixtures", "correct_matrix")


def engines() -> list:
    """The engines this machine can run (the fallback only protects as root)."""
    found = []
    if engine.bwrap_problem(engine.bwrap_binary(), os.geteuid()) is None:
        found.append("bwrap")
    if os.geteuid() == 0:
        found.append("fallback")
    return found


def lifecycle(name: str) -> float:
    import numpy as np

    params = {"W1": np.ones((2, 3)), "b1": np.zeros(3), "W2": np.ones((3, 1)), "b2": np.zeros(1)}
    start = time.perf_counter()
    with Sandbox(SUBMISSION, "backprop", limits=Limits(timeout=30), engine=name) as sb:
        out = sb.call("forward", params, np.ones((4, 2)))
    seconds = time.perf_counter() - start
    if not out.ok:
        raise RuntimeError(f"{name}: the honest submission failed in the sandbox: {out.message}")
    return seconds


def bare_python() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-I", "-c", "import numpy"], check=True)
    return time.perf_counter() - start


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=50)
    p.add_argument("--n", type=int, default=200, help="mlp submissions in part 2")
    p.add_argument("--quick", action="store_true", help="10 lifecycles and 40 submissions: a smoke test")
    args = p.parse_args(argv)
    repeats, n = (10, 40) if args.quick else (args.repeats, args.n)
    names = engines()
    if not names:
        print("no sandbox engine that protects the grader runs here (no bubblewrap, not root)")
        return 1
    rows, runs = [], []
    base = statistics.median(bare_python() for _ in range(repeats))
    for name in names:
        lifecycle(name)  # warm the page cache
        times = [lifecycle(name) for _ in range(repeats)]
        med = statistics.median(times)
        p90 = sorted(times)[int(0.9 * (len(times) - 1))]
        rows.append({"engine": name, "median_ms": round(med * 1000, 1), "p90_ms": round(p90 * 1000, 1),
                     "over_bare_python_ms": round((med - base) * 1000, 1)})
    for name in names:
        runs.append(bench_audit.run("mlp", n, 2, name))
    print(f"bare `python -I -c 'import numpy'`: {base * 1000:.0f} ms (median of {repeats})\n")
    print(md_table(["engine", "one sandbox lifecycle (median)", "90th percentile", "more than bare python"],
                   [[r["engine"], f"{r['median_ms']:.0f} ms", f"{r['p90_ms']:.0f} ms",
                     f"{r['over_bare_python_ms']:+.0f} ms"] for r in rows]))
    print()
    target = 60.0 * n / 200
    print(md_table(["engine", f"{n} mlp submissions, --jobs 2", "per submission", f"target (< {target:.0f} s)"],
                   [[r["sandbox"], f"{r['seconds']:.1f} s", f"{r['ms_per_submission']:.0f} ms",
                     "yes" if r["seconds"] < target and r["exit"] == 0 and r["deterministic"] else "no"]
                    for r in runs]))
    info = machine()
    print("\n" + machine_md(info))
    out = os.path.join(ROOT, "benchmarks", "results", f"sandbox{'-quick' if args.quick else ''}.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump({"machine": info, "command": command_line(), "bare_python_ms": round(base * 1000, 1),
                   "lifecycles": rows, "classes": runs}, f, indent=2)
        f.write("\n")
    return 0 if all(r["exit"] == 0 and r["deterministic"] and r["seconds"] < target for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
