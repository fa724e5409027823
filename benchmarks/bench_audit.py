"""Throughput of `gradcheck audit`: N correct submissions (default 200) with --jobs 2.

    python benchmarks/bench_audit.py [--n 200] [--jobs 2]

Copies tests/audit_fixtures/correct_{matrix,loops,float32} round-robin into a temporary
folder, runs the audit (all four mlp networks x forward/backward/jacobian per submission,
one sandboxed child each) and prints the wall-clock time.  Target: under 60 s on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from gradcheck.audit import cli  # noqa: E402

STYLES = ["correct_matrix", "correct_loops", "correct_float32"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        subs = os.path.join(tmp, "submissions")
        for i in range(args.n):
            style = STYLES[i % len(STYLES)]
            shutil.copytree(os.path.join(ROOT, "tests", "audit_fixtures", style), os.path.join(subs, f"s{i:03d}"))
        out = os.path.join(tmp, "out")
        start = time.perf_counter()
        code = cli.main([subs, "--assignment", "mlp", "--out", out, "--jobs", str(args.jobs)])
        seconds = time.perf_counter() - start
        scores = [json.load(open(os.path.join(out, f"s{i:03d}", "results.json")))["score"] for i in range(args.n)]
    full = sum(s == 100 for s in scores)
    print(f"gradcheck audit: {args.n} correct submissions, --jobs {args.jobs}: {seconds:.1f} s "
          f"({seconds / args.n * 1000:.0f} ms per submission); {full}/{args.n} full marks; exit {code}")
    return 0 if code == 0 and full == args.n else 1


if __name__ == "__main__":
    sys.exit(main())
