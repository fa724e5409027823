"""The assignment API: checks an instructor declares, run against a sandboxed submission.

An ``Assignment`` is a list of checks, each with its points.  A check calls the
student's code through a ``Context`` (every call goes to the sandbox; what comes back
is wire data or ``Handle``s), compares what it got and returns ``Part``s: one verdict
per compared thing (an output, one returned gradient), so partial credit is per part.
Three kinds cover most homework and are built on the same Context an instructor can use
directly with ``@assignment.check``:

- ``compare``: the student's output against a reference the instructor writes;
- ``vjp``: a hand-written backward (or a returned gradient) against finite differences
  of the student's OWN forward, so a wrong forward does not cost the backward too;
- ``check``: any Python function of a Context (classes, handles, several calls).

The grader (grader.py) loops over ``assignment.checks`` knowing nothing else.
Tolerances come from the dtype the grader sent (or ``precision``), never from what the
student returned; floors from ``gradcheck.tolerances``.
"""
from __future__ import annotations

import numpy as np

from .context import Context, Session
from .feedback import DETAILS, failure_text, printed_text, render_check
from .results import (CheckResult, NotImplementedByStudent, Part, StudentFailed, SubmissionResult,  # noqa: F401
                      Wrong)
from .wire import Handle

__all__ = ["Assignment", "Check", "Context", "Part", "CheckResult", "SubmissionResult", "StudentFailed",
           "NotImplementedByStudent", "Wrong"]


# --------------------------------------------------------------------------- checks
class Check:
    """A named check worth ``points``: ``run(ctx)`` returns its Parts (weights share the points)."""

    kind = "check"

    def __init__(self, name: str, points: float, run=None, *, kind: str | None = None, optional: str | None = None,
                 part_noun: str = "parts"):
        if not isinstance(name, str) or not name:
            raise ValueError(f"a check needs a non-empty name, got {name!r}")
        if isinstance(points, bool) or not isinstance(points, (int, float)) or points < 0:
            raise ValueError(f"check {name!r}: points must be a number >= 0, got {points!r}")
        self.name, self.points = name, float(points)
        self._run = run
        self.kind = kind or name
        self.optional = optional    # a name in the module: absent -> the check is left out, not failed
        self.part_noun = part_noun

    def run(self, ctx: Context) -> list:
        return list(self._run(ctx))


class CompareCheck(Check):
    """Call ``call`` with ``inputs(rng)``; each selected output against ``reference(*args)``."""

    def __init__(self, name, points, *, call, inputs, reference, output=None, labels=("output",), kind=None):
        super().__init__(name, points, kind=kind, part_noun="outputs")
        self.call, self.inputs, self.reference, self.output, self.labels = call, inputs, reference, output, labels

    def run(self, ctx):
        return run_cases(self, ctx, self._one)

    def _one(self, ctx, args):
        expected = self.reference(*args)
        select = [self.output] if isinstance(self.output, (int, str)) else None
        got = ctx.invoke("call", self.call, args, {}, select=select)
        if callable(self.output):
            got = self.output(got)
        if len(self.labels) == 1:
            return [ctx.compare(self.labels[0], got, expected, what=f"{self.call}() output")]
        if not isinstance(got, (tuple, list)) or len(got) != len(self.labels):
            raise Wrong(f"{self.call}() should return {len(self.labels)} values ({', '.join(self.labels)}), "
                        f"got {_kind_of(got)}")
        return [ctx.compare(lab, g, e, what=f"{lab} returned by {self.call}()")
                for lab, g, e in zip(self.labels, got, expected)]


class VJPCheck(Check):
    """A hand-written gradient against finite differences of the student's own forward.

    forward(*args) is called by name; ``output`` picks the differentiated value out of its
    result (an index), ``cache`` the object handed to ``backward(dout, cache)``.  Without
    ``backward`` the gradients are part of the forward's own result (``gradients``: index),
    e.g. ``softmax_loss(x, y) -> (loss, dx)``.  ``wrt``: which positional args are
    differentiated, named by ``labels``.  ``reference`` (optional) also compares the
    gradients with the instructor's: reference(*args, dout) -> tuple of arrays.
    """

    def __init__(self, name, points, *, forward, inputs, wrt, labels, backward=None, output=0, cache=1,
                 gradients=None, reference=None, kind=None):
        super().__init__(name, points, kind=kind, part_noun="gradients")
        if backward is None and gradients is None:
            raise ValueError(f"check {name!r}: give backward= (a function name) or gradients= (where the forward "
                             f"returns them)")
        if len(labels) != len(wrt):
            raise ValueError(f"check {name!r}: one label per wrt argument")
        self.forward, self.backward, self.inputs, self.wrt, self.labels = forward, backward, inputs, wrt, labels
        self.output, self.cache, self.gradients, self.reference = output, cache, gradients, reference

    def run(self, ctx):
        return run_cases(self, ctx, self._one)

    def _one(self, ctx, args):
        # the cache never leaves the student's process: it reaches backward as the very object
        result = ctx.invoke("call", self.forward, args, {}, keep=[self.cache] if self.backward is not None else None)
        if not isinstance(result, (tuple, list)):
            raise Wrong(f"{self.forward}() should return a tuple ({_tuple_words(self)}), got {_kind_of(result)}")
        try:
            out = result[self.output]
        except (IndexError, KeyError):
            raise Wrong(f"{self.forward}() should return a tuple ({_tuple_words(self)}), got {len(result)} "
                        f"values") from None
        if out is None:
            raise NotImplementedByStudent(f"{self.forward}() returned None as its output (is it still a stub?)")
        out = ctx.array(out, np.shape(out) if not isinstance(out, (list, tuple)) else np.asarray(out).shape,
                        f"{self.forward}() output")
        dout = ctx.rng.normal(size=out.shape) if out.ndim else np.float64(1.0)
        if self.backward is not None:
            grads = ctx.call(self.backward, dout, result[self.cache])
            where = f"{self.backward}(dout, cache)"
        else:
            grads = result[self.gradients]
            where = f"{self.forward}()"
        if len(self.wrt) == 1:
            grads = (grads,) if not (isinstance(grads, tuple) and len(grads) == 1) else grads
        elif not isinstance(grads, (tuple, list)) or len(grads) != len(self.wrt):
            raise Wrong(f"{where} should return a tuple ({', '.join(self.labels)}), got {_kind_of(grads)}")
        wrt_args = [np.asarray(args[i], dtype=np.float64) for i in self.wrt]

        def f(*xs):
            full = list(args)
            for i, x in zip(self.wrt, xs):
                full[i] = x
            return ctx.invoke("call", self.forward, tuple(full), {}, select=[self.output])

        parts = ctx.compare_with_fd(self.labels, f, wrt_args, dout, list(grads), source=f"your {self.forward}()")
        if self.reference is not None:
            expected = self.reference(*args, dout)
            ref = [ctx.compare(lab, g, e) for lab, g, e in zip(self.labels, grads, expected)]
            for p, r in zip(parts, ref):
                if p.passed and not r.passed:
                    p.passed, p.problem, p.numbers = False, "differs from the reference gradient", r.numbers
        return parts


def _case_name(args) -> str:
    first = next((a for a in args if isinstance(a, np.ndarray)), None)
    return f"inputs of shape {first.shape}" if first is not None else "the inputs"


def run_cases(check, ctx, one) -> list:
    """``inputs(rng)`` gives one tuple of arguments, or a list of them (several shapes): a
    part passes when it passes on every case; the first failing case says why."""
    cases = check.inputs(ctx.rng)
    if not isinstance(cases, list):
        return one(ctx, tuple(cases))
    per_case = [(_case_name(args), one(ctx, tuple(args))) for args in cases]
    merged = []
    for i, first in enumerate(per_case[0][1]):
        bad = [(name, parts[i]) for name, parts in per_case if not parts[i].passed]
        if not bad:
            merged.append(first)
            continue
        name, p = bad[0]
        where = f"with {name}" + (f"; wrong on {len(bad)} of {len(per_case)} inputs" if len(per_case) > 1 else "")
        merged.append(Part(p.label, False, p.weight, problem=f"{p.problem} ({where})", numbers=p.numbers,
                           diagnosis=p.diagnosis, bugs=p.bugs, formulas=p.formulas))
    return merged


def _kind_of(v) -> str:
    if isinstance(v, Handle):
        return f"a {v.type_name}"
    if isinstance(v, (list, tuple)):
        return f"a {type(v).__name__} of {len(v)}"
    if isinstance(v, np.ndarray):
        return f"an array of shape {v.shape}"
    return f"a {type(v).__name__}"


def _tuple_words(c: VJPCheck) -> str:
    return "out, cache" if c.backward is not None else ", ".join(["value"] + list(c.labels))


# --------------------------------------------------------------------------- the assignment
class Assignment:
    """An assignment: what to import from a submission and the checks that grade it.

    module: the student's module, dotted for a package (``cs231n.layers``); with
    ``find=True`` the file ``<last part>.py`` is searched anywhere in the submission
    (e.g. ``layers`` finds ``hw2/cs231n/layers.py``).  precision: the dtype whose
    tolerance applies ("float64", "float32"), default the dtype of the inputs sent.
    rtol/atol: override gradcheck's floors.  detail: feedback shown to students, "full"
    (values, diagnosis, formula), "hint" (which check and part, the diagnosis in words)
    or "score" (points only).
    """

    def __init__(self, name: str, *, module: str, title: str = "", description: str = "", find: bool = False,
                 seed: int = 0, precision: str | None = None, rtol: float | None = None,
                 atol: float | None = None, detail: str = "full", visibility: str = "visible",
                 timeout: float = 10.0, memory_mb: int = 1024, cpu_seconds: int = 120, file_mb: int = 16,
                 nproc: int = 64, allowed_imports=("numpy", "stdlib"), bug_titles: dict | None = None,
                 source: str = ""):
        if not isinstance(name, str) or not name:
            raise ValueError(f"an assignment needs a name, got {name!r}")
        if not isinstance(module, str) or not all(p.isidentifier() for p in module.split(".")):
            raise ValueError(f"module must be a module name such as 'layers' or 'cs231n.layers', got {module!r}")
        if detail not in DETAILS:
            raise ValueError(f"detail must be one of {', '.join(DETAILS)}, got {detail!r}")
        if precision is not None and precision not in ("float64", "float32", "float16"):
            raise ValueError(f"precision must be 'float64', 'float32', 'float16' or None, got {precision!r}")
        for k, v in (("rtol", rtol), ("atol", atol)):
            if v is not None and not v > 0:
                raise ValueError(f"{k} must be positive, got {v!r}")
        self.name, self.module, self.title, self.description = name, module, title or name, description
        self.find, self.seed, self.precision, self.rtol, self.atol = find, int(seed), precision, rtol, atol
        self.detail, self.visibility = detail, visibility
        self.timeout, self.memory_mb, self.cpu_seconds, self.file_mb, self.nproc = \
            float(timeout), memory_mb, cpu_seconds, file_mb, nproc
        self.allowed_imports = tuple(allowed_imports) if allowed_imports is not None else None
        self.bug_titles = dict(bug_titles or {})
        self.source = source
        self.checks: list = []
        self.tag_failures = True   # name "<check>: <part>" in the class report where no bug was diagnosed
        self.summary_line = ""     # one line under the score (e.g. which networks were used)

    # -- declaring checks
    def add(self, check: Check) -> Check:
        if any(c.name == check.name for c in self.checks):
            raise ValueError(f"assignment {self.name!r} already has a check named {check.name!r}")
        self.checks.append(check)
        return check

    def check(self, name: str, *, points: float, kind: str | None = None, optional: str | None = None,
              part_noun: str = "parts"):
        """Decorator: ``@a.check("Network backprop", points=10)`` over ``def f(ctx) -> [Part, ...]``;
        ``part_noun`` names the Parts in "2 of 4 <part_noun> correct"."""
        def deco(fn):
            self.add(Check(name, points, fn, kind=kind, optional=optional, part_noun=part_noun))
            return fn
        return deco

    def compare(self, name: str, *, call: str, inputs, reference, points: float, output=None,
                labels=("output",), kind: str | None = None) -> Check:
        """The student's ``call(*inputs(rng))`` (``output``: an index into its result) against
        ``reference(*args)`` (one array, or one per label)."""
        return self.add(CompareCheck(name, points, call=call, inputs=inputs, reference=reference, output=output,
                                     labels=labels, kind=kind))

    def vjp(self, name: str, *, forward: str, inputs, wrt, labels, points: float, backward: str | None = None,
            output=0, cache=1, gradients=None, reference=None, kind: str | None = None) -> Check:
        """The student's gradients against finite differences of their own ``forward`` (see VJPCheck)."""
        return self.add(VJPCheck(name, points, forward=forward, inputs=inputs, wrt=wrt, labels=labels,
                                 backward=backward, output=output, cache=cache, gradients=gradients,
                                 reference=reference, kind=kind))

    @property
    def max_score(self) -> float:
        return float(sum(c.points for c in self.checks))

    def locate(self, folder: str) -> tuple:
        """(module, root) to import from a submission folder (see ``find``)."""
        if not self.find:
            return self.module, ""
        from .submission_files import find_module

        return find_module(folder, self.module)

    # -- running
    def run_check(self, check: Check, session: Session) -> CheckResult | None:
        """One check's verdict; None for an optional check whose name the module lacks."""
        ctx = Context(self, session, check.name)
        bugs: list = []
        try:
            if check.optional and not ctx.has(check.optional):
                return None
            parts = check.run(ctx)
        except NotImplementedByStudent as e:
            parts, bugs = [Part("not implemented", False, problem=str(e))], ["not implemented"]
        except StudentFailed as e:
            parts = [Part("", False, problem=failure_text(e.outcome, e.function))]
            bugs = [_failure_tag(e.outcome)]
        except Wrong as e:
            parts = [Part("", False, problem=str(e))]
        total = sum(p.weight for p in parts) or 1.0
        score = round(check.points * sum(p.weight for p in parts if p.passed) / total, 4)
        bugs += [b for p in parts for b in p.bugs]
        if self.tag_failures and not bugs:
            bugs += [f"{check.kind}: {p.label}" for p in parts if not p.passed]
        out = render_check(check, parts, self.detail, notes=ctx.notes, printed=printed_text(ctx.printed))
        return CheckResult(check.name, check.kind, score, check.points, out, sorted(set(bugs)))


def _failure_tag(outcome) -> str:
    kind = getattr(outcome, "reason", outcome.kind)
    return {"timeout": "timed out", "crash": "crashed", "exit": "exited", "protocol": "sent bad data",
            "import": "import failed", "convert": "returned non-numbers", "stale": "crashed"}.get(
        kind, "raised an exception")
