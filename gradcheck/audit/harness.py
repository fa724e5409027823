"""Child side of the sandbox: the only code that shares a process with a submission.

Run as a script (``python -I harness.py CONFIG_JSON``), never imported by the grader:
it locks itself down (network namespace, rlimits, unprivileged uid) *before* any student
code is imported, then serves requests from the parent.  Everything crosses the pipe as a
JSON header plus ``.npy`` blobs read with ``allow_pickle=False``; return values are turned
into plain float arrays here, but the parent re-validates all of it (this process is the
student's, and the student can rewrite anything in it).  Standard library + numpy only.
"""
import ctypes
import json
import os
import resource
import struct
import sys
import traceback

MAGIC = b"GCF1"
_HEAD = struct.Struct(">4sII")
CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_BIND, MS_REC, MS_PRIVATE, MNT_DETACH = 4096, 16384, 1 << 18, 2
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_SET_CHILD_SUBREAPER = 1, 38, 36


# ----------------------------------------------------------------------------- framing
def read_exact(fd, n):
    chunks, left = [], n
    while left:
        b = os.read(fd, min(left, 1 << 20))
        if not b:
            raise EOFError
        chunks.append(b)
        left -= len(b)
    return b"".join(chunks)


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def encode(tree_header, arrays):
    """Frame = magic, header length, payload length, JSON header, concatenated .npy blobs."""
    import io

    import numpy as np

    blobs, index, offset = [], [], 0
    for a in arrays:
        buf = io.BytesIO()
        np.lib.format.write_array(buf, a, allow_pickle=False)
        b = buf.getvalue()
        blobs.append(b)
        index.append([offset, len(b)])
        offset += len(b)
    tree_header = dict(tree_header, blobs=index)
    head = json.dumps(tree_header).encode()
    payload = b"".join(blobs)
    return _HEAD.pack(MAGIC, len(head), len(payload)) + head + payload


def decode(fd):
    """Read one request from the (trusted) parent."""
    import io

    import numpy as np

    magic, hlen, plen = _HEAD.unpack(read_exact(fd, _HEAD.size))
    if magic != MAGIC:
        raise EOFError
    header = json.loads(read_exact(fd, hlen))
    payload = read_exact(fd, plen)
    arrays = [np.lib.format.read_array(io.BytesIO(payload[o:o + n]), allow_pickle=False)
              for o, n in header.get("blobs", [])]
    return header, arrays


def unpack_tree(node, arrays):
    if isinstance(node, dict):
        if "$a" in node:
            return arrays[node["$a"]].copy()
        if "$d" in node:
            return {k: unpack_tree(v, arrays) for k, v in node["$d"].items()}
        if "$l" in node:
            return [unpack_tree(v, arrays) for v in node["$l"]]
    return node


# ----------------------------------------------------------------------------- lock-down
def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _blocked_ancestor(path, uid):
    """The highest ancestor of path that uid cannot traverse (root-owned 0700 and the like)."""
    parts = os.path.realpath(path).split(os.sep)
    cur = ""
    for p in parts[1:]:
        cur = cur + os.sep + p
        try:
            st = os.stat(cur)
        except OSError:
            return None
        if st.st_uid != uid and not (st.st_mode & 0o001 if os.path.isdir(cur) else st.st_mode & 0o004):
            return cur
    return None


def _expose(paths, uid, notes):
    """In a private mount namespace, make `paths` reachable for uid without chmod-ing the host.

    A 0700 ancestor (e.g. /root holding a pyenv Python) is covered with an empty tmpfs and the
    needed directories are bind-mounted back into it; the rest of that ancestor stays hidden.
    """
    blocked = {}
    for p in paths:
        a = _blocked_ancestor(p, uid)
        if a:
            blocked.setdefault(a, set()).add(os.path.realpath(p))
    if not blocked:
        return True
    libc = _libc()
    if libc.unshare(CLONE_NEWNS) != 0:
        notes.append(f"cannot create a mount namespace (errno {ctypes.get_errno()})")
        return False
    if libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        notes.append("cannot make mounts private")
        return False
    import tempfile

    for anc, needed in blocked.items():
        needed = sorted(n for n in needed if not any(n != m and n.startswith(m + os.sep) for m in needed))
        staged = []
        for n in needed:
            s = tempfile.mkdtemp(prefix="gc-stage-")
            if libc.mount(n.encode(), s.encode(), None, MS_BIND | MS_REC, None) != 0:
                notes.append(f"cannot bind {n}")
                return False
            staged.append((n, s))
        if libc.mount(b"tmpfs", anc.encode(), b"tmpfs", 0, b"mode=0755,size=1m") != 0:
            notes.append(f"cannot mount tmpfs on {anc}")
            return False
        for n, s in staged:
            os.makedirs(n, exist_ok=True)
            libc.mount(s.encode(), n.encode(), None, MS_BIND | MS_REC, None)
            libc.umount2(s.encode(), MNT_DETACH)
            os.rmdir(s)
    return True


def lock_down(cfg):
    """Network off, limits on, privileges dropped: in that order, before student code exists."""
    notes = []
    libc = _libc()
    if cfg.get("no_network", True):
        if libc.unshare(CLONE_NEWNET) != 0:
            notes.append("network left on (unshare(CLONE_NEWNET) not permitted here)")
    uid = cfg.get("uid")
    if uid is not None and os.geteuid() == 0:
        if not _expose(cfg.get("expose", []), uid, notes):
            notes.append("python is not readable by the sandbox user; student code runs as root")
            uid = None
    mb = 1 << 20
    limits = [
        (resource.RLIMIT_AS, cfg.get("memory_mb"), mb),
        (resource.RLIMIT_FSIZE, cfg.get("file_mb"), mb),
        (resource.RLIMIT_CORE, 0, 1),
    ]
    if cfg.get("cpu_seconds"):
        c = int(cfg["cpu_seconds"])
        resource.setrlimit(resource.RLIMIT_CPU, (c, c + 2))
    for which, value, unit in limits:
        if value is not None:
            v = int(value * unit)
            resource.setrlimit(which, (v, v))
    if uid is not None and os.geteuid() == 0:
        if cfg.get("nproc"):
            resource.setrlimit(resource.RLIMIT_NPROC, (cfg["nproc"], cfg["nproc"]))
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # orphaned grandchildren stay in our tree, findable
    libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)  # grader gone -> we go (cleared by setuid, so set after)
    return notes, os.geteuid()


# ----------------------------------------------------------------------------- student side
class ImportGuard:
    """Refuse imports of modules the assignment does not allow, when student files ask for them.

    A policy check with a useful message, not a security boundary (the sandbox is the boundary).
    """

    def __init__(self, allowed, workdir):
        self.allowed = set(allowed)
        if "stdlib" in self.allowed:
            self.allowed |= set(sys.stdlib_module_names)
        self.workdir = workdir + os.sep

    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in self.allowed or os.path.exists(os.path.join(self.workdir, top + ".py")) \
                or os.path.isdir(os.path.join(self.workdir, top)):
            return None
        f = sys._getframe(1)
        while f is not None:
            fn = f.f_code.co_filename
            if fn.startswith("<frozen") or fn == __file__ or os.sep + "importlib" + os.sep in fn:
                f = f.f_back
                continue
            break
        if f is not None and f.f_code.co_filename.startswith(self.workdir):
            allowed = ", ".join(sorted(a for a in self.allowed if a not in sys.stdlib_module_names))
            extra = " and the standard library" if "stdlib" in self.allowed else ""
            raise ImportError(f"import of {top!r} is not allowed in this assignment "
                              f"(allowed: {allowed or 'nothing'}{extra})")
        return None


def safe_text(fn, limit=2000):
    try:
        s = fn()
        if not isinstance(s, str):
            s = "<not a string>"
    except BaseException as e:  # noqa: BLE001 - the student's __str__ may raise anything
        s = f"<could not be shown: its __str__ raised {type(e).__name__}>"
    if len(s) > limit:
        s = s[:limit] + f"… [{len(s) - limit} more characters]"
    return s


def describe_error(exc, workdir, kind="exception"):
    """Exception type, message and a traceback trimmed to the student's own frames."""
    if isinstance(exc, MemoryError):
        try:  # free what the student's frames still hold, or there is no memory left to report with
            traceback.clear_frames(exc.__traceback__)
        except BaseException:  # noqa: BLE001
            pass
    name = safe_text(lambda: type(exc).__name__, 200)
    if isinstance(exc, SystemExit):
        kind = "exit"
        message = f"called sys.exit({safe_text(lambda: repr(exc.code), 200)})"
    else:
        message = safe_text(lambda: str(exc))
    try:
        frames = traceback.extract_tb(exc.__traceback__)
        own = [i for i, fr in enumerate(frames) if fr.filename.startswith(workdir + os.sep)]
        keep = []
        if own:
            keep = [frames[i] for i in own]
            if own[-1] != len(frames) - 1:
                keep.append(frames[-1])  # where it actually blew up (numpy, ...)
        for fr in keep:
            if fr.filename.startswith(workdir + os.sep):
                fr.filename = fr.filename[len(workdir) + 1:]
        lines = traceback.StackSummary.from_list(keep).format()
        if len(lines) > 24:
            lines = lines[:6] + [f"  ... {len(lines) - 18} more lines ...\n"] + lines[-12:]
        tb = "".join(lines)
        if len(tb) > 6000:
            tb = tb[:3000] + "\n  ...\n" + tb[-3000:]
    except BaseException:  # noqa: BLE001
        tb = ""
    return {"status": "error", "kind": kind, "type": name, "message": message, "traceback": tb}


def to_plain(value, max_elements):
    """Student return value -> (JSON tree, arrays); float32 stays float32, everything else float64."""
    import numpy as np

    arrays, total = [], [0]

    def arr(v, where):
        a = np.asarray(v)
        if a.dtype.kind not in "biuf":
            raise TypeError(f"{where} has dtype {a.dtype}; return numbers (a float numpy array)")
        total[0] += a.size
        if a.size > max_elements or total[0] > max_elements:
            raise ValueError(f"{where} has {a.size} elements; the limit for a return value is {max_elements}")
        a = np.ascontiguousarray(a, dtype=np.float32 if a.dtype in (np.float32, np.float16) else np.float64)
        arrays.append(a)
        return {"$a": len(arrays) - 1}

    if isinstance(value, dict):
        tree = {}
        for k in list(value.keys()):
            if not isinstance(k, str):
                raise TypeError(f"the returned dict has a key {safe_text(lambda: repr(k), 80)}; keys must be "
                                f"strings like 'W1'")
            tree[str(k)] = arr(value[k], f"the returned dict's {k!r}")
        return {"$d": tree}, arrays
    return arr(value, "the return value"), arrays


def flush_output():
    """Push what the call printed into the pipes before replying, so it is counted with the call."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001 - the student may have replaced or closed them
            pass


def main():
    cfg = json.loads(sys.argv[1])
    rfd, wfd = cfg["fds"]
    notes, euid = lock_down(cfg)
    workdir = cfg["workdir"]
    for p in cfg.get("paths", []):
        if p not in sys.path:
            sys.path.append(p)
    os.chdir(workdir)
    sys.dont_write_bytecode = True
    import numpy  # noqa: F401 - once per child, before the clock of any call starts

    module = None
    write_all(wfd, encode({"status": "ready", "notes": notes, "euid": euid, "pid": os.getpid()}, []))
    while True:
        try:
            req, arrays = decode(rfd)
        except EOFError:
            os._exit(0)
        op = req.get("op")
        try:
            if op == "import":
                if cfg.get("allowed_imports") is not None:
                    sys.meta_path.insert(0, ImportGuard(cfg["allowed_imports"], workdir))
                sys.path.insert(0, workdir)
                name = req["module"]
                if not os.path.exists(os.path.join(workdir, name + ".py")) and \
                        not os.path.isdir(os.path.join(workdir, name)):
                    reply = {"status": "error", "kind": "missing", "type": "FileNotFoundError",
                             "message": f"there is no {name}.py in the submission", "traceback": ""}
                    flush_output()
                    write_all(wfd, encode(reply, []))
                    continue
                import importlib

                module = importlib.import_module(name)
                out = {"status": "ok", "value": None}, []
            elif op == "call":
                fname = req["function"]
                fn = getattr(module, fname, None)
                if not callable(fn):
                    reply = {"status": "error", "kind": "missing", "type": "AttributeError",
                             "message": f"{cfg.get('module_label', 'the module')} does not define a function "
                                        f"{fname}()", "traceback": ""}
                    flush_output()
                    write_all(wfd, encode(reply, []))
                    continue
                args = [unpack_tree(a, arrays) for a in req.get("args", [])]
                result = fn(*args)
                try:
                    tree, plain = to_plain(result, cfg.get("max_elements", 10_000_000))
                except BaseException as e:  # noqa: BLE001
                    flush_output()
                    write_all(wfd, encode(describe_error(e, workdir, kind="convert"), []))
                    continue
                out = {"status": "ok", "value": tree}, plain
            else:
                os._exit(0)
        except BaseException as e:  # noqa: BLE001 - SystemExit, KeyboardInterrupt, RecursionError, ...
            kind = "import" if op == "import" else "exception"
            flush_output()
            write_all(wfd, encode(describe_error(e, workdir, kind=kind), []))
            continue
        flush_output()
        write_all(wfd, encode(*out))


if __name__ == "__main__":
    main()
