"""Run functions of an untrusted Python module in a locked-down child process.

Knows nothing about grading: a ``Sandbox`` imports one module from a private copy of a
folder in a fresh child and calls its functions with numpy arrays, returning an
``Outcome`` (plain float arrays, or what went wrong).  The parent enforces each call's
wall-clock deadline itself and kills the child's whole process tree on overrun; the next
call gets a fresh child.  Data crosses as JSON + ``.npy`` (no pickle), and every byte the
child sends is validated here, because the child is the student's.  How the child is
launched, isolated, killed and cleaned up is engine.py's business (bubblewrap or the fallback).
"""
from __future__ import annotations

import atexit
import itertools
import os
import select
import signal
import subprocess
import time
import weakref
from dataclasses import dataclass

from . import engine as engine_mod
from . import wire, workspace
from .wire import Handle, WireError

HARNESS = os.path.join(engine_mod.HARNESS_DIR, "harness.py")   # the child's program (engine.CHILD_FILES)
_CHILD_IDS = itertools.count(1)   # one per child process ever started here: tells live handles from stale


@dataclass(frozen=True)
class Limits:
    """Per-child resource limits.  ``timeout`` is wall-clock seconds per call (and per import)."""

    timeout: float = 10.0
    memory_mb: int = 1024
    cpu_seconds: int | None = 300
    file_mb: int = 16
    nproc: int = 64
    output_bytes: int = 16_384
    result_mb: int = 64
    max_elements: int = 5_000_000
    startup_timeout: float = 60.0
    scratch_mb: int = 64          # each of /tmp, /dev/shm, and the room added to the submission's copy
    scratch_files: int = 10_000   # files each of those may hold
    submission_mb: int = 50       # copying a submission stops here ("submission too large") ...
    max_files: int = 2_000        # ... or at this many files and folders
    max_depth: int = 40           # ... or this many levels of folders
    copy_seconds: float = 20.0    # ... or after this long

    def __post_init__(self):
        for name in ("timeout", "memory_mb", "file_mb", "nproc", "output_bytes", "result_mb", "max_elements",
                     "startup_timeout", "scratch_mb", "scratch_files", "submission_mb", "max_files", "max_depth",
                     "copy_seconds"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
                raise ValueError(f"sandbox limit {name} must be a positive number, got {v!r}")


@dataclass
class Outcome:
    """Result of one call: ``ok`` with ``value``, or ``kind`` + ``message`` (+ ``traceback``).

    kind: "ok", "exception", "exit" (sys.exit), "missing" (no such file/function), "import"
    (the module failed to import), "convert" (the return value could not be sent back),
    "timeout", "crash" (the process died), "protocol" (it sent malformed or oversized data),
    "stale" (a Handle from a child that has since been stopped was passed in).
    ``value`` holds wire values: None, bool, int, float, str, list, tuple, dict, numpy
    arrays of real numbers, and ``Handle`` for objects that stayed in the child.
    """

    kind: str
    value: object = None
    message: str = ""
    error_type: str = ""
    traceback: str = ""
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.kind == "ok"


class ProtocolError(Exception):
    """The child sent something that is not a well-formed, in-limits reply."""


# --------------------------------------------------------------------------- encoding
def encode_request(header: dict, values: dict | None = None) -> bytes:
    """A request frame: ``header`` plus named wire values (args, kwargs, value) sharing one payload."""
    if values:
        node, arrays = wire.dump_value(dict(values))
        header = dict(header, **node["$d"])
    else:
        arrays = []
    return wire.pack(header, arrays)


def _text(v, limit=6000) -> str:
    s = v if isinstance(v, str) else ""
    return s if len(s) <= limit else s[:limit] + "…"


def decode_reply(header: bytes, payload: bytes, max_elements: int, child: int = 0):
    """Parse and validate one reply from the untrusted child -> (header dict, value).

    Handles in the value are tagged with ``child``, the id of the child that sent them.
    """
    try:
        h = wire.load_header(header)
        if h.get("status") not in ("ok", "error", "ready"):
            raise ProtocolError("reply header has no valid status")
        arrays = wire.load_arrays(h.get("arrays", []), payload, max_elements)
        value = wire.load_value(h.get("value"), arrays, lambda hid, name: Handle(hid, _text(name, 200), child))
    except WireError as e:
        raise ProtocolError(str(e)) from None
    return h, value


def _handles_in(value, found=None, depth=0):
    found = [] if found is None else found
    if isinstance(value, Handle):
        found.append(value)
    elif depth < wire.MAX_DEPTH and isinstance(value, (list, tuple)):
        for v in value:
            _handles_in(v, found, depth + 1)
    elif depth < wire.MAX_DEPTH and isinstance(value, dict):
        for v in value.values():
            _handles_in(v, found, depth + 1)
    return found


# --------------------------------------------------------------------------- processes
# How a child is launched, killed and cleaned up lives in engine.py (bubblewrap or the fallback).
_LIVE: "weakref.WeakSet[Sandbox]" = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """No child outlives the grader."""
    for sb in list(_LIVE):
        sb.close()


class Sandbox:
    """One submission folder + module, called function by function in a child process.

    The child is started lazily, imports numpy once, then the module once; it lives until a
    call times out, crashes, or ``close()``.  If the import itself fails, every later call
    returns that same failure without starting another child.  ``engine``: "auto" (bubblewrap
    where it runs, else the fallback), "bwrap", "fallback", or an ``engine.Engine``; a
    submission over the copy bounds of ``limits`` gets an "import" Outcome saying
    "submission too large".
    """

    def __init__(self, folder: str, module: str, *, root: str = "", limits: Limits | None = None,
                 allowed_imports: list | None = None, engine: str = "auto"):
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"submission folder {folder!r} does not exist")
        self.engine = engine_mod.choose(engine)
        self.folder = os.path.abspath(folder)
        self.module = module
        self.root = root
        self._child = 0
        self.limits = limits or Limits()
        self.allowed_imports = allowed_imports
        self.notes: list[str] = []
        self.import_outcome: Outcome | None = None
        self._proc: subprocess.Popen | None = None
        self._session: engine_mod.Session | None = None
        self._fds: tuple = ()
        _LIVE.add(self)

    # -- public
    def call(self, name: str, /, *args, **kwargs) -> Outcome:
        """Call ``module.name(*args, **kwargs)`` in the child (``name`` may be "Class.attr").

        Never raises for anything the child does; a returned object that is not data stays
        in the child and comes back as a ``Handle``.
        """
        return self.invoke("call", name, args, kwargs)

    def call_method(self, handle: Handle, name: str, /, *args, **kwargs) -> Outcome:
        """Call ``obj.name(*args, **kwargs)`` on the child's object behind ``handle``."""
        return self.invoke("call_method", name, args, kwargs, handle=handle)

    def get_attr(self, handle: Handle | None, name: str) -> Outcome:
        """``obj.name`` (``handle=None``: the module's attribute, e.g. a class to pass as an argument)."""
        return self.invoke("get_attr", name, handle=handle)

    def set_attr(self, handle: Handle, name: str, value) -> Outcome:
        """``obj.name = value`` in the child (e.g. a Network's ``weights``, set by the grader)."""
        return self.invoke("set_attr", name, handle=handle, value=value)

    def invoke(self, op: str, name: str, args=(), kwargs=None, *, handle: Handle | None = None, value=None,
               select=None, keep=None, timeout: float | None = None) -> Outcome:
        """The general form of the four calls above, with a per-call ``timeout`` in seconds.

        ``select``: a list of indices/keys applied to the result in the child (``[0]`` keeps
        ``out`` of ``(out, cache)``), so only that part crosses the pipe.  ``keep``: indices
        of a tuple result (after ``select``) that stay in the child as Handles even when they
        are data (``[1]``: the cache of ``(out, cache)`` reaches the backward as the very object).
        """
        if op not in ("call", "call_method", "get_attr", "set_attr"):
            raise ValueError(f"op must be call, call_method, get_attr or set_attr, got {op!r}")
        if op != "call" and handle is None and op != "get_attr":
            raise ValueError(f"{op} needs a handle (an object returned by an earlier call)")
        timeout = self.limits.timeout if timeout is None else timeout
        if self.import_outcome is not None and not self.import_outcome.ok:
            return self.import_outcome
        values = {"args": tuple(args), "kwargs": dict(kwargs or {})}
        if op == "set_attr":
            values["value"] = value
        stale = [h for h in _handles_in([handle, values]) if h.child != self._child or self._proc is None]
        if stale:
            h = stale[0]
            return Outcome("stale", message=f"the {h.type_name} object this call needs came from an earlier run of "
                                            f"the submission's code, which was stopped (after a timeout or a crash); "
                                            f"it no longer exists")
        if self._proc is None:
            failed = self._start(timeout)
            if failed is not None:
                return failed
        header = {"op": op, "name": name, "handle": handle.id if handle is not None else None}
        if select is not None:
            if not isinstance(select, (list, tuple)) or not all(type(k) in (int, str) for k in select):
                raise ValueError(f"select must be a list of int indices or str keys, got {select!r}")
            header["select"] = list(select)
        if keep is not None:
            if not isinstance(keep, (list, tuple)) or not all(type(k) is int for k in keep):
                raise ValueError(f"keep must be a list of int indices, got {keep!r}")
            header["keep"] = list(keep)
        return self._request(header, values, timeout)

    def close(self) -> None:
        """Kill the child and everything it started; delete the private copy."""
        self._stop(release=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- child lifecycle
    def _start(self, timeout: float) -> Outcome | None:
        self._child = next(_CHILD_IDS)
        if self._session is None:
            try:
                self._session = self.engine.open(self.folder, self.limits)
            except workspace.SubmissionTooLarge as e:
                self.import_outcome = Outcome("import", error_type="SubmissionTooLarge",
                                              message=f"submission too large: {e}; nothing was run")
                return self.import_outcome
            self.notes.extend(n for n in self._session.notes if n not in self.notes)
        (req_r, req_w), (rep_r, rep_w) = os.pipe(), os.pipe()
        cfg = {"fds": [req_r, rep_w], "max_elements": self.limits.max_elements,
               "allowed_imports": self.allowed_imports, "module_label": f"{self.module}.py"}
        try:
            self._proc = self._session.launch(cfg, pass_fds=(req_r, rep_w))
        except BaseException:
            os.close(req_w)
            os.close(rep_r)
            raise
        finally:
            os.close(req_r)
            os.close(rep_w)
        self._fds = (req_w, rep_r)
        ready = self._exchange(None, self.limits.startup_timeout)
        if not ready.ok:
            ready.message = "the sandbox could not start: " + ready.message
            self._stop()
            self.import_outcome = ready
            return ready
        for n in ready.value.get("notes", []) if isinstance(ready.value, dict) else []:
            if isinstance(n, str) and n not in self.notes:
                self.notes.append(_text(n, 300))
        imp = self._request({"op": "import", "module": self.module, "root": self.root}, None, timeout,
                            phase="import")
        if not imp.ok:
            self.import_outcome = imp
            self._stop()
            return imp
        return None

    def _stop(self, release: bool = False) -> None:
        """Kill the child; ``release``: also delete the private copy (at close)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            self._session.kill(proc)
            for f in (proc.stdout, proc.stderr):
                if f:
                    f.close()
        for fd in self._fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds = ()
        if self._session is not None and release:
            self._session.release()
            self._session = None

    # -- one request
    def _request(self, header: dict, values: dict | None, timeout: float, phase: str = "call") -> Outcome:
        try:
            frame = encode_request(header, values)
        except WireError as e:  # the grader's own arguments: a bug in the assignment, said plainly
            raise TypeError(f"cannot send this argument to the sandbox: {e}") from None
        out = self._exchange(frame, timeout)
        if out.kind in ("timeout", "crash", "protocol"):
            self._stop()
        if phase == "import" and out.kind not in ("ok", "missing"):
            out.message = out.message.replace("during the call", "while being imported")
            if out.kind == "timeout":
                out.message += " while being imported"
            out.error_type = out.error_type or {"timeout": "Timeout", "crash": "Crash"}.get(out.kind, "Error")
            out.kind = "import"
        return out

    def _exchange(self, frame: bytes | None, timeout: float) -> Outcome:
        """Send ``frame``, then collect one reply, stdout and stderr until the deadline."""
        proc = self._proc
        req_w, rep_r = self._fds
        out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
        cap = self.limits.output_bytes
        captured = {out_fd: bytearray(), err_fd: bytearray()}
        dropped = {out_fd: 0, err_fd: 0}
        reply = bytearray()
        pending = memoryview(frame) if frame else memoryview(b"")
        start = time.monotonic()
        deadline = start + timeout
        open_fds = {rep_r, out_fd, err_fd}
        limit = wire.HEAD.size + wire.MAX_HEADER + self.limits.result_mb * (1 << 20)
        result: Outcome | None = None
        os.set_blocking(req_w, False)
        while result is None:
            left = deadline - time.monotonic()
            if left <= 0:
                result = Outcome("timeout", message=f"timed out after {timeout:g} s")
                break
            wfds = [req_w] if pending else []
            try:
                r, w, _ = select.select(list(open_fds), wfds, [], min(left, 1.0))
            except InterruptedError:
                continue
            if w:
                try:
                    n = os.write(req_w, pending)
                    pending = pending[n:]
                except BlockingIOError:
                    pass
                except BrokenPipeError:
                    pending = memoryview(b"")
            for fd in r:
                try:
                    chunk = os.read(fd, 1 << 16)
                except OSError:
                    chunk = b""
                if not chunk:
                    open_fds.discard(fd)
                    if fd == rep_r:
                        result = self._died(timeout)
                    continue
                if fd == rep_r:
                    reply += chunk
                    if len(reply) > limit:
                        result = Outcome("protocol", message=f"sent back more than {self.limits.result_mb} MB")
                        break
                    result = self._parse(reply)
                else:
                    room = cap - len(captured[fd])
                    captured[fd] += chunk[:max(room, 0)]
                    dropped[fd] += max(len(chunk) - max(room, 0), 0)
        result.seconds = time.monotonic() - start

        def show(fd):
            s = captured[fd].decode("utf-8", "replace")
            return s + (f"\n[… {dropped[fd]} more bytes not kept]" if dropped[fd] else "")

        result.stdout, result.stderr = show(out_fd), show(err_fd)
        return result

    def _parse(self, reply: bytearray) -> Outcome | None:
        if len(reply) < wire.HEAD.size:
            return None
        try:
            hlen, plen = wire.frame_sizes(reply, self.limits.result_mb * (1 << 20))
        except WireError:
            return Outcome("protocol", message="sent malformed or oversized data back to the grader")
        if len(reply) < wire.HEAD.size + hlen + plen:
            return None
        if len(reply) > wire.HEAD.size + hlen + plen:
            return Outcome("protocol", message="sent unexpected extra data to the grader")
        head = bytes(reply[wire.HEAD.size:wire.HEAD.size + hlen])
        payload = bytes(reply[wire.HEAD.size + hlen:])
        try:
            h, value = decode_reply(head, payload, self.limits.max_elements, self._child)
        except ProtocolError as e:
            return Outcome("protocol", message=f"sent data the grader refuses: {e}")
        if h["status"] == "ready":
            return Outcome("ok", value={"notes": h.get("notes") if isinstance(h.get("notes"), list) else []})
        if h["status"] == "ok":
            return Outcome("ok", value=value)
        kind = h.get("kind") if h.get("kind") in ("exception", "exit", "missing", "import", "convert", "stale") \
            else "exception"
        message = _text(h.get("message"), 2000)
        if _text(h.get("type"), 200) == "MemoryError":
            message = (message + f" (the memory limit is {self.limits.memory_mb} MB)").strip()
        return Outcome(kind, message=message, error_type=_text(h.get("type"), 200),
                       traceback=_text(h.get("traceback"), 8000))

    def _died(self, timeout: float) -> Outcome:
        proc = self._proc
        try:
            code = self._session.exit_status(proc.wait(timeout=min(2.0, timeout)))
        except subprocess.TimeoutExpired:
            return Outcome("crash", message="closed its connection to the grader during the call")
        if code == -signal.SIGKILL and self._session.memory_killed():
            return Outcome("crash", message=f"the process was killed for using more than {self.limits.memory_mb} MB "
                                            f"(all its processes together) during the call")
        if code < 0:
            sig = -code
            what = {
                signal.SIGSEGV: "crashed with a segmentation fault (SIGSEGV)",
                signal.SIGXCPU: f"used more than {self.limits.cpu_seconds} s of CPU time (SIGXCPU)",
                signal.SIGXFSZ: f"wrote a file larger than {self.limits.file_mb} MB (SIGXFSZ)",
                signal.SIGKILL: f"was killed (SIGKILL; often the memory limit of {self.limits.memory_mb} MB)",
                signal.SIGABRT: "aborted (SIGABRT)",
            }.get(sig, f"was killed by signal {_signal_name(sig)}")
            return Outcome("crash", message=f"the process {what} during the call")
        return Outcome("crash", message=f"the process exited with status {code} during the call "
                                        f"(os._exit or similar)")


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return str(sig)
