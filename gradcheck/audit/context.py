"""How a check talks to a submission: a Context per check over a Session per submission.

Every call goes through the sandbox; what comes back is wire data or Handles.  The Context
also judges what came back: tolerances from the dtype the grader sent (or the assignment's
precision), comparisons with a reference, and finite differences of the student's own
forward through gradcheck.vjp_report.
"""
from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

import numpy as np

from .feedback import capitalized, fd_numbers, mismatch_numbers, mismatch_problem, pattern_words
from .results import NotImplementedByStudent, Part, StudentFailed, Wrong
from .wire import Handle

if TYPE_CHECKING:   # (checks, where Assignment lives, imports this module)
    from .checks import Assignment

__all__ = ["Context", "Session"]


class Session:
    """One submission's sandbox plus what the checks learn about it.

    A function whose call timed out or crashed the child is not called again: its later
    calls get the same verdict ("not run: ..."), since every retry would cost a fresh child
    and a student's infinite loop or segfault does not depend on the inputs.
    """

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.broken: dict = {}

    def invoke(self, op, name, args=(), kwargs=None, *, handle=None, value=None, select=None, keep=None):
        key = name if op == "call" else f"{getattr(handle, 'type_name', '')}.{name}"
        if key in self.broken:
            return _Skipped(self.broken[key])
        out = self.sandbox.invoke(op, name, args, kwargs, handle=handle, value=value, select=select, keep=keep)
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

    def __init__(self, assignment: Assignment, session: Session, check_name: str):
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
               keep=None, none_is_stub: bool = True):
        """The general call: ``select`` (a list of indices/keys) picks a part of the result in
        the child, so only that part crosses the pipe; ``keep`` (indices of a tuple result)
        leaves those items in the child as Handles (a cache, passed back unchanged)."""
        _float_dtypes((args, kwargs, value), self._sent)
        out = self._session.invoke(op, name, args, kwargs, handle=handle, value=value, select=select, keep=keep)
        if getattr(out, "stdout", ""):
            self.printed.append(out.stdout)
        if out.ok:
            if out.value is None and none_is_stub:
                raise NotImplementedByStudent(f"{name}() returned None (is it still a stub?)")
            return out.value
        if out.kind == "missing" and op in ("call", "get_attr"):
            raise NotImplementedByStudent(out.message)
        if out.kind == "exception" and out.error_type == "NotImplementedError":
            raise NotImplementedByStudent(f"{name}() raises NotImplementedError")
        raise StudentFailed(out, name)

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
        if value is None:
            raise Wrong(f"{what} is None (not computed yet?); it should be an array of shape {shape}")
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
            if value.shape == ():
                raise Wrong(f"{what} is a single number, expected an array of shape {shape}")
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
            a = self.array(actual, expected.shape, what or f"the returned {label}")
        except Wrong as e:
            return Part(label, False, weight, problem=str(e))
        cmp = compare_arrays(a, expected, rtol=self.assignment.rtol, atol=self.assignment.atol,
                             dtype=self.tolerance_dtype, global_scale=global_scale)
        if cmp.passed:
            return Part(label, True, weight)

        return Part(label, False, weight, problem=mismatch_problem(cmp), numbers=mismatch_numbers(cmp),
                    diagnosis=pattern_words(label, a, expected) if cmp.n_total > 1 else [])

    def compare_with_fd(self, labels, f, inputs, cotangent, grads, *, source: str = "your forward") -> list:
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
                keep.append((i, self.array(g, np.shape(x), f"the returned {label}")))
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
                    if any(w in str(e) for w in ("returned nan", "returned inf", "returned -inf")):
                        raise Wrong(f"{source} returns NaN or inf for these inputs, so its derivative cannot be "
                                    f"checked") from None
                    raise Wrong(f"{source} cannot be differentiated by finite differences: "
                                f"{str(e).split('. ')[0]}") from None
                raise

            for (i, _), p in zip(keep, report.params):
                if p.passed:
                    parts[i] = Part(labels[i], True)
                else:
                    n = f"{p.n_mismatch} of {p.n_checked or p.size} elements checked differ" if p.n_checked \
                        else "wrong along random directions"
                    parts[i] = Part(labels[i], False, problem=n, numbers=fd_numbers(p),
                                    diagnosis=[capitalized(d) for d in p.diagnosis])
        return parts
