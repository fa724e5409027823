"""Built-in ``slides``: the 2-2-2 network of the lecture slides "Back propagation explained".

``forward(w, x) -> (h1, h2, y1, y2)`` and ``gradients(w, x, d) -> {"w1": ..., ..., "w8": ...}``
with ε = ½Σ(y − d)², against the worked example of the reference networks
(``reference_nets.worked_examples``), whose weight numbering the description shows.
"""
from __future__ import annotations

import importlib

from ..checks import Assignment, Part, Wrong
from ._refs import rn

DESCRIPTION = """\
slides.py defines forward(w, x) -> (h1, h2, y1, y2) and gradients(w, x, d) -> {"w1": dε/dw1, ..., "w8": dε/dw8}
for the logistic 2-2-2 network without biases, where w maps "w1".."w8" to numbers, x = (x1, x2), d = (d1, d2):
    q1 = x1 w1 + x2 w2,  q2 = x1 w3 + x2 w4,   h = σ(q)          (hidden layer)
    z1 = h1 w5 + h2 w6,  z2 = h1 w7 + h2 w8,   y = σ(z)          (output layer)
    ε = ½((y1 − d1)² + (y2 − d2)²),  σ(v) = 1 / (1 + e^−v)
"""
WEIGHTS = ("w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8")


def _worked():
    for name in ("worked_examples", "documents"):
        try:
            return importlib.import_module(f"{rn.__name__}.{name}")
        except ImportError:
            continue
    raise ImportError("the reference networks have no worked examples module")


def _cases(rng, n=3):
    out = []
    for _ in range(n):
        w = {k: float(v) for k, v in zip(WEIGHTS, rng.uniform(-1.5, 1.5, size=8))}
        out.append((w, rng.uniform(-1, 1, size=2), rng.uniform(0.05, 0.95, size=2)))
    return out


def forward_check(ctx):
    we = _worked()
    parts = None
    for w, x, _ in _cases(ctx.rng):
        got = ctx.call("forward", w, x)
        if not isinstance(got, (tuple, list)) or len(got) != 4:
            raise Wrong("forward(w, x) should return the tuple (h1, h2, y1, y2)")
        f = we.forward_slides(x[0], x[1], w)
        these = [ctx.compare(k, g, getattr(f, k)) for k, g in zip(("h1", "h2", "y1", "y2"), got)]
        parts = _first_failures(parts, these)
    return parts


def gradients_check(ctx):
    we = _worked()
    parts = None
    for w, x, d in _cases(ctx.rng):
        got = ctx.call("gradients", w, x, d)
        if not isinstance(got, dict):
            raise Wrong(f"gradients(w, x, d) should return a dict with the keys {', '.join(WEIGHTS)}, got "
                        f"a {type(got).__name__}")
        exp = we.gradients_slides(x[0], x[1], d[0], d[1], w)
        scale = max(abs(v) for v in exp.values())
        these = [ctx.compare(k, got[k], exp[k], global_scale=scale) if k in got else
                 _missing(k) for k in WEIGHTS]
        parts = _first_failures(parts, these)
    return parts


def _first_failures(parts, these):
    """Per name, the first case that failed (else the latest pass), across the seeded cases."""
    return these if parts is None else [p if not p.passed else t for p, t in zip(parts, these)]


def _missing(k):
    return Part(k, False, problem="missing from the returned dict")


def build(**options) -> Assignment:
    a = Assignment("slides", module="slides", find=True,
                   title='The 2-2-2 network of "Back propagation explained"', description=DESCRIPTION,
                   seed=options.pop("seed", 8), **options)
    a.summary_line = "Three seeded sets of weights, inputs and targets; weights numbered as in the description."
    a.check("forward", points=30, part_noun="values")(forward_check)
    a.check("gradients", points=70, part_noun="weight gradients")(gradients_check)
    return a
