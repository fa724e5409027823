"""Every fenced block of README.md and docs/*.md runs as printed, and shown output is compared.

sybil finds the blocks; the evaluators below say what each language tag means: ``python`` runs (a block
that starts with ``>>>`` is a doctest), ``console`` runs its ``$`` lines and compares their output, ``bash``
runs, ``LANG file=NAME`` writes NAME for later blocks, ``toml``/``json`` must parse, ``text`` needs a skip
marker with a reason (``<!-- skip: next "why" -->``), and ``<!-- invisible-code-block: python ... -->`` runs
code a reader need not see (e.g. calling a test a block defines).  Shown output is compared after
``normalize`` (times, machine-specific pytest header lines, the working folder's path, runs of spaces);
``...`` alone on a line matches any lines, inside a line any text.  One test per page: a page's blocks share
one namespace and one fresh working folder (the cwd), which starts with a copy of examples/.
"""
from __future__ import annotations

import doctest
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import unittest

try:
    import tomllib
except ImportError:   # Python 3.10: pytest brings tomli
    import tomli as tomllib

import pytest
from sybil import Document
from sybil.evaluators.doctest import DocTestEvaluator, OutputChecker
from sybil.evaluators.skip import Skipper
from sybil.parsers.markdown import CodeBlockParser, PythonCodeBlockParser, SkipParser
from sybil.parsers.markdown.lexers import FencedCodeBlockLexer

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
KNOWN = {"python", "console", "bash", "toml", "json", "text"}

_TIME = re.compile(r"(?<![\w.])\d+(\.\d+)?\s?(ms|s)\b")
_VOLATILE = re.compile(r"^(platform |rootdir: |configfile: |plugins: |cachedir)")


def normalize(text: str, workdir: str = "") -> str:
    """The text with what legitimately varies between runs made equal (times, machine lines, paths)."""
    if workdir:
        text = text.replace(workdir, "/path/to/project")
    lines = []
    for line in text.splitlines():
        if _VOLATILE.match(line.strip()):
            continue
        line = _TIME.sub("<time>", line)
        line = re.sub(r"={3,}", "==", re.sub(r"_{3,}", "__", line))
        line = re.sub(r"\s+", " ", line).strip()
        lines.append(line)
    return "\n".join(lines).strip("\n")


def matches(shown: str, actual: str) -> bool:
    """Line-wise: '...' alone matches any number of lines, '...' inside a line any text."""
    if not shown.strip():
        return not actual.strip()  # a statement that prints nothing (>>> import torch)
    pattern = []
    for line in shown.splitlines():
        if line == "...":
            pattern.append(r"(?:[^\n]*\n)*?")
        else:
            pattern.append(".*?".join(re.escape(part) for part in line.split("...")) + r"\n")
    return re.fullmatch("".join(pattern), actual + "\n", re.S) is not None


class _Checker(OutputChecker):
    def __init__(self, workdir: str):
        super().__init__()
        self.workdir = workdir

    def check_output(self, want, got, optionflags):
        return matches(normalize(want, self.workdir), normalize(got, self.workdir))


def _environment() -> dict:
    env = dict(os.environ, COLUMNS="80", NO_COLOR="1", PY_COLORS="0")
    # the commands as printed, without hypothesis's pytest plugin: it prints nothing in these examples, but its
    # end-of-run summary imports all of hypothesis, half a second per pytest run
    env["PYTEST_ADDOPTS"] = "-p no:hypothesispytest"
    env.pop("PYTEST_XDIST_WORKER", None)
    env["PATH"] = os.pathsep.join([str(pathlib.Path(sys.executable).parent), env.get("PATH", "")])
    return env


def _run_console(example) -> None:
    """Run each '$ command' and compare what it printed with the lines shown under it."""
    workdir = os.getcwd()
    commands: list[tuple[str, list[str]]] = []
    for line in example.parsed.splitlines():
        if line.startswith("$ "):
            commands.append((line[2:], []))
        elif commands:
            commands[-1][1].append(line)
        elif line.strip():
            raise AssertionError(f"console block must start with '$ ': {line!r}")
    for command, shown in commands:
        done = subprocess.run(["bash", "-c", command], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, env=_environment(), timeout=300)
        want = normalize("\n".join(shown), workdir)
        got = normalize(done.stdout, workdir)
        if not want:
            assert done.returncode == 0, f"$ {command}\nexited {done.returncode}:\n{done.stdout}"
        elif not matches(want, got):
            raise AssertionError(f"$ {command}\n--- shown (normalized)\n{want}\n--- printed (normalized)\n{got}")


def _run_bash(example) -> None:
    done = subprocess.run(["bash", "-c", "set -euo pipefail\n" + example.parsed], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, env=_environment(), timeout=300)
    assert done.returncode == 0, f"bash block exited {done.returncode}:\n{done.stdout}"


def _parse_toml(example) -> None:
    tomllib.loads(example.parsed)


def _parse_json(example) -> None:
    json.loads(example.parsed)


def _refuse_text(example) -> None:
    raise AssertionError("a ```text block runs nowhere: show output as a doctest or a console block, "
                         "or put <!-- skip: next \"reason\" --> before it")


class _FileParser:
    """```LANG file=NAME: the block is written to NAME in the working folder, not run."""

    def __init__(self):
        self.lexer = FencedCodeBlockLexer(language=r".+", mapping={"language": "arguments", "source": "source"})

    def __call__(self, document):
        for region in self.lexer(document):
            match = re.fullmatch(r"\S+\s+file=(\S+)", region.lexemes["arguments"].strip())
            if match:
                region.parsed = (match.group(1), str(region.lexemes["source"]))
                region.evaluator = _write_file
                yield region


def _write_file(example) -> None:
    name, text = example.parsed
    path = pathlib.Path(name)
    assert not path.is_absolute() and ".." not in path.parts, f"file={name} must be a relative path inside the page"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _parsers(workdir: str):
    python = PythonCodeBlockParser(doctest_optionflags=doctest.ELLIPSIS)
    python.doctest_parser.evaluator = DocTestEvaluator(doctest.ELLIPSIS)
    python.doctest_parser.evaluator.runner._checker = _Checker(workdir)   # doctest's only hook for a checker
    return [SkipParser(), python, _FileParser(), CodeBlockParser("console", _run_console),
            CodeBlockParser("bash", _run_bash), CodeBlockParser("toml", _parse_toml),
            CodeBlockParser("json", _parse_json), CodeBlockParser("text", _refuse_text)]


def _fences(path: pathlib.Path) -> list[tuple[int, str]]:
    document = Document(path.read_text(encoding="utf-8"), str(path))
    lexer = FencedCodeBlockLexer(language=r".*", mapping={"language": "arguments"})
    return [(document.line_column(r.start), r.lexemes["arguments"].strip()) for r in lexer(document)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_block_has_a_known_language(page):
    for where, info in _fences(page):
        language = info.split()[0] if info else ""
        assert language in KNOWN or re.fullmatch(r"\S+\s+file=\S+", info), (
            f"{page.name}, {where}: fenced block with language {info!r}; use one of {sorted(KNOWN)} "
            f"or 'LANG file=NAME' (see the docs conventions in tests/test_docs.py)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_page_runs_as_printed(page, tmp_path, monkeypatch):
    workdir = tmp_path / "project"
    shutil.copytree(ROOT / "examples", workdir / "examples",
                    ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "*.pyc"))
    monkeypatch.chdir(workdir)
    monkeypatch.syspath_prepend(str(workdir))
    document = Document.parse(str(page), *_parsers(str(workdir)))
    skipped = []
    for example in document:
        if isinstance(example.region.evaluator, Skipper) and example.parsed[0] in ("next", "start"):
            assert example.parsed[1], f"{page.name}, {example.line}: a skip needs a reason: <!-- skip: next \"why\" -->"
        try:
            example.evaluate()
        except unittest.SkipTest as reason:
            skipped.append(f"line {example.line}: {reason}")
    if skipped:
        print(f"{page.name}: skipped blocks:\n  " + "\n  ".join(skipped))


def test_the_comparison_is_strict_where_it_should_be():
    """The docs test must be able to fail: only times, machine lines, paths and spacing are forgiven."""
    shown = "FAILED  t.py::a   1   20  4.0e+00  full   130  0.01s\n2 gradient checks: 1 passed, 1 failed"
    printed = "FAILED t.py::a 1 20 4.0e+00 full 130 12.34s\n2 gradient checks: 1 passed, 1 failed"
    assert matches(normalize(shown), normalize(printed))
    assert not matches(normalize(shown), normalize(printed.replace("130", "131")))      # a number changed
    assert not matches(normalize(shown), normalize(printed + "\nan extra line"))        # output added
    assert not matches(normalize(shown), normalize(printed.split("\n")[0]))              # output lost
    assert matches("a\n...\nz", "a\nb\nc\nz") and matches("a\n...\nz", "a\nz")
    assert matches("worst ... here", "worst at [1, 0] here") and not matches("worst ... here", "best at here")
    assert normalize("rootdir: /x\nplatform linux\nok in 1.5s", "/x") == "ok in <time>"
    assert normalize("/tmp/abc/demo/report.html", "/tmp/abc") == "/path/to/project/demo/report.html"
