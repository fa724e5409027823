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
CLONE_NEWPID = 0x20000000
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
MS_BIND, MS_REC, MS_PRIVATE, MNT_DETACH = 4096, 16384, 1 << 18, 2
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_SET_CHILD_SUBREAPER, PR_SET_SECCOMP = 1, 38, 36, 22


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


def _private_mount_namespace(libc, notes, state={}):  # noqa: B006 - once per process
    """A mount namespace of our own, so that what we mount is seen by this child only."""
    if "ok" not in state:
        state["ok"] = libc.unshare(CLONE_NEWNS) == 0 and libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) == 0
        if not state["ok"]:
            notes.append(f"cannot create a private mount namespace (errno {ctypes.get_errno()})")
    return state["ok"]


def _cover(libc, path, fstype_opts, keep, notes):
    """Mount a fresh tmpfs on ``path``; folders in ``keep`` below it are bind-mounted back (via fds)."""
    inside = sorted({os.path.realpath(k) for k in keep if os.path.exists(k)})
    inside = [k for k in inside if k != path and k.startswith(path.rstrip(os.sep) + os.sep)]
    inside = [k for k in inside if not any(k.startswith(o + os.sep) for o in inside)]  # nested: bound with o
    fds = [(k, os.open(k, os.O_PATH | os.O_DIRECTORY)) for k in inside]
    try:
        if libc.mount(b"tmpfs", path.encode(), b"tmpfs", 0, fstype_opts.encode()) != 0:
            notes.append(f"cannot mount a private tmpfs on {path} (errno {ctypes.get_errno()})")
            return False
        for k, fd in fds:
            os.makedirs(k, mode=0o711, exist_ok=True)
            if libc.mount(f"/proc/self/fd/{fd}".encode(), k.encode(), None, MS_BIND | MS_REC, None) != 0:
                notes.append(f"cannot keep {k} visible under the private {path}")
                return False
        return True
    finally:
        for _, fd in fds:
            os.close(fd)


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
    if not _private_mount_namespace(libc, notes):
        return False
    for anc, needed in blocked.items():
        needed = sorted(n for n in needed if not any(n != m and n.startswith(m + os.sep) for m in needed))
        if not _cover(libc, anc, "mode=0755,size=1m", needed, notes):
            return False
    return True


def _mount_scratch(libc, mounts, keep, notes):
    """The child's writable places as tmpfs with a byte and a file cap (``mounts`` from the engine)."""
    for m in mounts:
        opts = f"size={int(m['size'])},nr_inodes={int(m['inodes'])},mode={m['mode']}"
        if m.get("uid") is not None:
            opts += f",uid={int(m['uid'])},gid={int(m['uid'])}"
        if not _cover(libc, m["path"], opts, keep, notes):
            return False
    return True


def _processes_of(uid):
    n = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                n += os.stat(f"/proc/{name}").st_uid == uid
            except OSError:
                pass
    return n


def _copy_in(src, dst):
    """The submission's private copy into its tmpfs, as the student's uid (sizes were checked by the grader)."""
    import shutil

    for name in sorted(os.listdir(src)):
        s, d = os.path.join(src, name), os.path.join(dst, name)
        if os.path.isdir(s) and not os.path.islink(s):
            shutil.copytree(s, d, symlinks=True, copy_function=shutil.copyfile)
        elif os.path.isfile(s) and not os.path.islink(s):
            shutil.copyfile(s, d)


def _exit_like(status, as_code=False):
    """Exit the way a waited-for child did, so the grader sees the cause.  ``as_code``: a signal death
    becomes status 128 + signal (pid 1 of a namespace cannot signal itself); the outer process turns
    that back into the signal."""
    import signal

    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1
    if as_code:
        os._exit(128 + sig if sig else code)
    if not sig and 128 < code < 128 + 65:
        sig = code - 128
    if sig:
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    os._exit(code)


def _enter_pid_namespace(libc, notes):
    """Continue inside a new pid namespace: when its pid 1 (a reaper, like bubblewrap's) dies, the
    kernel kills every process in it, daemons included.  The processes left outside and at pid 1
    only wait, and exit the way the harness did."""
    if libc.unshare(CLONE_NEWPID) != 0:
        notes.append(f"no pid namespace (errno {ctypes.get_errno()}); daemons are found by uid instead")
        return
    pid = os.fork()
    if pid:
        libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
        _exit_like(os.waitpid(pid, 0)[1])
    libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)  # pid 1 of the namespace
    if libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None) != 0:
        notes.append("the sandbox still sees every process of the machine (cannot mount its own /proc)")
    harness = os.fork()
    if harness:
        while True:  # reap orphans until the harness itself ends
            try:
                done, status = os.wait()
            except ChildProcessError:
                os._exit(1)
            if done == harness:
                _exit_like(status, as_code=True)
    libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)


def _seccomp(libc, program):
    """Install the engine's seccomp filter (classic BPF, 8 bytes per instruction) on this process."""
    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

    prog = Prog(len(program) // 8, program)
    return libc.prctl(PR_SET_SECCOMP, 2, ctypes.byref(prog), 0, 0) == 0


def lock_down(cfg):
    """Network off, private scratch space, limits on, privileges dropped, submission copied in: in that
    order, before any student code exists.  Returns (notes for the grader's log, effective uid)."""
    notes = []
    libc = _libc()
    root = os.geteuid() == 0
    os.umask(0o022)  # mount points we create must be passable by the sandbox uid, whatever the grader's umask
    if cfg.get("no_network", True):
        if libc.unshare(CLONE_NEWNET) != 0:
            notes.append("network left on (unshare(CLONE_NEWNET) not permitted here)")
    uid = cfg.get("uid")
    if uid is not None and root and cfg.get("expose"):
        if not _expose(cfg["expose"], uid, notes):  # never run student code as root instead
            raise SystemExit("the Python installation is not readable by the sandbox's user and no mount "
                             "namespace can expose it: " + "; ".join(notes))
    if cfg.get("mounts") and root:
        # the submission's folders, and Python, numpy and this harness where they live under /tmp (a venv there)
        keep = [k for k in (cfg.get("copy_from"), cfg["workdir"], *cfg.get("expose", [])) if k]
        if not ((not cfg.get("unshare_mount") or _private_mount_namespace(libc, notes))
                and _mount_scratch(libc, cfg["mounts"], keep, notes)):
            notes.append("no private /tmp, /dev/shm or work folder (mounting is not permitted here): the "
                         "submission works in its copy on disk and shares /tmp")
            if cfg.get("copy_from"):
                cfg["workdir"], cfg["copy_from"] = cfg["copy_from"], None
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
    target = uid if (uid is not None and root) else os.getuid()
    if "nproc_extra" in cfg:  # the processes this uid already has here (pid 1 of a namespace, us), plus the allowance
        have = _processes_of(target) + (0 if target == os.getuid() else 1)
        n = have + int(cfg["nproc_extra"])
        resource.setrlimit(resource.RLIMIT_NPROC, (n, n))
    if cfg.get("pid_namespace") and root:
        _enter_pid_namespace(libc, notes)
    os.umask(0o077)
    if uid is not None and root:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    if cfg.get("seccomp") and not _seccomp(libc, bytes.fromhex(cfg["seccomp"])):
        notes.append(f"nested user namespaces stay possible (seccomp refused, errno {ctypes.get_errno()})")
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # orphaned grandchildren stay in our tree, findable
    libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)  # grader gone -> we go (cleared by setuid, so set after)
    if cfg.get("copy_from"):
        _copy_in(cfg["copy_from"], cfg["workdir"])
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
            named = sorted(a for a in self.allowed if a != "stdlib" and a not in sys.stdlib_module_names)
            if "stdlib" in self.allowed:
                named.append("the Python standard library")
            allowed = ", ".join(named[:-1]) + " and " + named[-1] if len(named) > 1 else (named or ["nothing"])[0]
            raise ImportError(f"import of {top!r} is not allowed in this assignment (allowed: {allowed})")
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


REPEATS_SHOWN = 3   # as traceback prints a frame repeated in a row (recursion): three times, then a count


def _traceback_lines(tb, workdir):
    """The student's own frames, and the last one if it is a library's (where it blew up), formatted as
    traceback prints them; a frame repeated in a row beyond REPEATS_SHOWN becomes one count. Only the frames
    shown read their source: unbounded recursion under a raised recursion limit leaves a million frames, whose
    extraction alone would take seconds of the student's time limit."""
    chain = []
    while tb is not None:
        chain.append(tb)
        tb = tb.tb_next
    own = [i for i, t in enumerate(chain) if t.tb_frame.f_code.co_filename.startswith(workdir + os.sep)]
    if not own:
        return []
    last = chain[-1].tb_frame.f_code.co_filename
    if own[-1] != len(chain) - 1 and os.path.dirname(last) != os.path.dirname(__file__):
        own.append(len(chain) - 1)   # never the grader's own files
    lines, previous, run = [], None, 0
    for i in own:
        code = chain[i].tb_frame.f_code
        key = (code.co_filename, chain[i].tb_lineno, code.co_name)
        run = run + 1 if key == previous else 1
        previous = key
        if run <= REPEATS_SHOWN:
            frame = traceback.extract_tb(chain[i], limit=1)[0]
            frame.filename = _display_name(frame.filename, workdir)
            lines += traceback.StackSummary.from_list([frame]).format()
        elif run == REPEATS_SHOWN + 1:
            lines.append(1)        # how many more: formatted below, once the run has ended
        else:
            lines[-1] += 1
    return [f"  [Previous line repeated {n} more time{'s' if n > 1 else ''}]\n" if isinstance(n, int) else n
            for n in lines]


def _display_name(filename, workdir):
    """The student's files relative to their folder; a library's path inside the installation, not where the
    grader's Python lives."""
    if filename.startswith(workdir + os.sep):
        return filename[len(workdir) + 1:]
    for marker in ("site-packages" + os.sep, "dist-packages" + os.sep):
        if marker in filename:
            return filename.rsplit(marker, 1)[1]
    np_dir = os.sep + "numpy" + os.sep
    return "numpy" + os.sep + filename.rsplit(np_dir, 1)[1] if np_dir in filename \
        else os.sep.join(filename.split(os.sep)[-2:])


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
        lines = _traceback_lines(exc.__traceback__, workdir)
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
        if type(obj) is Kept:
            obj = obj.obj
        if len(self.objects) >= self.limit:
            raise MemoryError(f"more than {self.limit} objects kept for the grader")
        hid, self.next_id = self.next_id, self.next_id + 1
        self.objects[hid] = obj
        return hid, type_label(obj)

    def get(self, hid, type_name=""):
        if hid not in self.objects:
            raise StaleHandle(f"the {type_name or 'object'} the grader refers to no longer exists "
                              f"in this process (it was made by an earlier run of your code)")
        return self.objects[hid]


class StaleHandle(Exception):
    pass


class Kept:
    """A part of a result the grader asked to keep here (a layer's cache): it crosses as a Handle."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj


class Missing(Exception):
    pass


def type_label(obj):
    import numpy as np

    if isinstance(obj, np.ndarray):
        return f"numpy array of dtype {safe_text(lambda: str(obj.dtype), 60)}"
    return safe_text(lambda: type(obj).__name__, 100)


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
    for key in req.get("select") or []:
        if result is None:  # an unfilled stub: the grader says "not implemented"
            break
        ok = isinstance(result, dict) if isinstance(key, str) else isinstance(result, (tuple, list))
        try:
            result = result[key] if ok else wire.WireError
        except (IndexError, KeyError):
            ok = False
        if not ok:
            raise wire.WireError(f"it should return a tuple such as (out, cache); it returned "
                                 f"{'None' if result is None else 'a ' + type_label(result)}")
    keep = req.get("keep") or []
    if keep and isinstance(result, (tuple, list)):
        result = tuple(Kept(v) if i in keep or i - len(result) in keep else v for i, v in enumerate(result))
    # anything that is not data stays here as a handle; more numbers than the limit are refused before copying
    node, out = wire.dump_value(result, handles.add, cfg.get("max_elements", 10_000_000))
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
