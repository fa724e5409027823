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
import sys
import traceback

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_BIND, MS_REC, MS_PRIVATE, MNT_DETACH = 4096, 16384, 1 << 18, 2
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_SET_CHILD_SUBREAPER = 1, 38, 36


# ----------------------------------------------------------------------------- framing
def load_wire():
    """wire.py (the format shared with the grader) sits next to this file; loaded by path,
    so neither a package nor gradcheck has to be importable here."""
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wire.py")
    spec = importlib.util.spec_from_file_location("_gradcheck_wire", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


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
            allowed = ", ".join(sorted(a for a in self.allowed if a not in sys.stdlib_module_names and a != "stdlib"))
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


class Handles:
    """Objects that stay in this process (caches, instances, classes); the grader holds only ids."""

    def __init__(self, limit=1_000_000):
        self.objects, self.next_id, self.limit = {}, 1, limit

    def add(self, obj):
        if len(self.objects) >= self.limit:
            raise MemoryError(f"more than {self.limit} objects kept for the grader")
        hid, self.next_id = self.next_id, self.next_id + 1
        self.objects[hid] = obj
        return hid, type_label(obj)

    def get(self, hid, type_name=""):
        if hid not in self.objects:
            raise StaleHandle(f"the object {type_name or ''} the grader refers to no longer exists "
                              f"in this process (it was made by an earlier run of your code)")
        return self.objects[hid]


class StaleHandle(Exception):
    pass


class Missing(Exception):
    pass


def type_label(obj):
    import numpy as np

    if isinstance(obj, np.ndarray):
        return f"numpy array of dtype {safe_text(lambda: str(obj.dtype), 60)}"
    return safe_text(lambda: type(obj).__name__, 100)


def to_wire(wire, value, handles, max_elements):
    """Student return value -> (JSON node, arrays); anything that is not data stays here as a handle."""
    node, arrays = wire.dump_value(value, handles.add)
    total = 0
    for _, shape, _, _, _ in arrays:
        n = 1
        for d in shape:
            n *= d
        total += n
    if total > max_elements:
        raise ValueError(f"the return value holds {total} numbers; the limit for a return value is {max_elements}")
    return node, arrays


def module_file(name):
    """'cs231n.layers' -> 'cs231n/layers.py' (what a student calls the file)."""
    return name.replace(".", "/") + ".py"


def lookup(obj, dotted, label, function=True):
    """getattr along 'Class.attr'; a missing part is Missing, naming the whole dotted name."""
    for part in dotted.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise Missing(f"{label} does not define " + (f"{dotted}" if "." in dotted or not function
                                                          else f"a function {dotted}()")) from None
    return obj


def serve(req, payload, state, wire, cfg):
    """One request -> (reply header, arrays).  Student code runs only inside this function."""
    op = req.get("op")
    handles = state["handles"]
    arrays = wire.load_arrays(req.get("arrays", []), payload, 1 << 40)
    if op == "import":
        return do_import(req, state, cfg), []
    if state["module"] is None:
        raise Missing("the module was not imported")
    resolve = handles.get
    args = wire.load_value(req.get("args", {"$t": []}), arrays, resolve)
    kwargs = wire.load_value(req.get("kwargs", {"$d": {}}), arrays, resolve)
    name = req.get("name", "")
    label = state["label"]
    if op == "call":
        fn = lookup(state["module"], name, label)
        if not callable(fn):
            raise Missing(f"{label} defines {name}, but it is not a function or class")
        result = fn(*args, **kwargs)
    elif op in ("call_method", "get_attr", "set_attr"):
        hid = req.get("handle")
        obj = state["module"] if hid is None else handles.get(hid)
        owner = label if hid is None else f"the {type_label(obj)} object"
        if op == "set_attr":
            setattr(obj, name, wire.load_value(req.get("value"), arrays, resolve))
            result = None
        else:
            target = lookup(obj, name, owner, function=op == "call_method")
            if op == "call_method":
                if not callable(target):
                    raise Missing(f"{owner}'s {name} is not a method")
                result = target(*args, **kwargs)
            else:
                result = target
    elif op == "release":
        for hid in req.get("handles", []):
            handles.objects.pop(hid, None)
        result = None
    else:
        raise Missing(f"unknown request {op!r}")
    node, out = to_wire(wire, result, handles, cfg.get("max_elements", 10_000_000))
    return {"status": "ok", "value": node}, out


def do_import(req, state, cfg):
    workdir = state["workdir"]
    root = os.path.normpath(os.path.join(workdir, req.get("root") or ""))
    if root != workdir and not root.startswith(workdir + os.sep):
        raise Missing("the module's root folder is outside the submission")
    if cfg.get("allowed_imports") is not None:
        sys.meta_path.insert(0, ImportGuard(cfg["allowed_imports"], root))
    sys.path.insert(0, root)
    name = req["module"]
    rel = os.path.join(os.path.relpath(root, workdir), module_file(name)) if root != workdir else module_file(name)
    state["label"] = rel.replace(os.sep, "/")
    if not os.path.isfile(os.path.join(root, module_file(name))) and \
            not os.path.isfile(os.path.join(root, name.replace(".", os.sep), "__init__.py")):
        raise Missing(f"there is no {state['label']} in the submission")
    import importlib

    state["module"] = importlib.import_module(name)
    return {"status": "ok", "value": None}


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

    wire = load_wire()
    state = {"module": None, "handles": Handles(), "workdir": workdir, "label": "the module"}
    wire.write_all(wfd, wire.pack({"status": "ready", "notes": notes, "euid": euid, "pid": os.getpid()}))
    while True:
        try:
            req, payload = wire.read_frame(rfd)
        except (EOFError, wire.WireError):
            os._exit(0)
        op = req.get("op")
        try:
            header, out = serve(req, payload, state, wire, cfg)
        except Missing as e:
            header, out = {"status": "error", "kind": "missing", "type": "AttributeError", "message": str(e),
                           "traceback": ""}, []
        except StaleHandle as e:
            header, out = {"status": "error", "kind": "stale", "type": "StaleHandle", "message": str(e),
                           "traceback": ""}, []
        except wire.WireError as e:
            header, out = describe_error(e, workdir, kind="convert"), []
        except BaseException as e:  # noqa: BLE001 - SystemExit, KeyboardInterrupt, RecursionError, ...
            header, out = describe_error(e, workdir, kind="import" if op == "import" else "exception"), []
        flush_output()
        try:
            frame = wire.pack(header, out)
        except BaseException as e:  # noqa: BLE001 - e.g. a str the student made that JSON cannot encode
            frame = wire.pack(describe_error(e, workdir, kind="convert"))
        wire.write_all(wfd, frame)


if __name__ == "__main__":
    main()
