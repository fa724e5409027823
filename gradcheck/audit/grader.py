"""Verdicts: the student's answers against the exact reference, with feedback to act on.

Knows nothing about processes: ``grade`` is given ``call(function, *args) -> outcome``
(an object with ``ok``, ``kind``, ``value``, ``message``, ``traceback``, ``stdout``) and
only ever sees plain arrays.  The truth comes from ``reference_nets``; comparison and
tolerances from ``gradcheck.compare``; explanations from the bug catalog and
``gradcheck.diagnose``.  Everything is computed here, in the grader's process.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .assignment import Assignment, Architecture


@dataclass
class Case:
    """One network of the assignment, its data and the exact answers."""

    arch: Architecture
    spec: object
    params: dict
    x: np.ndarray
    t: np.ndarray
    x1: np.ndarray
    forward: np.ndarray
    grads: dict
    jacobian: np.ndarray


@dataclass
class CheckResult:
    name: str
    check: str
    score: float
    max_score: float
    output: str
    bugs: list = field(default_factory=list)   # catalog names diagnosed here

    @property
    def status(self) -> str:
        return "passed" if self.score >= self.max_score - 1e-9 else "failed"


@dataclass
class SubmissionResult:
    name: str
    tests: list
    output: str
    execution_time: float = 0.0
    grader_error: str = ""
    infra_notes: list = field(default_factory=list)   # for the instructor's log, not the student

    @property
    def score(self) -> float:
        return round(sum(t.score for t in self.tests), 4)

    @property
    def max_score(self) -> float:
        return round(sum(t.max_score for t in self.tests), 4)

    @property
    def bugs(self) -> list:
        return sorted({b for t in self.tests for b in t.bugs})


def spec_for(a: Assignment, arch: Architecture):
    from gradcheck.reference_nets import NetSpec

    return NetSpec(sizes=arch.sizes, activations=a.activations, bias=a.bias, layout=a.layout, target=a.target)


def make_cases(a: Assignment) -> list:
    """The networks, data and exact answers: seeded, so every submission and every run sees the same."""
    from gradcheck import reference_nets as rn

    cases = []
    for i, arch in enumerate(a.architectures):
        spec = spec_for(a, arch)
        params = rn.init_params(spec, seed=a.seed * 1000 + i)
        rng = np.random.default_rng([a.seed, i, 7])
        x = rng.normal(size=(arch.batch, arch.sizes[0]))
        t = rng.uniform(0.05, 0.95, size=(arch.batch, arch.sizes[-1]))
        cases.append(Case(arch, spec, params, x, t, x[0].copy(), rn.forward(spec, params, x),
                          rn.backprop(spec, params, x, t).grads, rn.input_jacobian(spec, params, x[0])))
    return cases


# --------------------------------------------------------------------------- messages
def _num(v: float) -> str:
    return f"{v:.6g}"


def _describe_mismatch(label: str, cmp) -> str:
    """numpy.testing's shape: tolerances, how many differ, the worst element, max differences."""
    idx = ", ".join(str(i) for i in cmp.worst_index)
    return (f"{label}: {cmp.n_mismatch} of {cmp.n_total} elements differ (rtol={cmp.rtol:.1e}, atol={cmp.atol:.1e})\n"
            f"    worst at [{idx}]: yours {_num(cmp.worst_actual)}, expected {_num(cmp.worst_expected)}\n"
            f"    max abs difference {_num(cmp.max_abs)}, max rel difference {_num(cmp.max_rel)}")


def _bug_sentence(name: str, what: str) -> str:
    from gradcheck.reference_nets import CATALOG

    bug = CATALOG[name]
    return f"    diagnosis: your {what} equals backprop that {bug.title} ({name}): {bug.description}"


def _failure_text(out, function: str) -> str:
    """What went wrong in the student's process, in their terms."""
    if out.kind == "skipped":
        return out.message
    if out.kind == "timeout":
        text = f"{function}() {out.message}"
    elif out.kind == "exit":
        text = f"{function}() {out.message}; nothing was returned"
    elif out.kind in ("crash", "protocol"):
        text = f"{function}(): {out.message}"
    elif out.kind in ("missing", "import"):
        text = out.message if out.kind == "missing" else f"importing your code failed: {out.error_type}: {out.message}"
    elif out.kind == "convert":
        text = f"{function}() returned something that is not numbers: {out.message}"
    else:
        msg = out.message if len(out.message) <= 300 else out.message[:300] + " … (message cut)"
        text = f"{function}() raised {out.error_type or 'an exception'}: {msg}"
    if out.traceback:
        text += "\n    traceback (most recent call last, your files only):\n" + "\n".join(
            "    " + line for line in out.traceback.rstrip("\n").split("\n"))
    return text


def _printed(out) -> str:
    s = (getattr(out, "stdout", "") or "").strip()
    if not s:
        return ""
    lines = [ln if len(ln) <= 160 else ln[:160] + " …" for ln in s[:2000].split("\n")[:12]]
    return "\n    your code printed (first lines):\n" + "\n".join("      " + ln for ln in lines)


def _array_problem(v, shape, what: str) -> str | None:
    if not isinstance(v, np.ndarray) and hasattr(v, "type_name"):
        return f"{what} should be an array of shape {shape}, got a {v.type_name}"
    if not isinstance(v, np.ndarray):
        return f"{what} should be an array of shape {shape}, got a dict" if isinstance(v, dict) \
            else f"{what} should be an array of shape {shape}"
    if v.shape != shape:
        hint = " (transposed?)" if len(shape) == 2 and v.shape == shape[::-1] else ""
        return f"{what} has shape {v.shape}, expected {shape}{hint}"
    return None


def _compare(a: Assignment, actual, expected, global_scale: float = 0.0):
    from gradcheck.compare import compare_arrays

    return compare_arrays(actual, expected, rtol=a.rtol, atol=a.atol, dtype=actual.dtype, global_scale=global_scale)


def _diag_rtol(actual) -> float:
    return 1e-2 if actual.dtype == np.float32 else 1e-3


# --------------------------------------------------------------------------- checks
def _check_forward(a, case, out, fname, pts):
    name = f"forward · net {case.arch.label}, batch {case.arch.batch}"
    if not out.ok:
        return CheckResult(name, "forward", 0.0, pts, _failure_text(out, fname) + _printed(out))
    shape = case.forward.shape
    problem = _array_problem(out.value, shape, f"{fname}(params, x) with x of shape {case.x.shape}")
    if problem:
        return CheckResult(name, "forward", 0.0, pts, problem + _printed(out))
    cmp = _compare(a, out.value, case.forward)
    if cmp.passed:
        return CheckResult(name, "forward", pts, pts, f"correct: output {shape} matches")
    text = _describe_mismatch("output", cmp)
    from gradcheck.diagnose import diagnose_patterns

    for s in diagnose_patterns({"y": out.value}, {"y": case.forward}).get("y", []):
        text += f"\n    pattern: {s}"
    return CheckResult(name, "forward", 0.0, pts, text + _printed(out))


def _check_backward(a, case, out, fname, pts):
    name = f"backward · net {case.arch.label}, batch {case.arch.batch}"
    keys = list(case.grads)
    if not out.ok:
        return CheckResult(name, "backward", 0.0, pts, _failure_text(out, fname) + _printed(out))
    if not isinstance(out.value, dict):
        return CheckResult(name, "backward", 0.0, pts,
                           f"{fname}(params, x, t) should return a dict with the keys {', '.join(keys)} "
                           f"(one gradient per parameter array), got a single array" + _printed(out))
    got = out.value
    each = pts / len(keys)
    lines, ok, wrong = [], 0, {}
    for k in keys:
        exp = case.grads[k]
        if k not in got:
            lines.append(f"{k}: missing from the returned dict")
            wrong[k] = np.full(exp.shape, np.nan)
            continue
        problem = _array_problem(got[k], exp.shape, f"{k}")
        if problem:
            lines.append(problem)
            wrong[k] = got[k]
            continue
        cmp = _compare(a, got[k], exp, global_scale=max(float(np.max(np.abs(g))) for g in case.grads.values()))
        if cmp.passed:
            ok += 1
            lines.append(f"{k}: correct")
        else:
            lines.append(_describe_mismatch(k, cmp))
            wrong[k] = got[k]
    extra = [k for k in got if k not in case.grads]
    if extra:
        lines.append(f"(ignored unexpected keys: {', '.join(extra[:10])})")
    bugs = []
    if wrong:
        bugs = _diagnose_backward(case, got, wrong, lines)
    head = f"{ok} of {len(keys)} parameter gradients correct"
    return CheckResult(name, "backward", round(each * ok, 4), pts,
                       head + "\n  " + "\n  ".join(lines) + (_printed(out) if wrong else ""), bugs)


def _diagnose_backward(case, got, wrong, lines) -> list:
    """Append catalog and pattern explanations under each wrong key's lines."""
    from gradcheck import reference_nets as rn
    from gradcheck.diagnose import diagnose_patterns

    full = {k: (got[k] if k in got and isinstance(got[k], np.ndarray) else np.full(v.shape, np.nan))
            for k, v in case.grads.items()}
    rtol = max(_diag_rtol(v) for v in full.values())
    try:
        catalog = rn.diagnose(case.spec, case.params, case.x, case.t, full, rtol=rtol)
    except Exception:  # noqa: BLE001 - a diagnosis is a bonus; never let it fail the grading
        catalog = {}
    same_shape = {k: v for k, v in full.items() if v.shape == case.grads[k].shape}
    try:
        patterns = diagnose_patterns(same_shape, {k: case.grads[k] for k in same_shape})
    except Exception:  # noqa: BLE001
        patterns = {}
    found = []
    for k in wrong:
        notes = [_bug_sentence(n, f"{k} gradient") for n in catalog.get(k, [])]
        found += catalog.get(k, [])
        if not notes:
            notes = [f"    pattern: {s}" for s in patterns.get(k, [])]
        if notes:
            at = max(i for i, ln in enumerate(lines) if ln.startswith(k))
            lines[at] += "\n" + "\n".join(notes)
    return sorted(set(found))


def _check_jacobian(a, case, out, fname, pts):
    from gradcheck import reference_nets as rn

    name = f"jacobian · net {case.arch.label}"
    if not out.ok:
        return CheckResult(name, "jacobian", 0.0, pts, _failure_text(out, fname) + _printed(out))
    exp = case.jacobian
    v = out.value
    bugs = []
    if isinstance(v, np.ndarray) and v.shape != exp.shape:
        problem = _array_problem(v, exp.shape, f"{fname}(params, x) for one sample x of shape {case.x1.shape}")
        if v.shape == exp.shape[::-1] and np.allclose(v.T, exp, rtol=_diag_rtol(v), atol=1e-6):
            bugs = ["jacobian_transposed"]
            problem += "\n" + _bug_sentence("jacobian_transposed", "Jacobian")
        return CheckResult(name, "jacobian", 0.0, pts, problem + _printed(out), bugs)
    problem = _array_problem(v, exp.shape, f"{fname}(params, x)")
    if problem:
        return CheckResult(name, "jacobian", 0.0, pts, problem + _printed(out))
    cmp = _compare(a, v, exp)
    if cmp.passed:
        return CheckResult(name, "jacobian", pts, pts, f"correct: ∂y/∂x {exp.shape} matches")
    text = _describe_mismatch("∂y_k/∂x_i", cmp)
    for bug_name, bug in rn.CATALOG.items():
        if "jacobian" not in bug.functions or not bug.applies(case.spec):
            continue
        try:
            b = rn.input_jacobian(case.spec, case.params, case.x1, bug=bug_name)
        except Exception:  # noqa: BLE001
            continue
        if b.shape == v.shape and not np.allclose(b, exp) and np.allclose(v, b, rtol=_diag_rtol(v), atol=1e-9):
            bugs.append(bug_name)
            text += "\n" + _bug_sentence(bug_name, "Jacobian")
    if not bugs:
        from gradcheck.diagnose import diagnose_patterns

        for s in diagnose_patterns({"J": v}, {"J": exp}).get("J", []):
            text += f"\n    pattern: {s}"
    return CheckResult(name, "jacobian", 0.0, pts, text + _printed(out), bugs)


_CHECKERS = {"forward": _check_forward, "backward": _check_backward, "jacobian": _check_jacobian}


def _arrays_from_lists(v):
    """Nested lists of numbers (a loop-style answer) -> a float array; dicts keep their keys."""
    if isinstance(v, dict):
        return {k: _arrays_from_lists(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        try:
            a = np.asarray(v, dtype=float)
        except (TypeError, ValueError):
            return v
        return a
    if isinstance(v, np.ndarray) and v.dtype.kind in "biu":
        return v.astype(float)
    return v


class _Skipped:
    """Stands in for a call that was not made (import failed, or the function keeps timing out)."""

    ok = False
    kind = "skipped"
    traceback = stdout = error_type = ""

    def __init__(self, message):
        self.message = message


def grade(a: Assignment, call, name: str, cases: list | None = None, *, notes=()) -> SubmissionResult:
    """Run every check of the assignment through ``call`` and build the verdicts."""
    start = time.monotonic()
    cases = cases if cases is not None else make_cases(a)
    n = len(cases)
    timeouts: dict = {}
    tests = []
    first_failure = None
    for case in cases:
        for check in a.checks:
            fname = a.functions[check]
            if check == "forward":
                args = (case.params, case.x)
            elif check == "backward":
                args = (case.params, case.x, case.t)
            else:
                args = (case.params, case.x1)
            if timeouts.get(fname, 0) >= 2:
                out = _Skipped(f"not run: {fname}() already timed out twice")
            else:
                out = call(fname, *args)
            if out.ok:
                out.value = _arrays_from_lists(out.value)
            if out.kind == "timeout":
                timeouts[fname] = timeouts.get(fname, 0) + 1
            if out.kind == "import":
                first_failure = first_failure or out
                out = _Skipped(f"not run: importing {a.module}.py failed (see the top of the output)")
            res = _CHECKERS[check](a, case, out, fname, a.points[check] / n)
            tests.append(res)
    lines = [f"{a.title}: {_fmt(sum(t.score for t in tests))} / {_fmt(a.max_score)} points.",
             "Checked on networks " + ", ".join(f"{c.arch.label} (batch {c.arch.batch})" for c in cases)
             + f", seed {a.seed}; gradients of the assignment's loss ({a.target})."]
    if first_failure is not None:
        lines.append(f"Your {a.module}.py could not be imported, so no check could run:\n"
                     + _failure_text(first_failure, a.module))
    failed = [t for t in tests if t.status == "failed"]
    if failed and first_failure is None:
        lines.append(f"{len(failed)} of {len(tests)} checks lost points; each check's output says why.")
    lines += [f"Note: {s}" for s in notes]
    return SubmissionResult(name, tests, "\n".join(lines), time.monotonic() - start)


def _fmt(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")
