"""Limits for a submission's whole process tree, and the private uids that make per-child limits possible.

RLIMIT_AS caps one process: eight forks of 900 MB each are 7 GB.  A cgroup caps the tree:
the memory (anonymous and tmpfs pages alike) and the number of processes of everything
started inside it.  We use one where the machine lets us write one (cgroup v2 with the
memory and pids controllers delegated, or the v1 memory and pids hierarchies, usually as
root); where none is writable the sandbox allows a single process instead
(RLIMIT_NPROC), so RLIMIT_AS alone bounds the tree.

A child joins its cgroup before it execs anything (``join_prefix``: a tiny shell that
writes its own pid into cgroup.procs and then execs the sandbox), so nothing it starts is
ever outside.  Sandbox uids (root only) are claimed through lock files under /run (or
/tmp), so two graders on one machine never hand out the same uid.
"""
from __future__ import annotations

import fcntl
import itertools
import os
import signal
import threading
import time

V1_ROOT = "/sys/fs/cgroup"
_COUNTER = itertools.count(1)
_NAME = "gradcheck-{pid}-{n}"
UID_BASE, UID_COUNT = 0x5F000000, 1 << 16


def _own_cgroups() -> dict:
    """controller (or "" for v2) -> our cgroup path relative to its hierarchy."""
    found = {}
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                for c in controllers.split(",") if controllers else [""]:
                    found[c] = path
    except OSError:
        pass
    return found


def _writable_dir(path: str) -> bool:
    return os.path.isdir(path) and os.access(path, os.W_OK)


def _v2_mount() -> str | None:
    for cand in (V1_ROOT, os.path.join(V1_ROOT, "unified")):
        if os.path.exists(os.path.join(cand, "cgroup.controllers")):
            return cand
    return None


def parents() -> dict:
    """Where we may create child cgroups: {"memory": dir, "pids": dir} (missing keys: not available)."""
    own = _own_cgroups()
    out = {}
    v2 = _v2_mount()
    if v2 is not None and "" in own:
        base = os.path.normpath(v2 + own[""])
        try:
            with open(os.path.join(base, "cgroup.subtree_control")) as f:
                enabled = f.read().split()
        except OSError:
            enabled = []
        if _writable_dir(base):
            for c in ("memory", "pids"):
                if c not in enabled:  # fails (EBUSY) where our cgroup holds processes: then it stays off
                    try:
                        with open(os.path.join(base, "cgroup.subtree_control"), "w") as f:
                            f.write(f"+{c}")
                        enabled.append(c)
                    except OSError:
                        pass
                if c in enabled:
                    out[c] = base
    for c in ("memory", "pids"):
        if c in out or c not in own:
            continue
        base = os.path.normpath(os.path.join(V1_ROOT, c) + own[c])
        if _writable_dir(base) and os.path.exists(os.path.join(base, "cgroup.procs")):
            out[c] = base
    return out


def remove_stale() -> None:
    """Remove empty cgroups left by graders that died (their pid is in the name)."""
    for base in set(parents().values()):
        try:
            names = os.listdir(base)
        except OSError:
            continue
        for name in names:
            parts = name.split("-")
            if len(parts) == 3 and parts[0] == "gradcheck" and parts[1].isdigit() and not _alive(int(parts[1])):
                _kill_members(os.path.join(base, name))
                try:
                    os.rmdir(os.path.join(base, name))
                except OSError:
                    pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


class TreeLimit:
    """One child's cgroup(s): memory.max and pids.max for everything the child starts."""

    def __init__(self, memory_bytes: int, pids_max: int):
        self.dirs: list[str] = []
        self.memory = self.pids = False
        name = _NAME.format(pid=os.getpid(), n=next(_COUNTER))
        for controller, base in sorted(parents().items()):
            path = os.path.join(base, name)
            if path not in self.dirs:
                try:
                    os.mkdir(path, 0o755)
                except OSError:
                    continue
                self.dirs.append(path)
            if controller == "memory":
                self.memory = _write_first(path, [("memory.max", memory_bytes),
                                                  ("memory.limit_in_bytes", memory_bytes)])
                _write_first(path, [("memory.swap.max", 0), ("memory.memsw.limit_in_bytes", memory_bytes)])
            else:
                self.pids = _write_first(path, [("pids.max", pids_max)])

    def join_prefix(self) -> list[str]:
        """argv prefix: join every cgroup of this limit, then exec the rest of the command line."""
        if not self.dirs:
            return []
        script = 'while [ "$1" != -- ]; do echo 0 > "$1" || exit 125; shift; done; shift; exec "$@"'
        return ["/bin/sh", "-c", script, "sh", *[os.path.join(d, "cgroup.procs") for d in self.dirs], "--"]

    def oom_killed(self) -> bool:
        """Did the memory limit kill something in this tree?"""
        for d in self.dirs:
            for name, key in (("memory.events", "oom_kill"), ("memory.oom_control", "oom_kill")):
                try:
                    with open(os.path.join(d, name)) as f:
                        for line in f:
                            k, _, v = line.partition(" ")
                            if k == key and int(v) > 0:
                                return True
                except (OSError, ValueError):
                    pass
            try:
                with open(os.path.join(d, "memory.failcnt")) as f:
                    if int(f.read()) > 0:
                        return True
            except (OSError, ValueError):
                pass
        return False

    def kill(self) -> None:
        """SIGKILL every process still in the tree (they cannot leave a cgroup on their own)."""
        for d in self.dirs:
            _kill_members(d)

    def release(self) -> None:
        self.kill()
        for d in self.dirs:
            for _ in range(100):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    _kill_members(d)
                    time.sleep(0.01)
        self.dirs = []


def _write_first(path: str, candidates) -> bool:
    for name, value in candidates:
        try:
            with open(os.path.join(path, name), "w") as f:
                f.write(str(int(value)))
            return True
        except OSError:
            continue
    return False


def _kill_members(path: str) -> None:
    try:
        with open(os.path.join(path, "cgroup.kill"), "w") as f:
            f.write("1")
    except OSError:
        pass
    for _ in range(200):
        try:
            with open(os.path.join(path, "cgroup.procs")) as f:
                pids = [int(p) for p in f.read().split()]
        except (OSError, ValueError):
            return
        if not pids:
            return
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.005)


# --------------------------------------------------------------------------- uids
def _uid_dir() -> str:
    for parent in ("/run", "/tmp"):
        if os.path.isdir(parent) and os.access(parent, os.W_OK):
            path = os.path.join(parent, "gradcheck-uids")
            try:
                os.mkdir(path, 0o700)
            except FileExistsError:
                pass
            st = os.lstat(path)
            if st.st_uid == os.geteuid() and (st.st_mode & 0o777) == 0o700:
                return path
    raise OSError("no private folder for sandbox uid claims (/run and /tmp are not writable)")


def _mapped(uid: int) -> bool:
    try:
        with open("/proc/self/uid_map") as f:
            for line in f:
                inside, _, count = (int(v) for v in line.split())
                if inside <= uid < inside + count:
                    return True
    except OSError:
        return False
    return False


class UidClaims:
    """Sandbox uids (root only), one per live child, never shared with another grader on this machine.

    A uid is claimed by holding an exclusive lock on its file; a dead grader's locks vanish
    with it.  A uid some process still runs as is never handed out.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.held: dict[int, int] = {}
        self.start = (os.getpid() * 97) % UID_COUNT

    def take(self) -> int:
        with self.lock:
            folder = _uid_dir()
            busy = _running_uids()
            for i in range(UID_COUNT):
                uid = UID_BASE + (self.start + i) % UID_COUNT
                if uid in self.held or uid in busy or not _mapped(uid):
                    continue
                fd = os.open(os.path.join(folder, str(uid)), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    os.close(fd)
                    continue
                self.held[uid] = fd
                self.start = (self.start + i + 1) % UID_COUNT
                return uid
            raise OSError("no free sandbox uid (all 65536 are claimed)")

    def give(self, uid: int) -> None:
        with self.lock:
            fd = self.held.pop(uid, None)
            if fd is not None:
                os.close(fd)


def _running_uids() -> set:
    uids = set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                uids.add(os.stat(f"/proc/{name}").st_uid)
            except OSError:
                pass
    return uids


UIDS = UidClaims()
