"""The gradcheck command: --version, usage errors, and file problems as one line naming the path."""
from __future__ import annotations

import subprocess
import sys

import pytest

from gradcheck import cli


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "gradcheck", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def test_version_prints_the_installed_version():
    from importlib.metadata import version

    done = _run("--version")
    assert (done.returncode, done.stdout.strip()) == (0, f"gradcheck {version('gradcheck')}")


def test_no_command_prints_help_and_exits_2(capsys):
    assert cli.main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: gradcheck") and "demo" in err and "audit" in err


def test_help_exits_0_and_unknown_command_exits_2(capsys):
    assert cli.main(["--help"]) == 0
    assert "commands:" in capsys.readouterr().out
    assert cli.main(["grade"]) == 2
    assert "unknown command 'grade'" in capsys.readouterr().err


def test_a_file_problem_is_one_line_naming_the_path(tmp_path):
    pytest.importorskip("matplotlib", reason="the plot needs the plot extra (part of dev)")
    target = tmp_path / "no" / "such" / "folder" / "plot.png"
    done = _run("vanishing", "--depth", "2", "--width", "2", "--activations", "relu", "--plot", str(target))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].endswith(str(target)) or str(target.parent) in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_demo_refuses_a_folder_that_is_not_empty(tmp_path, capsys):
    (tmp_path / "mine.txt").write_text("keep me")
    assert cli.main(["demo", "--out", str(tmp_path)]) == 2
    assert "is not empty" in capsys.readouterr().err
    assert (tmp_path / "mine.txt").read_text() == "keep me"
