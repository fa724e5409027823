"""From the blocks' evidence to a CheckReport: verdicts, resolution, diagnoses, hints.

Nothing here evaluates f. The sentences themselves are written in report.py
(the one place messages are built); this module decides which apply.
"""
from __future__ import annotations

import numpy as np

from gradcheck import report as messages
from gradcheck import tolerances
from gradcheck.context import Block, Context, Stepping
from gradcheck.diagnose import ElementEvidence, diagnose_block
from gradcheck.elements import compare_block
from gradcheck.fast import FastOutcome
from gradcheck.numerics import block_tolerance, step_units
from gradcheck.report import CheckReport, ParamReport
from gradcheck.roundoff import narrow_report


def assemble_report(ctx: Context, *, oracle: str, mode: str, mode_reason: str, stepping: Stepping | None,
                    fast: FastOutcome | None, elapsed: float, kind: str) -> CheckReport:
    user_tree = {b.leaf.path: b.user.reshape(b.leaf.shape) for b in ctx.blocks}
    params = [param_report(ctx, b, user_tree, stepping, fast) for b in ctx.blocks]
    for b, rep in zip(ctx.blocks, params):
        narrow_report(ctx, b, rep)
    if ctx.opts.network is not None and not all(p.passed for p in params):
        catalog_diagnosis(ctx, params)
    unlocalized = fast is not None and fast.unlocalized
    passed = all(p.passed for p in params) and not unlocalized
    notes = list(ctx.notes)
    narrow = [b for b, p in zip(ctx.blocks, params) if not p.passed and _itemsize(b.dtype) < 8]
    if ctx.source == "arrays" and narrow and all(_within_roundoff_range(ctx, b) for b in narrow):
        notes.append(messages.narrow_dtype_note(narrow[0].dtype))
    if unlocalized:
        notes.append(messages.UNLOCALIZED_NOTE)
    notes += unresolved_notes(ctx)
    return CheckReport(
        passed=passed, oracle=oracle, mode=mode, mode_reason=mode_reason, n_evals=ctx.problem.n_evals,
        time=elapsed, seed=int(ctx.opts.seed), params=params, n_params=ctx.problem.n,
        noise=None if stepping is None else float(np.max(stepping.sigma)),
        step=None if stepping is None else stepping.t,
        directional_rel_error=None if fast is None else fast.rel_error, notes=notes, kind=kind,
    )


def unresolved_notes(ctx: Context) -> list:
    """Elements whose finite-difference error bar exceeds both values compared: f's round-off there is larger
    than the gradient, so any value would pass. Said, not hidden (bars below a thousandth of the largest
    gradient are f's ordinary precision, float32's for an f that computes in float32, on elements near 0)."""
    scale = max([ctx.global_scale] + [tolerances.finite_scale(b.expected) for b in ctx.blocks])
    notes = []
    for b in ctx.blocks:
        if not len(b.idx):
            continue
        big = np.maximum(np.abs(b.user[b.idx]), np.abs(np.nan_to_num(b.expected)))
        blind = ~b.kink & ~(b.error <= 0.5 * big) & ~(b.error <= 1e-3 * scale)
        if np.any(blind):
            notes.append(messages.unresolved_note(b.leaf.path, int(np.sum(blind)), float(np.max(b.error[blind]))))
    return notes


def resolution(ctx: Context, b: Block, fast: FastOutcome | None) -> float | None:
    """Smallest single-element error the random directions miss with under 1% probability.

    Element j's error e enters a direction's residual as e * w * s_j * z_j / |z|,
    z standard normal, w the block's weight in that direction (so that w * rms(s)
    is about the norm of the block's part of u); the test flags |residual| > T.
    So it escapes one direction with probability
    P(|N(0,1)| < sqrt(n) T / (w s_j |e|)) <= 0.8 sqrt(n) T / (w s_j |e|), and all K
    directions with that to the power K; the worst element has the smallest
    s_j, and the weakest direction the smallest w. A direction that fails sends
    fast mode to the elements, where the block's own element floor decides: an
    error below atol + rtol * (its largest magnitude) is never a failure, so the
    resolution is at least that (it matters for float32 floors, not float64's).
    """
    if fast is None:
        return every_element_resolution(ctx, b) if b.checked == "all elements" else None
    if b.checked == "all elements":
        return None
    k, tolerance = fast.decisive, fast.tolerance
    norm = fast.block_norms[ctx.blocks.index(b)] if fast.block_norms else 0.0
    if not k or not tolerance:
        # the random directions over all blocks met a kink at the point: what this block's
        # own directions (if they were decisive) saw is what it can promise
        k, tolerance = len(b.directional.tol), max(b.directional.tol, default=0.0)
        norm = min((float(np.linalg.norm(d)) for d in b.directional.directions), default=0.0)
    if not k or not tolerance or not norm > 0:
        return None
    c = 0.8 / 0.01 ** (1.0 / k)
    s = step_units(ctx, b)
    weakest = norm * float(np.min(s)) / float(np.sqrt(np.mean(np.square(s))))   # w * min s_j
    rtol, atol = block_tolerance(ctx, b, 0.0)
    directional = float(c * np.sqrt(b.leaf.size) * tolerance / weakest)
    return max(directional, atol + rtol * b.scale)


def every_element_resolution(ctx: Context, b: Block) -> float | None:
    """Every element compared (full mode): the largest error that can still pass in one of them, over the block.
    Yours passes within atol + rtol * |expected| + error bar of the oracle's value, which is itself within one
    error bar of the true one: an error above the window plus a second bar fails. Elements at a kink pass
    within their interval instead (reported as kinks). Stated, so that a pass does not hide how coarse it was
    where f loses precision."""
    ok = ~b.kink & np.isfinite(b.error) & np.isfinite(b.expected)
    if not np.any(ok):
        return None
    rtol, atol = block_tolerance(ctx, b, tolerances.finite_scale(b.expected))
    return float(np.max(atol + rtol * np.abs(b.expected[ok]) + 2 * b.error[ok]))


def param_report(ctx: Context, b: Block, user_tree: dict, stepping, fast) -> ParamReport:
    leaf = b.leaf
    rep = ParamReport(path=leaf.path, shape=tuple(leaf.shape), dtype=str(b.dtype), size=leaf.size,
                      passed=not b.failed_directional, checked=b.checked,
                      step=None if stepping is None else stepping.t, resolution=resolution(ctx, b, fast))
    if not len(b.idx):
        if not rep.passed:
            rep.rtol, rep.atol = block_tolerance(ctx, b, 0.0)
            rep.diagnosis = diagnose_block(leaf.path, user_tree, b.directional)
        return rep
    cmp = compare_block(ctx, b)
    pos = b.idx[cmp.worst_index[0]]
    rep.n_checked, rep.n_mismatch = cmp.n_total, cmp.n_mismatch
    rep.max_abs, rep.max_rel = cmp.max_abs, cmp.max_rel
    rep.worst_index = tuple(int(i) for i in np.unravel_index(int(pos), leaf.shape)) if leaf.shape else ()
    rep.worst_actual, rep.worst_expected = cmp.worst_actual, cmp.worst_expected
    k = int(np.flatnonzero(b.idx == pos)[0])
    rep.worst_error_estimate = None if b.kink[k] else float(b.error[k])
    if b.kink[k]:
        rep.worst_kink_interval = (float(b.lo[k]), float(b.hi[k]))
    finite_err = b.error[~b.kink & np.isfinite(b.error)]
    rep.error_estimate = float(finite_err.max()) if finite_err.size else None
    rep.rtol, rep.atol = cmp.rtol, cmp.atol
    rep.passed = cmp.passed and not b.tie_failures
    rep.tie_failures = list(b.tie_failures)
    if b.failed_directional and cmp.passed and b.checked in ("localized", "sampled"):
        rep.passed = False  # the directional test failed; the elements seen so far do not show why
    kink_idx = b.idx[b.kink]
    rep.n_kinks = int(len(kink_idx))
    rep.kink_indices = [tuple(int(i) for i in np.unravel_index(int(j), leaf.shape)) for j in kink_idx[:10]]
    if not cmp.passed:
        ev = ElementEvidence(b.idx, b.expected, _abs_tol(cmp, b))
        rep.diagnosis = diagnose_block(leaf.path, user_tree, ev if len(b.idx) >= 2 else b.directional)
        zero = _nonzero_where_zero(b, cmp)
        if len(zero):
            where = [tuple(int(i) for i in np.unravel_index(int(j), leaf.shape)) for j in zero[:3]]
            rep.diagnosis.append(messages.zero_expected_hint(len(zero), where))
        spread = cmp.n_mismatch >= max(2, cmp.n_total // 2)  # round-off touches most elements
        if _itemsize(b.dtype) >= 8 and cmp.max_rel is not None and 1e-9 < cmp.max_rel < 1e-3 \
                and spread and not rep.diagnosis and _float32_values(b.user):
            rep.diagnosis.append(messages.float32_values_hint(cmp.max_rel))
    return rep


def catalog_diagnosis(ctx: Context, reports) -> None:
    """Name the bug-catalog entries (reference_nets) that reproduce the user's wrong gradients."""
    from gradcheck.reference_nets import CATALOG, diagnose

    spec, x, t = ctx.opts.network
    problem = ctx.problem
    params = problem.unflatten(problem.x0)
    grads = problem.unflatten(np.concatenate([b.user for b in ctx.blocks]))
    if not isinstance(params, dict):
        return
    found = diagnose(spec, params, x, t, grads)
    by_path = {f"{problem.root}[{k!r}]": names for k, names in found.items()}
    for rep in reports:
        for name in by_path.get(rep.path, []) if not rep.passed else []:
            rep.diagnosis.insert(0, f"{CATALOG[name].title} (bug catalog: {name})")


def _itemsize(dtype) -> int:
    return 2 if "bfloat16" in str(dtype) else np.dtype(dtype).itemsize


def _nonzero_where_zero(b: Block, cmp) -> np.ndarray:
    """Flat indices (in b) of mismatching elements whose expected value is exactly 0 (not at a kink)."""
    sel = cmp.mismatch_mask & (b.expected == 0) & ~b.kink & (b.user[b.idx] != 0)
    return b.idx[sel]


def _float32_values(user: np.ndarray) -> bool:
    """Every finite value of a float64 gradient is a float32 number: evidence it was computed in float32."""
    finite = user[np.isfinite(user)]
    if finite.size < 2 or not np.any(finite):
        return False
    with np.errstate(over="ignore"):
        return bool(np.all(finite.astype(np.float32).astype(np.float64) == finite))


def _within_roundoff_range(ctx: Context, b: Block) -> bool:
    """The mismatches of a float32/16 block could be its round-off: under 1 % of the block's scale.

    Round-off where terms cancel can reach that; a larger difference is a bug
    whatever the dtype, and gets no word about round-off.
    """
    if not len(b.idx):
        return False
    cmp = compare_block(ctx, b)
    scale = tolerances.finite_scale(b.expected)
    return bool(cmp.max_abs <= 0.01 * scale)


def _abs_tol(cmp, b: Block) -> np.ndarray:
    return cmp.atol + cmp.rtol * np.abs(b.expected) + np.where(b.kink, 0.0, b.error)
