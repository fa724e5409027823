"""The README's promises: its example fails with the message it shows; CI runs its commands."""
from __future__ import annotations

import pathlib
import re

import pytest

import gradcheck as gc

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_example_fails_with_the_message_shown():
    example = re.findall(r"```python\n(.*?)```", README, re.S)[0]
    shown = README.split("```text\n", 1)[1].split("```", 1)[0]
    with pytest.raises(gc.GradientMismatch) as info:
        exec(compile(example, "README example", "exec"), {})
    message = str(info.value)
    for line in shown.splitlines()[1:]:          # the header holds a timing
        assert line in message
    header = shown.splitlines()[0].removeprefix("gradcheck.errors.GradientMismatch: ")
    assert message.startswith(header.split(", 0.")[0])  # the same up to the timing


def test_ci_runs_the_readme_commands():
    setup = README.split("## Set-up", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    install = next(line for line in setup if line.startswith("pip install"))
    test = next(line for line in setup if line.startswith("pytest"))
    ci = (ROOT / ".ci" / "run").read_text()
    assert install in ci.splitlines() and test in ci.splitlines()
