"""Run functions of an untrusted Python module in a locked-down child process.

Knows nothing about grading: a ``Sandbox`` imports one module from a private copy of a
folder in a fresh child and calls its functions with numpy arrays, returning an
``Outcome`` (plain float arrays, or what went wrong).  The parent enforces each call's
wall-clock deadline itself and kills the child's whole process tree on overrun; the next
call gets a fresh child.  Data crosses as JSON + ``.npy`` (no pickle), and every byte the
child sends is validated here, because the child is the student's.
"""
from __future__ import annotations

import atexit
import itertools
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass, field

import numpy as np

from . import wire
from .wire import Handle, WireError

HARNESS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "harness.py")
# What the child needs of gradcheck: these two files, side by side (harness loads wire by path).
CHILD_FILES = (HARNESS, os.path.join(os.path.dirname(HARNESS), "wire.py"))
MAGIC = wire.MAGIC
_HEAD = wire.HEAD
_MAX_HEADER = wire.MAX_HEADER
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

    def __post_init__(self):
        for name in ("timeout", "memory_mb", "file_mb", "nproc", "output_bytes", "result_mb", "max_elements",
                     "startup_timeout"):
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
def _proc_table():
    """pid -> (ppid, session, uid) for every process we can see."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
            fields = stat[stat.rindex(b")") + 2:].split()
            uid = os.stat(f"/proc/{name}").st_uid
        except (OSError, ValueError):
            continue
        table[int(name)] = (int(fields[1]), int(fields[3]), uid)
    return table


def kill_tree(pid: int, uid: int | None = None) -> None:
    """SIGKILL the child, its session, its descendants and (if private to it) its uid.

    Stops everything found first so nothing can fork while we look, then kills the lot.
    Grandchildren that called setsid() are still caught by parentage or by the uid.
    """
    if uid is not None and os.path.exists("/bin/kill"):
        try:  # kill(-1) as the sandbox uid: every process of that uid, atomically w.r.t. fork
            subprocess.run(["/bin/kill", "-9", "-1"], user=uid, group=uid, extra_groups=[],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
        except (OSError, subprocess.SubprocessError):
            pass
    stopped: set[int] = set()
    for _ in range(200):
        table = _proc_table()
        found = {p for p, (pp, sid, u) in table.items()
                 if p == pid or sid == pid or (uid is not None and u == uid)}
        grew = True
        while grew:
            more = {p for p, (pp, _, _) in table.items() if pp in found and p not in found}
            found |= more
            grew = bool(more)
        found.discard(os.getpid())
        live = {p for p in found if not _is_zombie(p)}
        if not live:
            return
        new = live - stopped
        for p in new:  # a stopped process cannot fork: freeze first, then look again
            _signal(p, signal.SIGSTOP)
        stopped |= new
        if not new:
            for p in live:
                _signal(p, signal.SIGKILL)
        time.sleep(0.002)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except OSError:
        pass


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return stat[stat.rindex(b")") + 2:stat.rindex(b")") + 3] in (b"Z", b"X")
    except (OSError, ValueError):
        return True


# --------------------------------------------------------------------------- uids
class _UidPool:
    """Private uids for sandboxes (root only), so that a uid-wide kill and RLIMIT_NPROC are per child."""

    def __init__(self):
        self.lock = threading.Lock()
        self.used: set[int] = set()
        self.base = 0x5F000000 + (os.getpid() % 4096) * 256

    def _mapped(self, uid: int) -> bool:
        try:
            with open("/proc/self/uid_map") as f:
                for line in f:
                    inside, _, count = (int(v) for v in line.split())
                    if inside <= uid < inside + count:
                        return True
        except OSError:
            return uid == 65534
        return False

    def take(self) -> int:
        with self.lock:
            busy = {u for (_, _, u) in _proc_table().values()}
            for uid in range(self.base, self.base + 256):
                if uid not in self.used and uid not in busy and self._mapped(uid):
                    self.used.add(uid)
                    return uid
            return 65534  # shared: still unprivileged, just not uid-isolated

    def give(self, uid: int) -> None:
        with self.lock:
            self.used.discard(uid)


_UIDS = _UidPool()
_LIVE: "weakref.WeakSet[Sandbox]" = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """No child outlives the grader."""
    for sb in list(_LIVE):
        sb.close()


def _numpy_path() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(np.__file__)))


def copy_submission(src: str, dst: str, *, max_bytes: int = 50 << 20) -> list[str]:
    """Copy regular files and folders only (no symlinks, fifos or devices); returns what was skipped."""
    skipped, total = [], 0
    os.makedirs(dst, exist_ok=True)
    for root, dirs, files in os.walk(src, followlinks=False):
        rel = os.path.relpath(root, src)
        target = dst if rel == "." else os.path.join(dst, rel)
        for d in list(dirs):
            if os.path.islink(os.path.join(root, d)):
                skipped.append(os.path.join(rel, d))
                dirs.remove(d)
            else:
                os.makedirs(os.path.join(target, d), exist_ok=True)
        for name in files:
            path = os.path.join(root, name)
            st = os.lstat(path)
            if not os.path.isfile(path) or os.path.islink(path) or total + st.st_size > max_bytes:
                skipped.append(os.path.normpath(os.path.join(rel, name)))
                continue
            shutil.copyfile(path, os.path.join(target, name), follow_symlinks=False)
            total += st.st_size
    return skipped


class Sandbox:
    """One submission folder + module, called function by function in a child process.

    The child is started lazily, imports numpy once, then the module once; it lives until a
    call times out, crashes, or ``close()``.  If the import itself fails, every later call
    returns that same failure without starting another child.
    """

    def __init__(self, folder: str, module: str, *, root: str = "", limits: Limits | None = None,
                 allowed_imports: list | None = None, network: bool = False, drop_privileges: bool = True):
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"submission folder {folder!r} does not exist")
        self.folder = os.path.abspath(folder)
        self.module = module
        self.root = root
        self._child = 0
        self.limits = limits or Limits()
        self.allowed_imports = allowed_imports
        self.network = network
        self.drop_privileges = drop_privileges and os.geteuid() == 0
        self.notes: list[str] = []
        self.import_outcome: Outcome | None = None
        self._proc: subprocess.Popen | None = None
        self._uid: int | None = None
        self._tmp: str | None = None
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
               timeout: float | None = None) -> Outcome:
        """The general form of the four calls above, with a per-call ``timeout`` in seconds."""
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
        return self._request(header, values, timeout)

    def close(self) -> None:
        """Kill the child and everything it started; delete the private copy."""
        self._stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- child lifecycle
    def _start(self, timeout: float) -> Outcome | None:
        self._child = next(_CHILD_IDS)
        self._tmp = tempfile.mkdtemp(prefix="gradcheck-sandbox-")
        work = os.path.join(self._tmp, "work")
        skipped = copy_submission(self.folder, work)
        if skipped:
            self.notes.append("not copied (links, special files or over the size cap): " + ", ".join(skipped[:10]))
        uid = None
        if self.drop_privileges:
            uid = self._uid = _UIDS.take()
            os.chmod(self._tmp, 0o711)
            for root, dirs, files in os.walk(work):
                os.chown(root, uid, uid)
                for n in files:
                    os.chown(os.path.join(root, n), uid, uid)
        (req_r, req_w), (rep_r, rep_w) = os.pipe(), os.pipe()
        cfg = {
            "fds": [req_r, rep_w], "workdir": work, "uid": uid, "no_network": not self.network,
            "memory_mb": self.limits.memory_mb, "cpu_seconds": self.limits.cpu_seconds,
            "file_mb": self.limits.file_mb, "nproc": self.limits.nproc, "max_elements": self.limits.max_elements,
            "paths": [_numpy_path()], "allowed_imports": self.allowed_imports, "module_label": f"{self.module}.py",
            "expose": sorted({sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable)),
                              _numpy_path()}),
        }
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": work, "TMPDIR": work, "LANG": "C.UTF-8",
               "PYTHONIOENCODING": "utf-8", "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1",
               "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", HARNESS, json.dumps(cfg)], pass_fds=(req_r, rep_w), cwd=work, env=env,
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
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

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            kill_tree(proc.pid, self._uid)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            for f in (proc.stdout, proc.stderr):
                if f:
                    f.close()
        for fd in self._fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds = ()
        if self._uid is not None:
            _UIDS.give(self._uid)
            self._uid = None
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

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
        limit = _HEAD.size + _MAX_HEADER + self.limits.result_mb * (1 << 20)
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
        if len(reply) < _HEAD.size:
            return None
        try:
            hlen, plen = wire.frame_sizes(reply, self.limits.result_mb * (1 << 20))
        except WireError:
            return Outcome("protocol", message="sent malformed or oversized data back to the grader")
        if len(reply) < _HEAD.size + hlen + plen:
            return None
        if len(reply) > _HEAD.size + hlen + plen:
            return Outcome("protocol", message="sent unexpected extra data to the grader")
        head = bytes(reply[_HEAD.size:_HEAD.size + hlen])
        payload = bytes(reply[_HEAD.size + hlen:])
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
            code = proc.wait(timeout=min(2.0, timeout))
        except subprocess.TimeoutExpired:
            return Outcome("crash", message="closed its connection to the grader during the call")
        if code < 0:
            sig = -code
            what = {
                signal.SIGSEGV: "crashed with a segmentation fault (SIGSEGV)",
                signal.SIGXCPU: f"used more than {self.limits.cpu_seconds} s of CPU time (SIGXCPU)",
                signal.SIGXFSZ: f"wrote a file larger than {self.limits.file_mb} MB (SIGXFSZ)",
                signal.SIGKILL: f"was killed (SIGKILL; often the memory limit of {self.limits.memory_mb} MB)",
                signal.SIGABRT: "aborted (SIGABRT)",
            }.get(sig, f"was killed by signal {signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else sig}")
            return Outcome("crash", message=f"the process {what} during the call")
        return Outcome("crash", message=f"the process exited with status {code} during the call "
                                        f"(os._exit or similar)")
