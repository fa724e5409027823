"""Built-in ``mlp`` (and every TOML assignment): backprop of a fully connected network.

``forward(params, x)``, ``backward(params, x, t) -> dict like params`` and
``input_jacobian(params, x)`` against the exact answers of the reference networks, on
seeded architectures; a wrong gradient is matched against the bug catalog.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from gradcheck import tolerances

from ..assignment import BUILTIN_DIR, load_toml
from ..checks import Assignment, Part, Wrong
from ._refs import rn

# A mistake is recognised when the answer matches the buggy reference within float32 round-off,
# whatever precision the answer was computed in (naming a cause, not grading).
_DIAG = tolerances.floor_for(np.float32)

TOML = os.path.join(BUILTIN_DIR, "mlp.toml")


@dataclass
class Case:
    """One network of the assignment, its data and the exact answers."""

    arch: object
    spec: object
    params: dict
    x: np.ndarray
    t: np.ndarray
    x1: np.ndarray
    forward: np.ndarray
    grads: dict
    jacobian: np.ndarray


def make_cases(cfg) -> list:
    """The networks, data and exact answers: seeded, so every submission and every run sees the same."""
    cases = []
    for i, arch in enumerate(cfg.architectures):
        spec = rn.NetSpec(sizes=arch.sizes, activations=cfg.activations, bias=cfg.bias, layout=cfg.layout,
                          target=cfg.target)
        params = rn.init_params(spec, seed=cfg.seed * 1000 + i)
        rng = np.random.default_rng([cfg.seed, i, 7])
        x = rng.normal(size=(arch.batch, arch.sizes[0]))
        t = rng.uniform(0.05, 0.95, size=(arch.batch, arch.sizes[-1]))
        cases.append(Case(arch, spec, params, x, t, x[0].copy(), rn.forward(spec, params, x),
                          rn.backprop(spec, params, x, t).grads, rn.input_jacobian(spec, params, x[0])))
    return cases


def bug_sentence(name: str, what: str) -> str:
    """The catalog's student-facing sentence for ``name`` about "your <what>"."""
    bug = rn.CATALOG[name]
    text = getattr(bug, "feedback", "") or f"Your {{what}} matches backprop with this mistake: {bug.title}."
    text = text.format(what=what)
    return text[:-1] + f" ({name})." if text.endswith(".") else text + f" ({name})"


def bug_formula(name: str) -> str:
    return getattr(rn.CATALOG[name], "formula", "")


def _catalog_part(part: Part, names: list, what: str) -> None:
    for n in names:
        part.diagnosis.append(bug_sentence(n, what))
        if bug_formula(n):
            part.formulas.append(bug_formula(n))
    part.bugs += names


def _matches(answer, buggy) -> bool:
    scale = float(np.max(np.abs(buggy))) if buggy.size else 0.0
    return bool(np.allclose(answer, buggy, rtol=_DIAG.rtol, atol=_DIAG.atol_frac * scale))


def _forward_check(case, fname):
    def run(ctx):
        out = ctx.call(fname, case.params, case.x)
        p = ctx.compare("output", out, case.forward,
                        what=f"{fname}(params, x) with x of shape {case.x.shape}")
        return [p]
    return run


def _backward_check(case, fname):
    keys = list(case.grads)
    scale = max(float(np.max(np.abs(g))) for g in case.grads.values())

    def run(ctx):
        got = ctx.call(fname, case.params, case.x, case.t)
        if not isinstance(got, dict):
            kind = "a list" if isinstance(got, list) else "a tuple" if isinstance(got, tuple) else \
                "a single array" if isinstance(got, np.ndarray) else \
                f"a {getattr(got, 'type_name', type(got).__name__)}"
            raise Wrong(f"{fname}(params, x, t) should return a dict with the keys {', '.join(keys)} "
                        f"(one gradient per parameter array, like params), got {kind}")
        parts = []
        for k in keys:
            if k not in got:
                parts.append(Part(k, False, problem="missing from the returned dict"))
                continue
            parts.append(ctx.compare(k, got[k], case.grads[k], global_scale=scale))
        extra = [k for k in got if k not in case.grads]
        if extra:
            ctx.notes.append(f"(ignored unexpected keys: {', '.join(str(k) for k in extra[:10])})")
        wrong = [p for p in parts if not p.passed]
        if wrong and all(k in got for k in keys):   # the catalog compares whole gradients: all keys needed
            _diagnose(case, got, wrong)
        return parts
    return run


def _diagnose(case, got, wrong) -> None:
    """Catalog explanations (they replace the generic patterns) under each wrong key."""
    full = {}
    for k, v in case.grads.items():
        g = got.get(k)
        try:
            full[k] = np.asarray(g, dtype=np.float64)
        except (TypeError, ValueError):
            full[k] = np.full(v.shape, np.nan)
    try:
        catalog = rn.diagnose(case.spec, case.params, case.x, case.t, full, rtol=_DIAG.rtol)
    except Exception:  # noqa: BLE001 - a diagnosis is a bonus; never let it fail the grading
        return
    for p in wrong:
        names = catalog.get(p.label, [])
        if names:
            p.diagnosis = []
            _catalog_part(p, names, f"{p.label} gradient")


def _jacobian_check(case, fname):
    def run(ctx):
        v = ctx.call(fname, case.params, case.x1)
        exp = case.jacobian
        what = f"{fname}(params, x) for one sample x of shape {case.x1.shape}"
        if isinstance(v, np.ndarray) and v.shape == exp.shape[::-1] and v.shape != exp.shape:
            p = Part("∂y_k/∂x_i", False, problem=f"{what} has shape {v.shape}, expected {exp.shape}")
            if _matches(v.T, exp):
                _catalog_part(p, ["jacobian_transposed"], "Jacobian")
            return [p]
        p = ctx.compare("∂y_k/∂x_i", v, exp, what=what)
        if not p.passed and isinstance(v, np.ndarray) and v.shape == exp.shape:
            found = []
            for bug_name, bug in rn.CATALOG.items():
                if "jacobian" not in bug.functions or not bug.applies(case.spec):
                    continue
                try:
                    b = rn.input_jacobian(case.spec, case.params, case.x1, bug=bug_name)
                except Exception:  # noqa: BLE001
                    continue
                if b.shape == v.shape and not np.allclose(b, exp) and _matches(v, b):
                    found.append(bug_name)
            if found:
                p.diagnosis = []
                _catalog_part(p, found, "Jacobian")
        return [p]
    return run


_CHECKS = {"forward": _forward_check, "backward": _backward_check, "jacobian": _jacobian_check}


def from_config(cfg, **options) -> Assignment:
    """The Assignment of a TOML file (see assignment.parse): one check per network and function.

    ``options``: keyword arguments of Assignment that replace the file's (``detail="hint"``).
    """
    settings = dict(module=cfg.module, title=cfg.title, precision=cfg.precision, rtol=cfg.rtol, atol=cfg.atol,
                    detail=cfg.detail, visibility=cfg.visibility, timeout=cfg.timeout, memory_mb=cfg.memory_mb,
                    cpu_seconds=cfg.cpu_seconds, file_mb=cfg.file_mb, nproc=cfg.nproc,
                    allowed_imports=cfg.allowed_imports, source=cfg.source)
    if "seed" in options:
        raise ValueError("the seed of an mlp assignment is its TOML file's [assignment] seed (it draws the networks)")
    a = Assignment(cfg.name, seed=cfg.seed, bug_titles={n: b.title for n, b in rn.CATALOG.items()},
                   **{**settings, **options})
    a.config = cfg
    a.tag_failures = False   # the bug catalog names what it recognises
    cases = make_cases(cfg)
    n = len(cases)
    for case in cases:
        for check in cfg.checks:
            label = f"net {case.arch.label}" + (f", batch {case.arch.batch}" if check != "jacobian" else "")
            a.check(f"{check} · {label}", points=cfg.points[check] / n, kind=check,
                    part_noun="parameter gradients" if check == "backward" else "parts")(
                _CHECKS[check](case, cfg.functions[check]))
    a.summary_line = ("Checked on networks " + ", ".join(f"{c.arch.label} (batch {c.arch.batch})" for c in cases)
                      + f", seed {cfg.seed}; gradients of the assignment's loss ({cfg.target}).")
    return a


def build(**options) -> Assignment:
    """The built-in mlp; ``options`` as for ``from_config``."""
    return from_config(load_toml(TOML), **options)
