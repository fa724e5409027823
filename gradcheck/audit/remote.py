"""The sandbox as a library, for instructors who write their own pytest graders.

    with load_submission("submissions/alice", timeout=5) as sub:
        grads = sub.backward(params, x, t)     # runs in alice's sandboxed child

Attributes of the returned object are remote functions: arguments go to the child as
wire values (numbers, arrays, lists, tuples, dicts), results come back the same way (objects
that are not data stay in the child as handles), and anything the
student's code does wrong (exception, sys.exit, timeout, crash, non-numeric return)
raises ``SubmissionError`` here, carrying the trimmed traceback.
"""
from __future__ import annotations

from .sandbox import Limits, Sandbox

__all__ = ["load_submission", "RemoteSubmission", "SubmissionError"]


class SubmissionError(Exception):
    """The submission failed a call: ``kind`` says how (see ``sandbox.Outcome``)."""

    def __init__(self, message: str, *, kind: str, function: str, error_type: str = "", traceback: str = "",
                 stdout: str = "", stderr: str = ""):
        super().__init__(message)
        self.kind, self.function, self.error_type = kind, function, error_type
        self.traceback, self.stdout, self.stderr = traceback, stdout, stderr

    def __str__(self) -> str:
        text = self.args[0]
        if self.traceback:
            text += "\nTraceback (most recent call last, the submission's files only):\n" + self.traceback.rstrip()
        return text


def _message(function: str, out) -> str:
    if out.kind == "exception":
        return f"{function}() raised {out.error_type}: {out.message}"
    if out.kind == "import":
        return f"the submission could not be imported: {out.error_type}: {out.message}"
    if out.kind in ("missing",):
        return out.message
    if out.kind == "convert":
        return f"{function}() returned something that is not numbers: {out.message}"
    return f"{function}(): {out.message}"


class RemoteFunction:
    def __init__(self, owner: "RemoteSubmission", name: str):
        self._owner, self.__name__ = owner, name

    def __call__(self, *args, timeout: float | None = None):
        out = self._owner._sandbox.invoke("call", self.__name__, args, timeout=timeout)
        if out.ok:
            return out.value
        raise SubmissionError(_message(self.__name__, out), kind=out.kind, function=self.__name__,
                              error_type=out.error_type, traceback=out.traceback, stdout=out.stdout,
                              stderr=out.stderr)

    def __repr__(self) -> str:
        return f"<remote function {self.__name__} of {self._owner.path!r}>"


class RemoteSubmission:
    """A submission whose functions run in a sandboxed child; close() (or ``with``) kills it."""

    def __init__(self, sandbox: Sandbox):
        self._sandbox = sandbox
        self.path = sandbox.folder

    def __getattr__(self, name: str) -> RemoteFunction:
        if name.startswith("_"):
            raise AttributeError(name)
        return RemoteFunction(self, name)

    def close(self) -> None:
        self._sandbox.close()

    def __enter__(self) -> "RemoteSubmission":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<submission {self.path!r} (module {self._sandbox.module})>"


def load_submission(path, *, module: str = "backprop", root: str = "", timeout: float = 10.0,
                    memory_mb: int = 1024, cpu_seconds: int = 300,
                    allowed_imports: list | None = None) -> RemoteSubmission:
    """Sandbox ``path/<root>/<module>.py``; nothing runs until the first call.

    module: a module name, dotted for a package (``cs231n.layers``); root: the folder of
    the submission put first on sys.path (default the submission itself).
    timeout: wall-clock seconds per call (and for the import); memory_mb: memory limit of
    the submission; allowed_imports: module names the submission may import ("stdlib" for
    the standard library), or None for no restriction.
    """
    if not isinstance(module, str) or not all(p.isidentifier() for p in module.split(".")):
        raise ValueError(f"module must be a module name such as 'backprop' (for backprop.py) or 'cs231n.layers', "
                         f"got {module!r}")
    limits = Limits(timeout=timeout, memory_mb=memory_mb, cpu_seconds=cpu_seconds)
    return RemoteSubmission(Sandbox(str(path), module, root=root, limits=limits, allowed_imports=allowed_imports))
