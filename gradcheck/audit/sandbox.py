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
import io
import json
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass, field

import numpy as np

HARNESS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "harness.py")
MAGIC = b"GCF1"
_HEAD = struct.Struct(">4sII")
_MAX_HEADER = 1 << 20
_ALLOWED_DTYPES = (np.dtype("<f8"), np.dtype("<f4"))


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
    (the module failed to import), "convert" (return value not numbers), "timeout",
    "crash" (the process died), "protocol" (it sent malformed or oversized data).
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
def _encode_tree(value, arrays):
    if isinstance(value, dict):
        return {"$d": {str(k): _encode_tree(v, arrays) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"$l": [_encode_tree(v, arrays) for v in value]}
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    a = np.asarray(value)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"sandbox arguments must be numbers or arrays of numbers, got dtype {a.dtype}")
    arrays.append(np.ascontiguousarray(a))
    return {"$a": len(arrays) - 1}


def encode_request(header: dict, args=()) -> bytes:
    arrays: list = []
    header = dict(header, args=[_encode_tree(a, arrays) for a in args])
    blobs, index, offset = [], [], 0
    for a in arrays:
        buf = io.BytesIO()
        np.lib.format.write_array(buf, a, allow_pickle=False)
        blobs.append(buf.getvalue())
        index.append([offset, len(blobs[-1])])
        offset += len(blobs[-1])
    header["blobs"] = index
    head = json.dumps(header).encode()
    payload = b"".join(blobs)
    return _HEAD.pack(MAGIC, len(head), len(payload)) + head + payload


def _text(v, limit=6000) -> str:
    s = v if isinstance(v, str) else ""
    return s if len(s) <= limit else s[:limit] + "…"


def decode_reply(header: bytes, payload: bytes, max_elements: int):
    """Parse and validate one reply from the untrusted child -> (header dict, value)."""
    try:
        h = json.loads(header)
    except (ValueError, RecursionError) as e:
        raise ProtocolError(f"reply header is not JSON ({type(e).__name__})") from None
    if not isinstance(h, dict) or h.get("status") not in ("ok", "error", "ready"):
        raise ProtocolError("reply header has no valid status")
    blobs = h.get("blobs", [])
    if not isinstance(blobs, list) or len(blobs) > 10_000:
        raise ProtocolError("reply lists too many arrays")
    arrays, total = [], 0
    for item in blobs:
        if (not isinstance(item, list) or len(item) != 2 or not all(type(v) is int and v >= 0 for v in item)
                or item[0] + item[1] > len(payload)):
            raise ProtocolError("reply array index is malformed")
        try:
            a = np.lib.format.read_array(io.BytesIO(payload[item[0]:item[0] + item[1]]), allow_pickle=False)
        except Exception as e:  # noqa: BLE001 - anything wrong with the bytes is the child's fault
            raise ProtocolError(f"reply array is not a valid .npy ({type(e).__name__})") from None
        if a.dtype.newbyteorder("<") not in _ALLOWED_DTYPES or a.dtype.hasobject:
            raise ProtocolError(f"reply array has dtype {a.dtype}, not float32/float64")
        total += a.size
        if total > max_elements:
            raise ProtocolError(f"reply holds more than {max_elements} numbers")
        arrays.append(np.array(a, dtype=a.dtype.newbyteorder("=")))

    def tree(node, depth=0):
        if depth > 3:
            raise ProtocolError("reply value is nested too deeply")
        if isinstance(node, dict) and set(node) == {"$a"} and type(node["$a"]) is int:
            if not 0 <= node["$a"] < len(arrays):
                raise ProtocolError("reply refers to a missing array")
            return arrays[node["$a"]]
        if isinstance(node, dict) and set(node) == {"$d"} and isinstance(node["$d"], dict):
            if len(node["$d"]) > 1000:
                raise ProtocolError("reply dict is too large")
            return {_text(k, 100): tree(v, depth + 1) for k, v in node["$d"].items()}
        if node is None:
            return None
        raise ProtocolError("reply value is not an array or a dict of arrays")

    return h, tree(h.get("value"))


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

    def __init__(self, folder: str, module: str, *, limits: Limits | None = None,
                 allowed_imports: list | None = None, network: bool = False, drop_privileges: bool = True):
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"submission folder {folder!r} does not exist")
        self.folder = os.path.abspath(folder)
        self.module = module
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
    def call(self, function: str, *args, timeout: float | None = None) -> Outcome:
        """Call ``module.function(*args)`` in the child; never raises for anything the child does."""
        timeout = self.limits.timeout if timeout is None else timeout
        if self.import_outcome is not None and not self.import_outcome.ok:
            return self.import_outcome
        if self._proc is None:
            failed = self._start(timeout)
            if failed is not None:
                return failed
        return self._request({"op": "call", "function": function}, args, timeout)

    def close(self) -> None:
        """Kill the child and everything it started; delete the private copy."""
        self._stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- child lifecycle
    def _start(self, timeout: float) -> Outcome | None:
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
        imp = self._request({"op": "import", "module": self.module}, (), timeout, phase="import")
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
    def _request(self, header: dict, args, timeout: float, phase: str = "call") -> Outcome:
        try:
            frame = encode_request(header, args)
        except TypeError as e:
            return Outcome("protocol", message=str(e))
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
        magic, hlen, plen = _HEAD.unpack(bytes(reply[:_HEAD.size]))
        if magic != MAGIC or hlen > _MAX_HEADER or plen > self.limits.result_mb * (1 << 20):
            return Outcome("protocol", message="sent malformed or oversized data back to the grader")
        if len(reply) < _HEAD.size + hlen + plen:
            return None
        if len(reply) > _HEAD.size + hlen + plen:
            return Outcome("protocol", message="sent unexpected extra data to the grader")
        head = bytes(reply[_HEAD.size:_HEAD.size + hlen])
        payload = bytes(reply[_HEAD.size + hlen:])
        try:
            h, value = decode_reply(head, payload, self.limits.max_elements)
        except ProtocolError as e:
            return Outcome("protocol", message=f"sent data the grader refuses: {e}")
        if h["status"] == "ready":
            return Outcome("ok", value={"notes": h.get("notes") if isinstance(h.get("notes"), list) else []})
        if h["status"] == "ok":
            return Outcome("ok", value=value)
        kind = h.get("kind") if h.get("kind") in ("exception", "exit", "missing", "import", "convert") else "exception"
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
