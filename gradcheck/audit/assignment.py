"""Loading assignments: a built-in name, a TOML file (the mlp family) or a Python file.

A TOML file says what to call, on which networks, for how many points; it is validated
eagerly, so that a typo in an instructor's file fails before any submission is graded,
with a message naming the file, the section and the key.  The built-in ``mlp``
assignment is ``assignments/mlp.toml``, one such file.  A Python file builds an
``Assignment`` with the API of checks.py (docs/audit.md) and names it ``assignment``.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

import numpy as np

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

BUILTIN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assignments")
CHECKS = ("forward", "backward", "jacobian")
VISIBILITY = ("visible", "hidden", "after_due_date", "after_published")
PRECISIONS = ("float64", "float32")


class AssignmentError(ValueError):
    """A bad assignment file; the message names the key and the fix."""


@dataclass(frozen=True)
class Architecture:
    """One network the grader tries: layer sizes (n0, ..., nL) and a batch size."""

    sizes: tuple
    batch: int

    @property
    def label(self) -> str:
        return "-".join(str(n) for n in self.sizes)


@dataclass(frozen=True)
class TomlAssignment:
    """A validated TOML file of the mlp family (contracts/mlp.py turns it into checks)."""

    name: str
    title: str
    module: str
    seed: int
    activations: object
    target: str
    layout: str
    bias: bool
    functions: dict            # check -> student function name ("" = check off)
    points: dict               # check -> points over all architectures
    architectures: tuple       # of Architecture
    rtol: float | None
    atol: float | None
    timeout: float
    memory_mb: int
    cpu_seconds: int
    file_mb: int
    nproc: int
    allowed_imports: tuple | None
    visibility: str
    source: str = ""
    checks: tuple = field(default=())
    precision: str | None = None
    detail: str = "full"

    @property
    def max_score(self) -> float:
        return float(sum(self.points[c] for c in self.checks))


_SCHEMA = {
    "assignment": {"name": str, "title": str, "module": str, "seed": int},
    "network": {"activations": (str, list), "target": str, "layout": str, "bias": bool},
    "functions": {"forward": str, "backward": str, "jacobian": str},
    "points": {"forward": (int, float), "backward": (int, float), "jacobian": (int, float)},
    "architectures": {"fixed": list, "count": int, "hidden_layers": list, "width": list, "inputs": list,
                      "outputs": list, "batch": list},
    "tolerances": {"rtol": (int, float), "atol": (int, float), "precision": str},
    "limits": {"timeout": (int, float), "memory_mb": int, "cpu_seconds": int, "file_mb": int, "nproc": int,
               "allowed_imports": list},
    "feedback": {"visibility": str, "detail": str},
}

_DEFAULTS = {
    "assignment": {"title": "", "module": "backprop", "seed": 0},
    "network": {"activations": "logistic", "target": "half_sse", "layout": "in_out", "bias": True},
    "functions": {"forward": "forward", "backward": "backward", "jacobian": "input_jacobian"},
    "points": {"forward": 20, "backward": 60, "jacobian": 20},
    "architectures": {"count": 4, "hidden_layers": [1, 3], "width": [2, 6], "inputs": [2, 5], "outputs": [1, 4],
                      "batch": [1, 6]},
    "tolerances": {},
    "limits": {"timeout": 10, "memory_mb": 1024, "cpu_seconds": 120, "file_mb": 16, "nproc": 64},
    "feedback": {"visibility": "visible", "detail": "full"},
}

_TYPE_WORDS = {str: "a string", int: "an integer", bool: "true or false", list: "a list",
               (int, float): "a number", (str, list): "a string or a list of strings"}


def _check_types(data: dict, where: str) -> dict:
    unknown = [s for s in data if s not in _SCHEMA]
    if unknown:
        raise AssignmentError(f"{where}: unknown section [{unknown[0]}]; known sections: "
                              f"{', '.join('[' + s + ']' for s in _SCHEMA)}")
    merged = {}
    for section, keys in _SCHEMA.items():
        got = data.get(section, {})
        if not isinstance(got, dict):
            raise AssignmentError(f"{where}: [{section}] must be a table")
        for key, value in got.items():
            if key not in keys:
                raise AssignmentError(f"{where}: unknown key {key!r} in [{section}]; known keys: {', '.join(keys)}")
            want = keys[key]
            bad = isinstance(value, bool) and want is not bool and (not isinstance(want, tuple) or bool not in want)
            if bad or not isinstance(value, want):
                raise AssignmentError(f"{where}: [{section}] {key} must be {_TYPE_WORDS[want]}, got {value!r}")
        merged[section] = {**_DEFAULTS.get(section, {}), **got}
    if "name" not in merged["assignment"]:
        raise AssignmentError(f"{where}: [assignment] needs a name, e.g. name = \"mlp\"")
    return merged


def _range(sec: dict, key: str, where: str, low: int) -> tuple:
    v = sec[key]
    if len(v) != 2 or not all(isinstance(n, int) and not isinstance(n, bool) for n in v) or not low <= v[0] <= v[1]:
        raise AssignmentError(f"{where}: [architectures] {key} must be [min, max] integers with {low} <= min <= max, "
                              f"got {v!r}")
    return int(v[0]), int(v[1])


def _architectures(sec: dict, seed: int, where: str) -> tuple:
    """Fixed sizes, or `count` random ones drawn from the ranges with the assignment's seed."""
    rng = np.random.default_rng([seed, 0xA5C])
    batch = _range(sec, "batch", where, 1)
    if "fixed" in sec:
        archs = []
        for sizes in sec["fixed"]:
            if not isinstance(sizes, list) or len(sizes) < 2 or not all(
                    isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in sizes):
                raise AssignmentError(f"{where}: [architectures] fixed must list layer sizes such as [3, 4, 2] "
                                      f"(input, hidden..., output), got {sizes!r}")
            archs.append(Architecture(tuple(sizes), int(rng.integers(batch[0], batch[1] + 1))))
        if not archs:
            raise AssignmentError(f"{where}: [architectures] fixed is empty")
        return tuple(archs)
    if sec["count"] < 1:
        raise AssignmentError(f"{where}: [architectures] count must be at least 1, got {sec['count']}")
    hidden, width = _range(sec, "hidden_layers", where, 0), _range(sec, "width", where, 1)
    inputs, outputs = _range(sec, "inputs", where, 1), _range(sec, "outputs", where, 1)
    archs = []
    for i in range(sec["count"]):
        # spread depths over the range so that every depth is tried, then draw the rest
        depth = hidden[0] + i % (hidden[1] - hidden[0] + 1)
        sizes = [int(rng.integers(inputs[0], inputs[1] + 1))]
        sizes += [int(rng.integers(width[0], width[1] + 1)) for _ in range(depth)]
        sizes.append(int(rng.integers(outputs[0], outputs[1] + 1)))
        archs.append(Architecture(tuple(sizes), int(rng.integers(batch[0], batch[1] + 1))))
    return tuple(archs)


def _positive(sec, key, section, where):
    v = sec[key]
    if v <= 0:
        raise AssignmentError(f"{where}: [{section}] {key} must be positive, got {v!r}")
    return v


def parse(data: dict, where: str = "<assignment>") -> TomlAssignment:
    """Validate a TOML document (already parsed) and build the Assignment."""
    d = _check_types(data, where)
    a, net, fn, pts, lim = d["assignment"], d["network"], d["functions"], d["points"], d["limits"]
    if not a["module"].isidentifier():
        raise AssignmentError(f"{where}: [assignment] module must be a Python module name such as \"backprop\" "
                              f"(the file backprop.py), got {a['module']!r}")
    for check in CHECKS:
        if fn[check] and not fn[check].isidentifier():
            raise AssignmentError(f"{where}: [functions] {check} must be a function name or \"\" to skip the "
                                  f"check, got {fn[check]!r}")
        if pts[check] < 0:
            raise AssignmentError(f"{where}: [points] {check} must be >= 0, got {pts[check]!r}")
    checks = tuple(c for c in CHECKS if fn[c] and pts[c] > 0)
    if not checks:
        raise AssignmentError(f"{where}: no check left: give [functions] names and [points] above 0")
    archs = _architectures(d["architectures"], a["seed"], where)
    from .contracts._refs import rn

    acts = tuple(net["activations"]) if isinstance(net["activations"], list) else net["activations"]
    for arch in archs:
        try:
            rn.NetSpec(sizes=arch.sizes, activations=acts, bias=net["bias"], layout=net["layout"],
                       target=net["target"])
        except ValueError as e:
            raise AssignmentError(f"{where}: [network] does not fit architecture {arch.label}: {e}") from None
    tol = d["tolerances"]
    for k in ("rtol", "atol"):
        if k in tol:
            _positive(tol, k, "tolerances", where)
    if tol.get("precision", "float64") not in PRECISIONS:
        raise AssignmentError(f"{where}: [tolerances] precision must be one of {', '.join(PRECISIONS)} (the dtype "
                              f"whose tolerance applies), got {tol['precision']!r}")
    from .feedback import DETAILS

    if d["feedback"]["detail"] not in DETAILS:
        raise AssignmentError(f"{where}: [feedback] detail must be one of {', '.join(DETAILS)}, got "
                              f"{d['feedback']['detail']!r}")
    for k in ("timeout", "memory_mb", "cpu_seconds", "file_mb", "nproc"):
        _positive(lim, k, "limits", where)
    allowed = lim.get("allowed_imports")
    if allowed is not None and not all(isinstance(m, str) and m.isidentifier() for m in allowed):
        raise AssignmentError(f"{where}: [limits] allowed_imports must list module names such as \"numpy\" "
                              f"(or \"stdlib\" for the standard library), got {allowed!r}")
    vis = d["feedback"]["visibility"]
    if vis not in VISIBILITY:
        raise AssignmentError(f"{where}: [feedback] visibility must be one of {', '.join(VISIBILITY)}, got {vis!r}")
    return TomlAssignment(
        name=a["name"], title=a["title"] or a["name"], module=a["module"], seed=a["seed"],
        activations=acts, target=net["target"], layout=net["layout"],
        bias=net["bias"], functions=dict(fn), points={c: float(pts[c]) for c in CHECKS}, architectures=archs,
        rtol=tol.get("rtol"), atol=tol.get("atol"), timeout=float(lim["timeout"]), memory_mb=lim["memory_mb"],
        cpu_seconds=lim["cpu_seconds"], file_mb=lim["file_mb"], nproc=lim["nproc"],
        allowed_imports=tuple(allowed) if allowed is not None else None, visibility=vis, source=where,
        checks=checks, precision=tol.get("precision"), detail=d["feedback"]["detail"],
    )


def builtin_names() -> list:
    from . import contracts

    return contracts.names()


def load_toml(path: str) -> TomlAssignment:
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise AssignmentError(f"{path}: not valid TOML: {e}") from None
    return parse(data, where=path)


def load_python(path: str):
    """Run an instructor's Python file (trusted, in the grader) and take its ``assignment``."""
    import importlib.util

    from .checks import Assignment

    spec = importlib.util.spec_from_file_location(f"_gradcheck_assignment_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # noqa: BLE001 - the instructor needs to see which line failed
        import traceback

        tb = "".join(traceback.format_exception(type(e), e, e.__traceback__)[-4:])
        raise AssignmentError(f"{path}: running the assignment file failed:\n{tb}") from None
    a = getattr(module, "assignment", None)
    if not isinstance(a, Assignment):
        raise AssignmentError(f"{path}: the file must define a variable named assignment holding a "
                              f"gradcheck.audit.Assignment (got {type(a).__name__})")
    if not a.checks:
        raise AssignmentError(f"{path}: the assignment {a.name!r} declares no checks")
    a.source = a.source or path
    return a


def load(name_or_path: str):
    """A built-in assignment by name (``mlp``, ``layers``, ...), a TOML file or a Python file -> Assignment."""
    from . import contracts
    from .contracts.mlp import from_config

    path = str(name_or_path)
    if not os.path.exists(path):
        if os.sep in path or path.endswith((".toml", ".py")):
            raise AssignmentError(f"assignment file {path!r} does not exist")
        try:
            return contracts.build(path)
        except KeyError:
            raise AssignmentError(f"unknown assignment {path!r}: give a .toml or .py file or one of the built-in "
                                  f"names: {', '.join(builtin_names())}") from None
    if os.path.isdir(path):
        raise AssignmentError(f"assignment {path!r} is a folder; give a .toml or .py file")
    if path.endswith(".py"):
        return load_python(path)
    return from_config(load_toml(path))
