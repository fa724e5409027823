"""pytest start-up time with and without the gradcheck plugin, and a numpy user's first check.

Runs ``python -m pytest --co -q`` on a tiny generated test directory N times
in each configuration (the plugin loaded through its entry point, and
``-p no:gradcheck``), interleaved, and prints the median and spread as a
markdown table, plus whether jax or gradcheck got imported at start-up.

Then the first check of a numpy user in a fresh process: ``import gradcheck``
and one assert_grads_match on a small numpy MLP, timed inside the process
(interpreter start and numpy's import excluded), with and without jax imported beforehand by
the user's own code (what a numpy user would pay if the check imported it).

    python benchmarks/bench_startup.py [--repeat 15]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

TEST_FILE = '''
import pytest


@pytest.mark.gradcheck
def test_marked(gradcheck):
    pass


def test_plain():
    pass
'''

CONFTEST = '''
import sys


def pytest_collection_finish(session):
    print("IMPORTED", ",".join(m for m in ("jax", "gradcheck", "numpy") if m in sys.modules) or "-")
'''

CONFIGS = {
    "with gradcheck plugin": [],
    "without (-p no:gradcheck)": ["-p", "no:gradcheck"],
}


def run_once(directory: str, extra: list) -> tuple[float, str]:
    cmd = [sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider", *extra]
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=directory, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    imported = next((line.split(None, 1)[1] for line in out.stdout.splitlines() if line.startswith("IMPORTED")),
                    "?")
    return elapsed, imported


def plugin_import_us() -> int:
    """Cumulative import time of gradcheck_pytest alone (pytest already imported), from -X importtime."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import pytest; import gradcheck_pytest"],
                         capture_output=True, text=True, check=True)
    for line in out.stderr.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[2] == "gradcheck_pytest":
            return int(parts[1])
    return -1


FIRST_CHECK = '''
import sys, time
{pre}
start = time.perf_counter()
import numpy as np
import gradcheck as gc
rng = np.random.default_rng(0)
x, t = rng.standard_normal((8, 4)), rng.standard_normal((8, 3))
p = {{"W1": rng.standard_normal((4, 6)), "W2": rng.standard_normal((6, 3))}}
def f(q):
    return 0.5 * float(np.sum((np.tanh(x @ q["W1"]) @ q["W2"] - t) ** 2))
def g(q):
    h = np.tanh(x @ q["W1"]); d = h @ q["W2"] - t
    return {{"W1": x.T @ ((d @ q["W2"].T) * (1 - h ** 2)), "W2": h.T @ d}}
gc.assert_grads_match(f, p, g)
print(time.perf_counter() - start, "jax" in sys.modules)
'''

FIRST_CONFIGS = {
    "numpy user (jax never imported)": "import numpy",
    "same, jax imported first by the user (its import not timed)": "import numpy, jax",
}


def first_check(repeat: int) -> None:
    times = {name: [] for name in FIRST_CONFIGS}
    jax_seen = {}
    for _ in range(repeat):
        for name, pre in FIRST_CONFIGS.items():
            out = subprocess.run([sys.executable, "-c", FIRST_CHECK.format(pre=pre)], capture_output=True,
                                 text=True, check=True)
            secs, seen = out.stdout.split()
            times[name].append(float(secs))
            jax_seen[name] = seen
    print(f"\nFirst check in a fresh process (`import gradcheck` + one assert_grads_match, 42-parameter numpy "
          f"MLP, default mode), {repeat} runs each\n")
    print("| configuration | median (ms) | min (ms) | max (ms) | jax in sys.modules after |")
    print("|---|---:|---:|---:|---|")
    for name, ts in times.items():
        print(f"| {name} | {statistics.median(ts) * 1e3:.0f} | {min(ts) * 1e3:.0f} | {max(ts) * 1e3:.0f} | "
              f"{jax_seen[name]} |")
    jax_import = sorted(_jax_import_s() for _ in range(3))[1]
    print(f"\nImporting jax itself costs {jax_import * 1e3:.0f} ms here (median of 3), which the numpy user no "
          f"longer pays.")


def _jax_import_s() -> float:
    out = subprocess.run([sys.executable, "-c", "import time; s = time.perf_counter(); import jax; "
                          "print(time.perf_counter() - s)"], capture_output=True, text=True, check=True)
    return float(out.stdout)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="runs per configuration (default 15)")
    parser.add_argument("--first-check-only", action="store_true", help="only the numpy user's first check")
    args = parser.parse_args(argv)
    if args.first_check_only:
        first_check(args.repeat)
        return 0
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "test_tiny.py"), "w") as fh:
            fh.write(TEST_FILE)
        with open(os.path.join(d, "conftest.py"), "w") as fh:
            fh.write(CONFTEST)
        with open(os.path.join(d, "pytest.ini"), "w") as fh:   # keeps the tiny dir its own rootdir
            fh.write("[pytest]\nmarkers =\n    gradcheck: registered here too, for -p no:gradcheck\n")
        times = {name: [] for name in CONFIGS}
        imported = {}
        run_once(d, [])                                         # warm the file cache
        for _ in range(args.repeat):
            for name, extra in CONFIGS.items():                 # interleaved: drift hits both alike
                t, mods = run_once(d, extra)
                times[name].append(t)
                imported[name] = mods
    base = statistics.median(times["without (-p no:gradcheck)"])
    print(f"pytest start-up (`python -m pytest --co -q` on 2 tests), {args.repeat} runs each, "
          f"Python {sys.version.split()[0]}\n")
    print("| configuration | median (ms) | min (ms) | max (ms) | vs without | imported at start-up |")
    print("|---|---:|---:|---:|---:|---|")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"| {name} | {med * 1e3:.0f} | {min(ts) * 1e3:.0f} | {max(ts) * 1e3:.0f} | "
              f"{(med - base) * 1e3:+.0f} ms | {imported[name]} |")
    imports = sorted(plugin_import_us() for _ in range(5))
    print(f"\nImporting the plugin module itself (pytest already loaded): median {imports[2] / 1e3:.1f} ms "
          f"(python -X importtime, 5 runs).")
    first_check(args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
