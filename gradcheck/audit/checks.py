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

import zlib
from dataclasses import dataclass, field

import numpy as np

from .feedback import DETAILS, failure_text, printed_text, render_check
from .wire import Handle

__all__ = ["Assignment", "Check", "Context", "Part", "CheckResult", "SubmissionResult", "StudentFailed",
           "NotImplementedByStudent", "Wrong"]


# --------------------------------------------------------------------------- results
@dataclass
class Part:
    """One verdict inside a check: ``label`` (e.g. "dw") passed or not, with its reasons.

    ``problem``: what is wrong, in words (shown at detail "full" and "hint");
    ``numbers``: values, tolerances, worst element (shown at "full" only);
    ``diagnosis``: likely causes in words (full and hint); ``formulas``: the same as formulas
    (full only); ``bugs``: names for the class report.
    """

    label: str
    passed: bool
    weight: float = 1.0
    problem: str = ""
    numbers: str = ""
    diagnosis: list = field(default_factory=list)
    bugs: list = field(default_factory=list)
    formulas: list = field(default_factory=list)   # the diagnosed mistakes as formulas ("full" only)


@dataclass
class CheckResult:
    name: str
    check: str          # the check's kind label for the class report ("affine backward", "forward", ...)
    score: float
    max_score: float
    output: str
    bugs: list = field(default_factory=list)   # diagnosed mistakes and failure kinds (timeout, ...)

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


class StudentFailed(Exception):
    """A call into the submission did not return (exception, timeout, crash, missing ...)."""

    def __init__(self, outcome, function: str):
        super().__init__(outcome.message)
        self.outcome, self.function = outcome, function


class NotImplementedByStudent(Exception):
    """The function is missing, raises NotImplementedError or returns None (an unfilled stub)."""


class Wrong(Exception):
    """What came back has the wrong structure (a list for a dict, a wrong shape): a failed Part."""


# --------------------------------------------------------------------------- per submission
class Session:
    """One submission's sandbox plus what the checks learn about it.

    A function whose call timed out or crashed the child is not called again: its later
    calls get the same verdict ("not run: ..."), since every retry would cost a fresh child
    and a student's infinite loop or segfault does not depend on the inputs.
    """

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.broken: dict = {}

    def invoke(self, op, name, args=(), kwargs=None, *, handle=None, value=None, select=None):
        key = name if op == "call" else f"{getattr(handle, 'type_name', '')}.{name}"
        if key in self.broken:
            return _Skipped(self.broken[key])
        out = self.sandbox.invoke(op, name, args, kwargs, handle=handle, value=value, select=select)
        if out.kind in ("timeout", "crash", "protocol"):
            what = out.message if out.kind == "timeout" else \
                f"{'crashed' if out.kind == 'crash' else 'broke the protocol'} ({out.message})"
            self.broken[key] = (f"not run: {name}() {what} in an earlier check", out.kind)
        return out


class _Skipped:
    """Stands in for a call that was not made; ``reason`` is the kind of the earlier failure."""

    ok = False
    kind = "skipped"
    traceback = stdout = error_type = ""
    value = None

    def __init__(self, why):
        self.message, self.reason = why


def _float_dtypes(value, found, depth=0):
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        found.add(value.dtype)
    elif isinstance(value, float):
        found.add(np.dtype(np.float64))
    elif depth < 8 and isinstance(value, (list, tuple)):
        for v in value:
            _float_dtypes(v, found, depth + 1)
    elif depth < 8 and isinstance(value, dict):
        for v in value.values():
            _float_dtypes(v, found, depth + 1)
    return found


class Context:
    """What a check uses to talk to the submission and to judge what it returns.

    ``rng`` is seeded from the assignment's seed and the check's name, so every
    submission, every shard and every re-run sees the same inputs.
    """

    def __init__(self, assignment: "Assignment", session: Session, check_name: str):
        self.assignment = assignment
        self._session = session
        self.rng = np.random.default_rng([assignment.seed, zlib.crc32(check_name.encode())])
        self.notes: list = []         # sentences shown under the check (float32 answers, ...)
        self.printed: list = []       # what the student's code printed during the check's calls
        self._sent: set = set()       # float dtypes the grader sent in this check

    # -- calling the submission
    def call(self, name: str, /, *args, **kwargs):
        """``module.name(*args, **kwargs)`` in the sandbox -> its value (wire data or Handles).

        Raises StudentFailed when the call does not return, NotImplementedByStudent when the
        function is missing, raises NotImplementedError or returns None.
        """
        return self.invoke("call", name, args, kwargs)

    def call_method(self, handle: Handle, name: str, /, *args, **kwargs):
        return self.invoke("call_method", name, args, kwargs, handle=handle)

    def get_attr(self, handle: Handle | None, name: str):
        return self.invoke("get_attr", name, handle=handle, none_is_stub=False)

    def set_attr(self, handle: Handle, name: str, value) -> None:
        self.invoke("set_attr", name, handle=handle, value=value, none_is_stub=False)

    def has(self, name: str) -> bool:
        """Whether the module defines ``name`` (a function or class; "Class.attr" works too)."""
        out = self._session.invoke("get_attr", name)
        return out.ok

    def invoke(self, op: str, name: str, args=(), kwargs=None, *, handle=None, value=None, select=None,
               none_is_stub: bool = True):
        """The general call: ``select`` (a list of indices/keys) picks a part of the result in
        the child, so only that part crosses the pipe."""
        _float_dtypes((args, kwargs, value), self._sent)
        label = name
        out = self._session.invoke(op, name, args, kwargs, handle=handle, value=value, select=select)
        if getattr(out, "stdout", ""):
            self.printed.append(out.stdout)
        if out.ok:
            if out.value is None and none_is_stub:
                raise NotImplementedByStudent(f"{label}() returned None (is it still a stub?)")
            return out.value
        if out.kind == "missing" and op in ("call", "get_attr"):
            raise NotImplementedByStudent(out.message)
        if out.kind == "exception" and out.error_type == "NotImplementedError":
            raise NotImplementedByStudent(f"{label}() raises NotImplementedError")
        raise StudentFailed(out, label)

    # -- judging
    @property
    def tolerance_dtype(self):
        """The dtype whose tolerance applies: the assignment's precision, else the widest float sent."""
        if self.assignment.precision is not None:
            return np.dtype(self.assignment.precision)
        return max(self._sent, key=lambda d: d.itemsize) if self._sent else np.dtype(np.float64)

    def array(self, value, shape, what: str) -> np.ndarray:
        """value -> a float64 array of ``shape``, or Wrong saying what came back instead.

        Nested lists of numbers are accepted (a loop-style answer).  An answer in a lower
        precision than the tolerance's dtype is noted (and still graded at that tolerance).
        """
        shape = tuple(shape)
        if isinstance(value, Handle):
            raise Wrong(f"{what} should be an array of shape {shape}, got a {value.type_name}")
        if isinstance(value, dict):
            raise Wrong(f"{what} should be an array of shape {shape}, got a dict")
        if isinstance(value, (list, tuple)):
            try:
                value = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError):
                raise Wrong(f"{what} should be an array of shape {shape}, got a {type(value).__name__} "
                            f"that is not a rectangular table of numbers") from None
        if isinstance(value, (bool, int, float)):
            value = np.asarray(value, dtype=np.float64)
        if not isinstance(value, np.ndarray):
            raise Wrong(f"{what} should be an array of shape {shape}, got {type(value).__name__}")
        if value.shape != shape:
            if value.size == int(np.prod(shape)) and value.squeeze().shape == np.empty(shape).squeeze().shape:
                hint = f" (reshape it to {shape})"
            elif len(shape) == 2 and value.shape == shape[::-1]:
                hint = " (transposed?)"
            else:
                hint = ""
            raise Wrong(f"{what} has shape {value.shape}, expected {shape}{hint}")
        want = self.tolerance_dtype
        if value.dtype.kind == "f" and value.dtype.itemsize < want.itemsize:
            note = (f"You returned {value.dtype} arrays although the grader sent {want} inputs; they are graded "
                    f"at the {want} tolerance, so compute in {want} (do not convert to {value.dtype}).")
            if note not in self.notes:
                self.notes.append(note)
        return np.asarray(value, dtype=np.float64)

    def compare(self, label: str, actual, expected, *, what: str | None = None, global_scale: float = 0.0,
                weight: float = 1.0) -> Part:
        """One Part: ``actual`` (from the student) against ``expected`` (the instructor's reference)."""
        from gradcheck.compare import compare_arrays

        expected = np.asarray(expected, dtype=np.float64)
        try:
            a = self.array(actual, expected.shape, what or label)
        except Wrong as e:
            return Part(label, False, weight, problem=str(e))
        cmp = compare_arrays(a, expected, rtol=self.assignment.rtol, atol=self.assignment.atol,
                             dtype=self.tolerance_dtype, global_scale=global_scale)
        if cmp.passed:
            return Part(label, True, weight)
        from .feedback import mismatch_numbers, mismatch_problem, pattern_words

        return Part(label, False, weight, problem=mismatch_problem(cmp), numbers=mismatch_numbers(cmp),
                    diagnosis=pattern_words(label, a, expected) if cmp.n_total > 1 else [])

    def compare_with_fd(self, labels, f, inputs, cotangent, grads, *, what: str = "",
                        source: str = "your forward") -> list:
        """Parts for ``grads`` (one per input of f) against finite differences of f.

        f(*inputs) calls the student's own forward (through this Context); ``grads`` holds
        what the student's backward returned for each input (anything: checked here).
        Uses gradcheck.vjp_report in fast mode: a few evaluations when right, localized
        element-wise when wrong.  ``source`` names f in the feedback ("your affine_forward()").
        """
        import gradcheck
        from gradcheck.errors import GradcheckUsageError, NonDeterministic

        parts, keep = [None] * len(labels), []
        for i, (label, x, g) in enumerate(zip(labels, inputs, grads)):
            try:
                keep.append((i, self.array(g, np.shape(x), f"{what}{label}")))
            except Wrong as e:
                parts[i] = Part(label, False, problem=str(e))
        if keep:
            failed: list = []
            idx = [i for i, _ in keep]

            def sub(*xs):
                full = list(inputs)
                for i, x in zip(idx, xs):
                    full[i] = x
                try:
                    return np.asarray(f(*full), dtype=np.float64)
                except (StudentFailed, NotImplementedByStudent, Wrong) as e:
                    failed.append(e)
                    raise

            sent = self.tolerance_dtype
            try:
                xs = tuple(np.asarray(inputs[i], dtype=sent) for i in idx)
                report = gradcheck.vjp_report(sub, xs, np.asarray(cotangent, dtype=sent),
                                              tuple(g.astype(sent) for _, g in keep), mode="fast",
                                              rtol=self.assignment.rtol, atol=self.assignment.atol,
                                              seed=self.assignment.seed)
            except NonDeterministic:
                raise Wrong(f"{source} returned different values for the same inputs, so its derivative cannot be "
                            f"checked; make it deterministic (e.g. seed it from the parameters you are given)") \
                    from None
            except Exception as e:  # noqa: BLE001 - the student's forward failed while being differenced
                if failed:
                    raise failed[0] from None
                if isinstance(e, GradcheckUsageError):
                    raise Wrong(f"{source} cannot be differentiated by finite differences: "
                                f"{str(e).split('. ')[0]}") from None
                raise
            from .feedback import fd_numbers

            for (i, _), p in zip(keep, report.params):
                if p.passed:
                    parts[i] = Part(labels[i], True)
                else:
                    n = f"{p.n_mismatch} of {p.n_checked or p.size} elements checked differ" if p.n_checked \
                        else "wrong along random directions"
                    parts[i] = Part(labels[i], False, problem=n, numbers=fd_numbers(p),
                                    diagnosis=[_words(d) for d in p.diagnosis])
        return parts


def _words(d: str) -> str:
    return d[0].upper() + d[1:] if d else d


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
        result = ctx.call(self.forward, *args)
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

    def check(self, name: str, *, points: float, kind: str | None = None, optional: str | None = None):
        """Decorator: ``@a.check("Network backprop", points=10)`` over ``def f(ctx) -> [Part, ...]``."""
        def deco(fn):
            self.add(Check(name, points, fn, kind=kind, optional=optional))
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
            parts = [Part(e.function, False, problem=failure_text(e.outcome, e.function))]
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
