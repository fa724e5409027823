"""Name the likely bug behind a mismatch: patterns tested against the evidence.

Each hypothesis says what the true gradient would be if the user's had a
given bug (user = 2 x truth, user = truth transposed, user holds another
parameter's gradient, ...). A hypothesis is reported when the oracle's
evidence fits it: known elements (element-wise) or directional derivatives
(fast mode). Nothing here evaluates f.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from gradcheck import tolerances


@dataclass
class ElementEvidence:
    """Expected values known at some flat indices of a block."""

    index: np.ndarray        # flat indices into the block
    expected: np.ndarray     # oracle values there
    tol: np.ndarray          # allowed |difference| per element

    def fits(self, candidate: np.ndarray) -> bool:
        cand = candidate.reshape(-1)[self.index]
        return bool(np.all(np.abs(cand - self.expected) <= self.tol))

    def projections(self, array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return array.reshape(-1)[self.index], self.expected


@dataclass
class DirectionalEvidence:
    """Directional derivatives: expected[i] ~ <truth, directions[i]> within tol[i]."""

    directions: list = field(default_factory=list)  # flat arrays over the block
    expected: list = field(default_factory=list)
    tol: list = field(default_factory=list)

    def add(self, direction, value, tol):
        self.directions.append(np.asarray(direction, dtype=np.float64).reshape(-1))
        self.expected.append(float(value))
        self.tol.append(float(tol))

    def fits(self, candidate: np.ndarray) -> bool:
        if len(self.directions) < 2:
            return False  # one number cannot tell hypotheses apart
        c = candidate.reshape(-1)
        return all(abs(float(c @ d) - e) <= t for d, e, t in zip(self.directions, self.expected, self.tol))

    def projections(self, array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a = array.reshape(-1)
        return np.array([float(a @ d) for d in self.directions]), np.array(self.expected)


_NAMED_FACTORS = {
    Fraction(2): "yours is 2 × the expected value (a forgotten ½, or a doubled term?)",
    Fraction(1, 2): "yours is ½ × the expected value (an extra ½?)",
    Fraction(-1): "yours has the wrong sign (error computed as t − y instead of y − t?)",
    Fraction(-2): "yours is −2 × the expected value (sign flipped and the ½ forgotten?)",
    Fraction(-1, 2): "yours is −½ × the expected value (sign flipped and an extra ½?)",
}


def describe_factor(c: float) -> str:
    """A sentence for 'user = c × truth', naming the likely cause (c already snapped)."""
    frac = Fraction(c).limit_denominator(4096)
    if float(frac) == c:
        if frac in _NAMED_FACTORS:
            return _NAMED_FACTORS[frac]
        if frac.numerator == 1 and frac.denominator > 2:
            n = frac.denominator
            return f"yours is 1/{n} × the expected value (averaged over a batch of {n} instead of summed?)"
        if frac.denominator == 1 and frac.numerator > 2:
            n = frac.numerator
            return f"yours is {n} × the expected value (summed over a batch of {n} instead of averaged?)"
    return f"yours is {c:.6g} × the expected value (off by a constant factor)"


def _snap(c: float, evidence, a) -> float | None:
    """The simplest factor the evidence accepts: a small fraction if it fits, else c itself."""
    for limit in (2, 64, 4096):
        frac = float(Fraction(c).limit_denominator(limit))
        if frac != 0 and abs(frac - c) <= 0.01 * abs(c) and evidence.fits(a / frac):
            return frac
    return c if evidence.fits(a / c) else None


def _fit_factor(evidence, array) -> float | None:
    a, e = evidence.projections(array)
    denom = float(e @ e)
    if denom == 0 or not np.all(np.isfinite(a)):
        return None
    return float(a @ e) / denom


def diagnose_block(key, user: dict, evidence) -> list[str]:
    """Sentences for parameter ``key`` whose hypothesis fits the evidence."""
    a = np.asarray(user[key], dtype=np.float64)
    found: list[str] = []
    n_nan, n_inf = int(np.isnan(a).sum()), int(np.isinf(a).sum())
    if n_nan or n_inf:
        parts = [f"{n} {'NaN' if what == 'nan' else 'inf'}" for n, what in ((n_nan, "nan"), (n_inf, "inf")) if n]
        found.append(f"yours contains {' and '.join(parts)} (of {a.size} elements): look for log(0), 0/0 or overflow")
        return found
    if a.size and not np.any(a):
        found.append("yours is all zeros (gradient never written, or overwritten by zeros?)")
        return found
    c = _fit_factor(evidence, a)
    if c is not None and c != 0 and abs(c - 1) > 1e-3:
        snapped = _snap(c, evidence, a)
        if snapped is not None and snapped != 1:
            found.append(describe_factor(snapped))
    if a.ndim == 2 and a.shape[0] == a.shape[1] and a.shape[0] > 1 and evidence.fits(a.T):
        found.append("yours is the transpose of the expected value (x·δᵀ vs δ·xᵀ?)")
    for other, b in user.items():
        if other == key:
            continue
        b = np.asarray(b, dtype=np.float64)
        if b.shape == a.shape and not np.allclose(a, b) and evidence.fits(b):
            found.append(f"yours looks like the gradient of {other} (swapped with {other}?)")
    return found


def diagnose_patterns(actual: dict, expected: dict, *, rtol=None, atol=None) -> dict:
    """Per key where actual and expected differ: the patterns that explain it.

    Both are dicts of arrays with the same keys and shapes (complete knowledge),
    as the auditor has with the exact reference.
    """
    out = {}
    user = {k: np.asarray(v) for k, v in actual.items()}
    for key, exp in expected.items():
        exp = np.asarray(exp, dtype=np.float64)
        act = np.asarray(actual[key])
        scale = float(np.max(np.abs(exp))) if exp.size else 0.0
        r, a = tolerances.resolve(act.dtype, rtol, atol, scale)
        tol = a + r * np.abs(exp.reshape(-1))
        ev = ElementEvidence(np.arange(exp.size), exp.reshape(-1), tol)
        if ev.fits(np.asarray(act, dtype=np.float64)):
            continue
        out[key] = diagnose_block(key, user, ev)
    return out
