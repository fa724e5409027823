"""The built wheel, installed without extras into a fresh virtual environment, gives numpy checks and
``pytest --gradcheck``, ships the examples, and puts nothing generic at the top of site-packages.

Dependencies (numpy, pytest, hypothesis) come from PyPI through pip's cache, so a warm run is quick.
"""
from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
import textwrap
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

CHECK = textwrap.dedent('''
    import importlib.resources, importlib.util, sys
    import numpy as np
    import gradcheck
    from gradcheck import GradientMismatch, assert_grads_match

    x = np.linspace(-1.0, 1.0, 5)
    assert_grads_match(lambda w: float(np.sum(np.tanh(w * x))), np.full(5, 0.3), lambda w: x * (1 - np.tanh(w * x) ** 2))
    try:
        assert_grads_match(lambda w: float(np.sum(w ** 2)), np.ones(3), lambda w: w)
    except GradientMismatch as exc:
        assert str(exc).startswith("Gradients do not match"), str(exc)
    else:
        raise SystemExit("a wrong gradient passed")
    from gradcheck import reference_nets
    assert (importlib.resources.files("gradcheck.examples") / "layers" / "test_layers.py").is_file()
    generic = [m for m in ("reference_nets", "pytest_plugin", "examples") if importlib.util.find_spec(m)]
    assert not generic, generic
    assert importlib.util.find_spec("jax") is None and "jax" not in sys.modules
    try:
        gradcheck.grads_report(lambda w: float(np.sum(w ** 2)), np.ones(3), lambda w: 2 * w, oracle="jax")
    except gradcheck.errors.GradcheckUsageError as exc:
        assert "pip install 'gradcheck[jax]'" in str(exc), str(exc)
    else:
        raise SystemExit("oracle='jax' without jax gave no error")
    print("NUMPY CHECKS OK")
''')

TEST_FILE = textwrap.dedent('''
    import numpy as np
    import pytest

    @pytest.mark.gradcheck
    def test_square(gradcheck):
        gradcheck.assert_grads_match(lambda w: float(np.sum(w ** 3)), np.arange(3.0), lambda w: 3 * w ** 2)
''')


def _run(args, **kwargs):
    # umask 022 as a fresh shell has it: the venv must be readable by the sandbox's private uid, whatever
    # an earlier test in this process left behind
    done = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600,
                          umask=0o022, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, args))} exited {done.returncode}:\n{done.stdout[-4000:]}"
    return done.stdout


@pytest.fixture
def wheel(tmp_path_factory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("dist")
    build = tmp_path_factory.mktemp("build")
    # build from a copy: setuptools writes build/ and *.egg-info next to the sources
    src = build / "src"
    files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           stdout=subprocess.PIPE, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            target = src / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
    # with the running environment's setuptools (>= 77, from the dev extra): an isolated build would fetch its own
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(src)])
    assert not re.search(r"\w+Warning:", built), built   # e.g. setuptools' warning of folders left out of the packages
    (found,) = out.glob("gradcheck-*.whl")
    return found


def _check_wheel_contents(wheel):
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"gradcheck", "gradcheck_pytest"}
    names = zipfile.ZipFile(wheel).namelist()
    assert "gradcheck/reference_nets/__init__.py" in names
    assert "gradcheck/examples/layers/test_layers.py" in names
    assert any(n.startswith("gradcheck/examples/class/") and n.endswith("backprop.py") for n in names)
    packages = {str(p.parent.relative_to(ROOT)).replace(os.sep, "/") for p in (ROOT / "gradcheck").rglob("__init__.py")}
    missing = [p for p in packages if f"{p}/__init__.py" not in names]
    assert not missing, f"packages not in the wheel (add them to pyproject.toml's package list): {missing}"
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[pytest11]\ngradcheck = gradcheck_pytest" in text


def test_wheel_without_extras_gives_numpy_checks_and_the_plugin(wheel, tmp_path):
    """One test (the wheel is built once even under xdist): its contents, then a fresh venv without extras."""
    _check_wheel_contents(wheel)
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    # the running pip installs into the new environment (pip >= 22.3), reusing its cache
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--disable-pip-version-check",
          "--no-compile", str(wheel)])
    # as on a fresh machine: none of this session's Python settings, and bytecode cached (inside tmp_path's venv)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "PYTHONDONTWRITEBYTECODE")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    work = tmp_path / "work"
    work.mkdir()
    assert "NUMPY CHECKS OK" in _run([str(python), "-c", CHECK], cwd=work, env=env)
    (work / "test_square.py").write_text(TEST_FILE)
    out = _run([str(python), "-m", "pytest", "--gradcheck", "-p", "no:cacheprovider", "test_square.py"],
               cwd=work, env=env)
    assert "gradcheck: seed=0, enabled" in out and "1 passed" in out
    assert "1 gradient check: 1 passed, 0 failed" in out
    assert _run([str(venv / "bin" / "gradcheck"), "--version"], cwd=work, env=env).startswith("gradcheck ")
    demo = _run([str(venv / "bin" / "gradcheck"), "demo", "--out", str(work / "demo")], cwd=work, env=env)
    assert "5 gradient checks: 4 passed, 1 failed" in demo, demo
    assert (work / "demo" / "layers" / "gradcheck-report.json").is_file()
    assert (work / "demo" / "graded" / "report.html").is_file()
    if "ada    100 / 100" not in demo:   # say why: the first check's feedback of the honest submission
        import json
        results = json.loads((work / "demo" / "graded" / "ada" / "results.json").read_text())
        raise AssertionError(demo + "\nada's first check: " + results["tests"][0]["output"])
    assert "eve    40 / 100" in demo, demo
