"""The README's promises beyond its code blocks (those run in tests/test_docs.py): CI runs its set-up
commands, it stays a front door, and it cites nothing a reader of the repository does not have."""
from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _fenced_lines(text: str) -> list[str]:
    return [line for block in re.findall(r"```[^\n]*\n(.*?)```", text, re.S) for line in block.splitlines()]


def test_ci_runs_the_readmes_first_install_and_test_commands():
    lines = _fenced_lines(README)
    install = next(line for line in lines if line.startswith("pip install"))
    test = next(line for line in lines if line.startswith("pytest"))
    assert (install, test) == ("pip install -e '.[dev]'", "pytest")
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert install in ci and test in ci


def test_readme_is_short_and_readme_and_index_link_every_docs_page():
    assert len(README.splitlines()) <= 200
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    for page in sorted((ROOT / "docs").glob("*.md")):
        if page.name != "index.md":
            assert f"(docs/{page.name})" in README, f"README does not link docs/{page.name}"
            assert f"]({page.name})" in index, f"docs/index.md does not link {page.name}"


def test_every_relative_link_in_readme_and_docs_resolves():
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if "://" in target:
                continue
            assert (page.parent / target).exists(), f"{page.name}: broken link {target}"


_UNAVAILABLE = [r"document 00\d", r"the issue\b", r"course notes", r"shared/seeds", r"issue #?\d",
                r"\bMET\b", r"\bMISSED\b"]


def test_nothing_cites_what_a_reader_does_not_have():
    """Sources are cited by title and section (docs/references.md), never by file numbers or issue numbers."""
    folders = ["gradcheck", "reference_nets", "pytest_plugin", "examples", "tests", "benchmarks", "docs"]
    files = [ROOT / "README.md"] + [p for f in folders for p in (ROOT / f).rglob("*")
                                    if p.suffix in (".py", ".md", ".json", ".toml") and p.is_file()
                                    and p != pathlib.Path(__file__).resolve()]
    found = []
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        for pattern in _UNAVAILABLE:
            for m in re.finditer(pattern, text, re.I if pattern.islower() else 0):
                line = text.count("\n", 0, m.start()) + 1
                found.append(f"{path.relative_to(ROOT)}:{line}: {m.group()}")
    assert not found, "\n".join(found)
