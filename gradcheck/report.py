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
    resolution: float | None = None  # a single-element error above this fails (fast mode: with 99% probability)
    tie_failures: list = field(default_factory=list)  # tied elements valid one by one but not together
    checked_at_float64: bool = False  # yours is float32; your function's float64 rerun was checked instead
    float32_roundoff: float | None = None  # then: max |your float32 result - your float64 result|
    float32_mismatch: dict | None = None   # where that difference is more than round-off


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


def _pair(a, b) -> tuple[str, str]:
    """a and b with enough digits to see that they differ (8 at least, up to 17)."""
    if a is None or b is None:
        return _v(a), _v(b)
    for digits in range(8, 18):
        sa, sb = f"{a:.{digits}g}", f"{b:.{digits}g}"
        if sa != sb or a == b:
            return sa, sb
    return repr(float(a)), repr(float(b))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _differ(n: int) -> str:
    return "differs" if n == 1 else "differ"


UNLOCALIZED_NOTE = ("your gradient disagrees with finite differences along random directions, but the "
                    "wrong elements could not be localized; run with mode='full' to compare every element")

ZERO_EXPECTED_HINT = "nonzero where the gradient is exactly 0 (a missing mask?)"


def _index_list(indices, n: int) -> str:
    """'[i, j], [k, l] ...' for the first three of n; '' for a scalar, whose one element has no index."""
    shown = [i for i in indices[:3] if len(i)]
    return ", ".join("[" + ", ".join(map(str, i)) + "]" for i in shown) + (" ..." if n > 3 else "") if shown else ""


def zero_expected_hint(n: int, where: list) -> str:
    at = _index_list(where, n)
    return f"{ZERO_EXPECTED_HINT}: {_count(n, 'element')}" + (f", at {at}" if at else "")


def float32_mismatch_line(m: dict, dtype: str = "float32") -> str:
    """Your float32 (or float16/bfloat16) result differs from your own float64 result by more than round-off
    (roundoff.py)."""
    at = _index_list([m["index"]], 1)
    a, b = _pair(m["float32"], m["float64"])
    return (f"your gradient function gives different results for {dtype} and float64 params beyond "
            f"{dtype} round-off ({m['n']} element(s), rtol={m['rtol']:.0e}, atol={_g(m['atol'])}): "
            f"{f'at {at} ' if at else ''}"
            f"{a} ({dtype}) vs {b} (float64); does its {dtype} path differ (an overflow, a cast, a branch on "
            f"dtype)?")


def tie_line(tie: dict) -> str:
    """One tie where the gradient is valid element by element but not as a vector (ties.py)."""
    weights = tie["weights"]
    moved = " + ".join(e if abs(w - 1) < 1e-12 else f"{w:.3g}*{e}" for e, w in zip(tie["elements"], weights))
    lo, hi = tie["lo"], tie["hi"]
    slope = f"at slope {_v(lo)}" if lo == hi else f"at a slope in [{_v(lo)}, {_v(hi)}] (a kink)"
    return (f"moved together, {moved} change f {slope}, but your gradient says {_v(tie['yours'])}: "
            f"each element lies within its own one-sided slopes, the sum does not, so this is no "
            f"subgradient (a tie: was the gradient sent to every tied element instead of shared?)")


def unresolved_note(path: str, n: int, worst_bar: float) -> str:
    return (f"{path}: {_count(n, 'element')} could not be checked: the finite difference's error bar there (up "
            f"to {_g(worst_bar)}) is larger than the gradient, so a wrong value would pass too; f loses precision "
            f"near these params (e.g. log(1 - sigmoid(z)) at large z): check at other params, or with oracle='jax' "
            f"if f is written with jax.numpy")


def narrow_dtype_note(dtype) -> str:
    return (f"your gradient is {dtype}; if these differences are its round-off ({dtype} loses digits where "
            f"terms cancel, e.g. y - t near a minimum), pass grads as a function (grads=lambda p: backward(p)) "
            f"that also accepts float64 params: gradcheck then measures that round-off and still catches "
            f"real errors")


def float32_values_hint(max_rel: float) -> str:
    return (f"your gradient's values are all float32 numbers stored as float64 (computed in float32, then "
            f"cast?), and the differences are at float32 precision (relative {max_rel:.1e}): return the "
            f"float32 arrays as they are, so that float32 tolerances apply")


def mutation_detail(index: list, was: float, now: float) -> str:
    """'element [i, j] went from A to B' with enough digits to see the change."""
    a, b = _pair(was, now)
    return f"element {index} went from {a} to {b}"


def describe_comparison(label: str, cmp, *, indent: str = "    ") -> str:
    """numpy.testing's shape for one compared array (compare.Comparison): for reports and the audit's feedback.

    The tolerances, how many elements differ out of how many, the worst one with
    yours and the expected value, and the max absolute and relative differences;
    where the expected value is exactly 0 and yours is not, it says so instead of
    a relative difference that means nothing there.
    """
    idx = ", ".join(str(i) for i in cmp.worst_index)
    yours, expected = _pair(cmp.worst_actual, cmp.worst_expected)
    rel = _v(cmp.max_rel)
    zero = cmp.n_mismatch and cmp.worst_expected == 0 and cmp.worst_actual != 0
    if zero:
        rel = f"inf at [{idx}] ({ZERO_EXPECTED_HINT})"
    return (f"{label}: {cmp.n_mismatch} of {cmp.n_total} elements {_differ(cmp.n_mismatch)} "
            f"(rtol={cmp.rtol:.1e}, atol={cmp.atol:.1e})\n"
            f"{indent}worst at [{idx}]: yours {yours}, expected {expected}\n"
            f"{indent}max abs difference {_v(cmp.max_abs)}, max rel difference {rel}")


def format_report(r: CheckReport) -> str:
    what = {"grads": "Gradients", "vjp": "Vector-Jacobian products", "jacobian": "Jacobian",
            "jvp": "Jacobian-vector products", "hvp": "Hessian-vector products"}[r.kind]
    oracle = _ORACLE_NAMES.get(r.oracle, r.oracle)
    singular = r.kind == "jacobian"
    verdict = ("matches" if singular else "match") if r.passed else ("does not match" if singular else "do not match")
    noun = {"grads": "parameter", "vjp": "input", "jvp": "output"}.get(r.kind, "parameter")  # jvp: f's outputs
    bad = r.failures
    how = "every element" if r.oracle == "jax" else f"{r.mode} mode"  # autodiff compares all elements
    called = "calls of your gradient function" if r.kind == "hvp" else "evaluations of f"
    head = f"{what} {verdict} ({oracle}, {how}, {r.n_evals} {called}, {r.time:.2f} s)"
    if r.passed:
        whole = f"{_count(r.n_params, 'element')}" if singular else \
            f"{_count(len(r.params), noun)}, {_count(r.n_params, 'element')}"
        lines = [head + f": {whole}."]
        worst = max((p for p in r.params if p.resolution is not None), key=lambda p: p.resolution, default=None)
        if worst is not None and r.mode == "fast":
            lines.append(f"  Fast mode sees any single-element error above {worst.resolution:.2g} ({worst.path}, "
                         f"the coarsest) with 99% probability; mode='full' compares every element.")
        elif worst is not None and r.mode == "full" and r.oracle == "fd":
            lines.append(f"  Every element was compared: an error above {worst.resolution:.2g} in any of them "
                         f"would have shown ({worst.path}, the coarsest).")
        wide = [p for p in r.params if p.checked_at_float64]
        if wide:
            worst = max(p.float32_roundoff or 0.0 for p in wide)
            lines.append(f"  Your {wide[0].dtype} gradient function was also run with float64 params: that result "
                         f"was checked at float64 sharpness, and your {wide[0].dtype} result differs from it by "
                         f"at most {_g(worst)} (round-off).")
    else:
        if singular:
            lines = [head + "."]
        else:
            lines = [head + f": {len(bad)} of {_count(len(r.params), noun)} {_differ(len(bad))}."]
    width = max((len(p.path) for p in r.params), default=0)
    for p in (bad if not r.passed else []):
        shape = "x".join(str(s) for s in p.shape) or "scalar"
        if p.float32_mismatch and not p.n_mismatch:
            counted = f"your float64 result matches; your {p.dtype} result differs from it beyond round-off"
        elif p.n_checked and p.tie_failures and not p.n_mismatch:
            counted = f"no subgradient at a tie ({p.n_checked} elements each within their own interval)"
        elif p.n_checked:
            counted = f"{p.n_mismatch} of {p.n_checked} elements {_differ(p.n_mismatch)}"
            if p.n_checked < p.size:
                counted += f" (checked {p.n_checked} of {p.size}: {p.checked})"
        else:
            counted = "differs along random directions (elements not localized)"
        rel = _g(p.max_rel)
        if p.worst_expected == 0 and p.worst_actual not in (0, None) and p.worst_kink_interval is None:
            rel = "inf (expected exactly 0)"
        if p.checked_at_float64 and p.n_mismatch:
            counted += " (your gradient function's float64 result, checked at float64 sharpness)"
        tie_only = (bool(p.tie_failures) or bool(p.float32_mismatch)) and not p.n_mismatch
        errs = "" if tie_only else f"; max abs err {_g(p.max_abs)}, max rel err {rel}"
        lines.append(f"  {p.path:<{width}}  shape ({shape}) {p.dtype}: {counted}{errs}")
        if p.worst_index is not None and not tie_only:
            idx = "worst at [" + ", ".join(str(i) for i in p.worst_index) + "]" if p.worst_index else "value"
            pm = f" ± {_g(p.worst_error_estimate)}" if p.worst_error_estimate else ""
            yours, expected = _pair(p.worst_actual, p.worst_expected)
            expected += pm
            if p.worst_kink_interval is not None:  # "expected" is only the interval's nearest end
                lo, hi = p.worst_kink_interval
                expected = f"a value in [{_v(lo)}, {_v(hi)}] (a kink: not differentiable here)"
            lines.append(f"  {'':<{width}}  {idx}: yours {_v(p.worst_actual)}, "
                         f"expected {expected}")
        if p.float32_mismatch:
            lines.append(f"  {'':<{width}}  {float32_mismatch_line(p.float32_mismatch, p.dtype)}")
        for tie in p.tie_failures[:3]:
            lines.append(f"  {'':<{width}}  {tie_line(tie)}")
        for d in p.diagnosis:
            lines.append(f"  {'':<{width}}  likely: {d}")
    kinks = [p for p in r.params if p.n_kinks]
    for p in kinks:
        where = _index_list(p.kink_indices, p.n_kinks)
        lines.append(f"  {p.path}: {p.n_kinks} element(s) at a kink (not differentiable here; "
                     f"any value between the one-sided slopes passes)" + (f": {where}" if where else ""))
    if not r.passed:
        tol = [p for p in bad if p.rtol is not None and p.n_mismatch]   # (ties and float32 lines carry their own)
        if tol:
            p = tol[0]
            source = (f"float64: your {p.dtype} gradient function was run with float64 params and that "
                      f"result checked" if p.checked_at_float64 else f"from your gradient's dtype {p.dtype}")
            lines.append(f"Tolerance: |yours - expected| <= atol + rtol*|expected| + oracle error bar, "
                         f"rtol={p.rtol:.1e}, atol={_g(p.atol)} ({source}; "
                         f"pass rtol=/atol= to override).")
    for n in r.notes:
        lines.append(f"Note: {n}")
    if not r.passed:
        lines.append(f"Reproduce with seed={r.seed}.")
    return "\n".join(lines)
