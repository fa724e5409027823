"""Reports: plain, serialisable data, and the failure message built from it.

The assertion, the pytest plugin, the JSON report and the auditor all read
these objects, so they hold numbers and strings only.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field


@dataclass
class ParamReport:
    path: str
    shape: tuple
    dtype: str
    size: int
    passed: bool
    checked: str                    # "all elements", "directional", "localized", "sampled"
    n_checked: int = 0              # elements compared one by one
    n_mismatch: int = 0             # among those
    max_abs: float | None = None
    max_rel: float | None = None
    worst_index: tuple | None = None
    worst_actual: float | None = None
    worst_expected: float | None = None
    worst_error_estimate: float | None = None
    worst_kink_interval: tuple | None = None  # the worst element is at a kink: any value in [lo, hi] is valid
    error_estimate: float | None = None  # largest oracle error bar among checked elements
    rtol: float | None = None
    atol: float | None = None
    step: float | None = None
    n_kinks: int = 0
    kink_indices: list = field(default_factory=list)
    diagnosis: list = field(default_factory=list)
    resolution: float | None = None  # fast mode: a single-element error above this escapes with < 1% probability


@dataclass
class CheckReport:
    passed: bool
    oracle: str
    mode: str
    n_evals: int
    time: float
    seed: int
    params: list
    n_params: int = 0
    noise: float | None = None
    step: float | None = None
    directional_rel_error: float | None = None
    notes: list = field(default_factory=list)
    kind: str = "grads"             # grads | vjp | jacobian
    mode_reason: str = ""           # one sentence: why this mode ran

    @property
    def worst_rel_error(self) -> float | None:
        """Largest relative error over every element compared (or the directional one)."""
        vals = [p.max_rel for p in self.params if p.max_rel is not None]
        if vals:
            return max(vals)
        return self.directional_rel_error

    @property
    def failures(self) -> list:
        return [p for p in self.params if not p.passed]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["worst_rel_error"] = self.worst_rel_error
        return _jsonable(d)

    def message(self) -> str:
        return format_report(self)

    def __str__(self) -> str:
        return self.message()


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if hasattr(obj, "item"):
        return _jsonable(obj.item())
    return obj


_ORACLE_NAMES = {"fd": "finite differences", "jax": "JAX autodiff", "both": "JAX autodiff and finite differences"}


def _g(x) -> str:
    return "n/a" if x is None else f"{x:.3g}"


def _v(x) -> str:
    return "n/a" if x is None else f"{x:.8g}"


UNLOCALIZED_NOTE = ("your gradient disagrees with finite differences along random directions, but the "
                    "wrong elements could not be localized; run with mode='full' to compare every element")


def narrow_dtype_note(dtype) -> str:
    return (f"your gradient is {dtype}: if these differences are its round-off, "
            f"pass grads as a function (grads=lambda p: backward(p)) that also accepts "
            f"float64 params, so gradcheck can measure that round-off, or loosen rtol/atol")


def float32_inside_hint(max_rel: float) -> str:
    return (f"the differences are at float32 precision (relative {max_rel:.1e}): "
            f"does part of your computation run in float32? If so, that is its "
            f"round-off: return float32 arrays, or pass rtol=1e-4")


def format_report(r: CheckReport) -> str:
    what = {"grads": "Gradients", "vjp": "Vector-Jacobian products", "jacobian": "Jacobian",
            "jvp": "Jacobian-vector products", "hvp": "Hessian-vector products"}[r.kind]
    oracle = _ORACLE_NAMES.get(r.oracle, r.oracle)
    verdict = "match" if r.passed else "do not match"
    bad = r.failures
    how = "every element" if r.oracle == "jax" else f"{r.mode} mode"  # autodiff compares all elements
    head = f"{what} {verdict} ({oracle}, {how}, {r.n_evals} evaluations of f, {r.time:.2f} s)"
    if r.passed:
        lines = [head + f": {len(r.params)} parameter(s), {r.n_params} elements."]
        res = [p for p in r.params if p.resolution is not None]
        if res:
            worst = max(res, key=lambda p: p.resolution)
            lines.append(f"  Fast mode sees any single-element error above {worst.resolution:.2g} ({worst.path}, "
                         f"the coarsest) with 99% probability; mode='full' compares every element.")
    else:
        lines = [head + f": {len(bad)} of {len(r.params)} parameter(s) differ."]
    width = max((len(p.path) for p in r.params), default=0)
    for p in (bad if not r.passed else []):
        shape = "x".join(str(s) for s in p.shape) or "scalar"
        if p.n_checked:
            counted = f"{p.n_mismatch} of {p.n_checked} elements differ"
            if p.n_checked < p.size:
                counted += f" (checked {p.n_checked} of {p.size}: {p.checked})"
        else:
            counted = "differs along random directions (elements not localized)"
        lines.append(f"  {p.path:<{width}}  shape ({shape}) {p.dtype}: {counted}; "
                     f"max abs err {_g(p.max_abs)}, max rel err {_g(p.max_rel)}")
        if p.worst_index is not None:
            idx = "worst at [" + ", ".join(str(i) for i in p.worst_index) + "]" if p.worst_index else "value"
            pm = f" ± {_g(p.worst_error_estimate)}" if p.worst_error_estimate else ""
            expected = _v(p.worst_expected) + pm
            if p.worst_kink_interval is not None:  # "expected" is only the interval's nearest end
                lo, hi = p.worst_kink_interval
                expected = f"a value in [{_v(lo)}, {_v(hi)}] (a kink: not differentiable here)"
            lines.append(f"  {'':<{width}}  {idx}: yours {_v(p.worst_actual)}, "
                         f"expected {expected}")
        for d in p.diagnosis:
            lines.append(f"  {'':<{width}}  likely: {d}")
    kinks = [p for p in r.params if p.n_kinks]
    for p in kinks:
        where = ", ".join("[" + ", ".join(map(str, i)) + "]" for i in p.kink_indices[:3])
        more = " ..." if p.n_kinks > 3 else ""
        lines.append(f"  {p.path}: {p.n_kinks} element(s) at a kink (not differentiable here; "
                     f"any value between the one-sided slopes passes): {where}{more}")
    if not r.passed:
        tol = [p for p in bad if p.rtol is not None]
        if tol:
            p = tol[0]
            lines.append(f"Tolerance: |yours - expected| <= atol + rtol*|expected| + oracle error bar, "
                         f"rtol={p.rtol:.1e}, atol={_g(p.atol)} (from your gradient's dtype {p.dtype}; "
                         f"pass rtol=/atol= to override).")
    for n in r.notes:
        lines.append(f"Note: {n}")
    if not r.passed:
        lines.append(f"Reproduce with seed={r.seed}.")
    return "\n".join(lines)
