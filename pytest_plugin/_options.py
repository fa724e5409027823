"""Command-line options, ini keys and marker keywords: declared, read and checked here.

Only the standard library is imported: loading the plugin must not import
gradcheck (numpy) or jax. The few names the library also defines (ORACLES,
MODES, MARKER_KEYS) are checked against it by tests/test_plugin.py.

Precedence: command line > ini (``[tool.pytest.ini_options]``) > library
defaults; a test's ``@pytest.mark.gradcheck(...)`` keywords override the
session, and explicit call arguments override both.
"""
from __future__ import annotations

import math
import os
from typing import NamedTuple

import pytest

ORACLES = ("auto", "fd", "jax", "both")
MODES = ("auto", "fast", "full")
MARKER_KEYS = ("oracle", "mode", "rtol", "atol", "seed", "directions")
DEFAULT_SEED = 0  # the library's default; shown in the report header

ENABLE_HINT = ("run pytest with --gradcheck (or set gradcheck = true in [tool.pytest.ini_options]) "
               "to run tests marked gradcheck")


class BadValue(ValueError):
    """A value that does not fit; the caller adds where it came from."""


def _number(value, what: str) -> float:
    if isinstance(value, bool):
        raise BadValue(f"expected {what}, got a bool")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise BadValue(f"expected {what}") from None
    if not (math.isfinite(x) and x >= 0):
        raise BadValue(f"expected {what}")
    return x


def parse_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise BadValue("expected true or false")


def parse_tol(value) -> float:
    return _number(value, "a finite number >= 0, such as 1e-5")


def parse_seed(value) -> int:
    if isinstance(value, bool):
        raise BadValue("expected an int >= 0, got a bool")
    if isinstance(value, int):
        x = value
    elif isinstance(value, str):
        try:
            x = int(value.strip())
        except ValueError:
            raise BadValue("expected an int >= 0, such as 1234") from None
    else:
        raise BadValue("expected an int >= 0, such as 1234")
    if x < 0:
        raise BadValue("expected an int >= 0, such as 1234")
    return x


def parse_oracle(value) -> str:
    if value not in ORACLES:
        raise BadValue(f"choose one of {', '.join(ORACLES)}")
    return value


def parse_mode(value) -> str:
    if value not in MODES:
        raise BadValue(f"choose one of {', '.join(MODES)}")
    return value


def parse_directions(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadValue("expected an int >= 1")
    return value


def parse_report(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadValue("expected a file path, such as gradcheck-report.json")
    if os.path.isdir(value):
        raise BadValue("it is a directory; give a file path, such as gradcheck-report.json")
    parent = os.path.dirname(os.path.abspath(value))
    if not os.path.isdir(parent):
        raise BadValue(f"its directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise BadValue(f"its directory {parent} is not writable")
    return value


def parse_submission(value) -> str:
    if not isinstance(value, str) or not os.path.isdir(value):
        raise BadValue("expected an existing directory holding the student's submission")
    return value


class Setting(NamedTuple):
    name: str                 # option key: "rtol"
    flag: str                 # "--gradcheck-rtol"
    ini: str                  # "gradcheck_rtol"
    ini_type: str             # what the ini value holds (documented in --help); read as text, parsed here
    parse: object
    help: str
    metavar: str | None = None
    paths: bool = False       # relative paths in a config file are relative to that file


SETTINGS = (
    Setting("oracle", "--gradcheck-oracle", "gradcheck_oracle", "string", parse_oracle,
            "default oracle for grads_report: auto (JAX when f is traceable and grads are given, "
            "else finite differences), fd, jax or both", "{" + ",".join(ORACLES) + "}"),
    Setting("mode", "--gradcheck-mode", "gradcheck_mode", "string", parse_mode,
            "default mode of every check: auto (the full element-by-element check where it is cheap, the fast "
            "directional check beyond), fast or full", "{" + ",".join(MODES) + "}"),
    Setting("rtol", "--gradcheck-rtol", "gradcheck_rtol", "float", parse_tol,
            "default relative tolerance (default: derived from the gradient's dtype)", "RTOL"),
    Setting("atol", "--gradcheck-atol", "gradcheck_atol", "float", parse_tol,
            "default absolute tolerance (default: derived from the gradient's dtype)", "ATOL"),
    Setting("seed", "--gradcheck-seed", "gradcheck_seed", "int", parse_seed,
            f"seed of the random directions and samples (default: {DEFAULT_SEED}); printed in the header",
            "SEED"),
    Setting("report", "--gradcheck-report", "gradcheck_report", "string", parse_report,
            "write every check made in the session to this JSON file", "PATH", paths=True),
    Setting("submission", "--gradcheck-submission", "gradcheck_submission", "string", parse_submission,
            "directory of a student submission; the 'submission' fixture loads it in a sandbox", "DIR",
            paths=True),
)


def addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gradcheck", "gradcheck: check hand-written gradients")
    group.addoption("--gradcheck", action="store_true", dest="gradcheck", default=None,
                    help="run tests marked gradcheck (skipped otherwise) and summarize every check made")
    # ini values are declared as strings and parsed here, so that a bad value gets our message
    # (naming the file and key) whatever pytest version parses the config
    parser.addini("gradcheck", "run tests marked gradcheck (like --gradcheck); a bool", type="string", default=None)
    for s in SETTINGS:
        group.addoption(s.flag, dest=f"gradcheck_{s.name}", default=None, metavar=s.metavar, help=s.help)
        parser.addini(s.ini, f"{s.help} (like {s.flag}); a {s.ini_type}", type="string", default=None)


def _override_text(config: pytest.Config, ini: str) -> str | None:
    for item in config.option.override_ini or ():
        if item.split("=", 1)[0].strip() == ini:
            return f"-o {item}"
    return None


def _ini_source(config: pytest.Config, ini: str) -> str:
    override = _override_text(config, ini)
    if override:
        return f"command line override ({override})"
    where = config.inipath if config.inipath is not None else "config file"
    return f"config file {where} ({ini})"


class Settings:
    """The session's gradcheck settings and where each came from."""

    def __init__(self):
        self.enabled = False
        self.values: dict = {}     # only the options that were set
        self.sources: dict = {}    # name -> "command line (--gradcheck-rtol)", "config file ... (gradcheck_rtol)"

    @property
    def seed(self) -> int:
        return self.values.get("seed", DEFAULT_SEED)

    def check_defaults(self) -> dict:
        """Options the fixture passes to the library (those that were set)."""
        return {k: v for k, v in self.values.items() if k in MARKER_KEYS}


def read(config: pytest.Config) -> Settings:
    """Resolve every option (command line > ini > default); pytest.UsageError names a bad value's source."""
    out = Settings()
    flag = config.getoption("gradcheck")
    if flag:
        out.enabled, out.sources["enabled"] = True, "command line"
    else:
        ini = config.getini("gradcheck")
        if ini not in (None, ""):
            source = _ini_source(config, "gradcheck")
            try:
                out.enabled = parse_bool(ini)
            except BadValue as exc:
                raise pytest.UsageError(f"Invalid gradcheck value {ini!r} from {source}: {exc}") from None
            out.sources["enabled"] = source
    for s in SETTINGS:
        raw = config.getoption(f"gradcheck_{s.name}")
        if raw is not None:
            source = f"command line ({s.flag})"
        else:
            source = _ini_source(config, s.ini)
            raw = config.getini(s.ini)
            if raw in (None, ""):
                continue
            if s.paths and isinstance(raw, str) and config.inipath is not None \
                    and not _override_text(config, s.ini):
                raw = os.path.join(config.inipath.parent, raw)
        try:
            out.values[s.name] = s.parse(raw)
        except BadValue as exc:
            raise pytest.UsageError(f"Invalid gradcheck {s.name} {raw!r} from {source}: {exc}")
        out.sources[s.name] = source
    return out


_MARKER_PARSERS = {"oracle": parse_oracle, "mode": parse_mode, "rtol": parse_tol, "atol": parse_tol,
                   "seed": parse_seed, "directions": parse_directions}


def marker_options(item) -> dict:
    """The keywords of the item's gradcheck markers (closest wins), checked; ValueError if wrong."""
    merged: dict = {}
    for mark in reversed(list(item.iter_markers("gradcheck"))):   # farthest first, closest last
        if mark.args:
            raise ValueError(f"@pytest.mark.gradcheck takes keyword arguments only, got positional "
                             f"{mark.args!r}; allowed keywords: {', '.join(MARKER_KEYS)}")
        unknown = sorted(set(mark.kwargs) - set(MARKER_KEYS))
        if unknown:
            raise ValueError(f"@pytest.mark.gradcheck got unknown keyword(s) {', '.join(unknown)}; "
                             f"allowed keywords: {', '.join(MARKER_KEYS)}")
        for key, value in mark.kwargs.items():
            if value is None and key in ("rtol", "atol"):
                merged[key] = None   # None: back to the dtype-derived default
                continue
            try:
                merged[key] = _MARKER_PARSERS[key](value)
            except BadValue as exc:
                raise ValueError(f"@pytest.mark.gradcheck({key}={value!r}): {exc}") from None
    return merged


MARKER_DOC = ("gradcheck(*, oracle='auto', mode='auto', rtol=None, atol=None, seed=0, directions=2): "
              "a gradient check test; runs only with --gradcheck (skipped otherwise). The keywords override "
              "the session's --gradcheck-* settings for the gradcheck fixture's calls in this test.")
