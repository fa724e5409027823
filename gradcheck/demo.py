"""``gradcheck demo``: the product at work on what ships with it, in a new folder the user can look into.

It copies the bundled examples (``gradcheck.examples``: a numpy layer library with its gradient tests, one
backward pass wrong on purpose, and a class of five ``mlp`` submissions), runs ``pytest --gradcheck`` on the
first and ``gradcheck audit`` on the second, and says where the JSON report and the HTML class report are.
"""
from __future__ import annotations

import csv
import importlib.resources
import os
import shutil
import subprocess
import sys
import tempfile

_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "__init__.py")


def examples_folder() -> str:
    """Where the bundled examples are (inside the installed package)."""
    return str(importlib.resources.files("gradcheck.examples"))


def _summary_section(output: str) -> list[str]:
    """The lines of pytest's gradcheck summary section (the table and the count line)."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if "gradcheck summary" in line), None)
    if start is None:
        return lines[-15:]
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith(("gradcheck report", "="))),
               len(lines))
    return lines[start + 1:end]


def run(out: str | None = None) -> int:
    """Run both parts of the demo in ``out`` (a new temporary folder by default); 0 when both ran."""
    source = examples_folder()
    work = os.path.abspath(out) if out else tempfile.mkdtemp(prefix="gradcheck-demo-")
    if os.path.exists(work) and os.listdir(work):
        print(f"gradcheck demo: {work} is not empty; give an empty or new folder", file=sys.stderr)
        return 2
    layers, klass, graded = (os.path.join(work, n) for n in ("layers", "class", "graded"))
    shutil.copytree(os.path.join(source, "layers"), layers, ignore=_IGNORE, dirs_exist_ok=True)
    shutil.copytree(os.path.join(source, "class"), klass, ignore=_IGNORE, dirs_exist_ok=True)
    env = dict(os.environ, COLUMNS=os.environ.get("COLUMNS", "100"))
    env.pop("PYTEST_ADDOPTS", None)

    print(f"gradcheck demo, in {work}\n")
    print("1. pytest --gradcheck on a small numpy layer library (layers/; softmax_loss is wrong on purpose)")
    report = os.path.join(layers, "gradcheck-report.json")
    tests = subprocess.run([sys.executable, "-m", "pytest", "--gradcheck", f"--gradcheck-report={report}",
                            "--tb=no", "-p", "no:cacheprovider", "-p", "no:randomly"],
                           cwd=layers, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in _summary_section(tests.stdout):
        print("   " + line)
    print(f"   JSON report: {report}\n")

    print("2. gradcheck audit on a class of five submissions of the built-in mlp assignment (class/)")
    audit = subprocess.run([sys.executable, "-m", "gradcheck", "audit", klass, "--assignment", "mlp",
                            "--out", graded, "--quiet"],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    summary = os.path.join(graded, "summary.csv")
    if audit.returncode != 0 or not os.path.exists(summary):
        print(audit.stdout)
        print("gradcheck demo: the audit did not finish (see above)", file=sys.stderr)
        return 1
    with open(summary, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            print(f"   {row['name']:<6} {float(row['score']):g} / {float(row['max_score']):g}")
    print(f"   HTML class report: {os.path.join(graded, 'report.html')}")
    print(f"   per student: {os.path.join(graded, '<name>', 'feedback.html')} and results.json (Gradescope's format)")
    if tests.returncode not in (0, 1):    # 1: the deliberate failure
        print(tests.stdout)
        print("gradcheck demo: pytest did not run the tests (see above)", file=sys.stderr)
        return 1
    return 0
