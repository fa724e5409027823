"""``gradcheck audit --sandbox-check``: which protections are really active on this machine.

Nothing here is taken from configuration: a probe submission runs in a real sandbox child
and reports what it can see and do (its uid, its namespaces, the grader's process, a file
the grader planted in /tmp, gradcheck's own files, its limits); the grader compares that
with itself.  The minimum for untrusted code is marked "required": if one is missing the
check exits 1, and ``gradcheck audit`` should not grade strangers' code here.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

PROBE_SOURCE = r'''
import os, resource, socket, importlib.util

def _ns(kind):
    try:
        return os.readlink("/proc/self/ns/" + kind)
    except OSError:
        return "?"

def _readable(path):
    try:
        with open(path, "rb") as f:
            f.read(1)
        return True
    except OSError:
        return False

def probe(grader_pid, canary, package_dir, limit_mb):
    facts = {"uid": os.getuid(), "euid": os.geteuid(), "pid": os.getpid()}
    for kind in ("pid", "mnt", "net", "uts", "ipc", "user"):
        facts["ns_" + kind] = _ns(kind)
    with open("/proc/self/status") as f:
        status = dict(line.split(":", 1) for line in f if ":" in line)
    facts["no_new_privs"] = status.get("NoNewPrivs", "0").strip() == "1"
    facts["sees_grader"] = os.path.exists("/proc/%d/cmdline" % grader_pid) and \
        _readable("/proc/%d/cmdline" % grader_pid)
    facts["grader_environ"] = _readable("/proc/%d/environ" % grader_pid)
    facts["sees_canary"] = os.path.exists(canary)
    facts["sees_package"] = os.path.exists(package_dir)
    facts["imports"] = [m for m in ("gradcheck", "reference_nets") if importlib.util.find_spec(m) is not None]
    facts["rlimit_as"] = resource.getrlimit(resource.RLIMIT_AS)[0]
    facts["rlimit_nproc"] = resource.getrlimit(resource.RLIMIT_NPROC)[0]
    facts["rlimit_fsize"] = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    st = os.statvfs("/tmp")
    facts["tmp_bytes"] = st.f_blocks * st.f_frsize
    facts["tmp_files"] = st.f_files
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    try:
        pid = os.fork()
    except OSError:  # one process allowed: try here (this probe child is thrown away after)
        facts["nested_userns"] = libc.unshare(0x10000000) == 0
    else:
        if pid == 0:  # try in a throwaway child
            os._exit(0 if libc.unshare(0x10000000) == 0 else 1)
        facts["nested_userns"] = os.waitpid(pid, 0)[1] == 0
    try:
        socket.create_connection(("1.1.1.1", 53), timeout=1).close()
        facts["network"] = True
    except OSError:
        facts["network"] = False
    return facts
'''


@dataclass
class Check:
    name: str
    active: bool
    detail: str
    required: bool = False

    def line(self) -> str:
        mark = "yes" if self.active else ("NO " if self.required else "no ")
        return f"  [{mark}] {self.name}: {self.detail}" + ("" if self.active or not self.required else "  (required)")


def _ns(kind: str) -> str:
    try:
        return os.readlink(f"/proc/self/ns/{kind}")
    except OSError:
        return "?"


def run(engine: str = "auto", *, memory_mb: int = 1024) -> tuple:
    """Probe the sandbox -> (engine summary, [Check]); never raises for what the machine lacks."""
    from . import engine as engine_mod
    from . import workspace
    from .sandbox import Limits, Sandbox

    try:
        eng = engine_mod.choose(engine)
    except engine_mod.SandboxUnavailable as e:
        return str(e), [Check("sandbox engine", False, str(e), required=True)]
    folder = workspace.new_folder()
    with open(os.path.join(folder, "probe.py"), "w") as f:
        f.write(PROBE_SOURCE)
    fd, canary = tempfile.mkstemp(prefix="gradcheck-check-canary-")
    os.close(fd)
    package_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        with Sandbox(folder, "probe", limits=Limits(timeout=30, memory_mb=memory_mb), engine=eng) as sb:
            out = sb.call("probe", os.getpid(), canary, package_dir, memory_mb)
            tree = sb._session.tree if sb._session is not None else None
    finally:
        os.unlink(canary)
        workspace.remove_tree(folder)
    if not out.ok or not isinstance(out.value, dict):
        detail = f"the probe did not run: {out.message} {out.stderr[-300:]}".strip()
        return eng.summary(), [Check("sandbox starts", False, detail, required=True)]
    return eng.summary(), _judge(out.value, tree, memory_mb)


def _judge(v: dict, tree, memory_mb: int) -> list:
    me = os.getuid()
    checks = []
    dropped = v["uid"] != me and v["uid"] != 0
    userns = v["ns_user"] != _ns("user")
    if dropped:
        detail = f"student code runs as uid {v['uid']}, the grader as {me}"
    elif userns:
        detail = f"same uid as the grader ({me}), but inside its own user namespace"
    else:
        detail = f"student code runs as the grader's own uid {me}"
    checks.append(Check("uid drop", dropped or userns, detail, required=True))
    for kind, label in (("pid", "pid namespace"), ("mnt", "mount namespace"), ("net", "network namespace")):
        own = v[f"ns_{kind}"] != _ns(kind)
        checks.append(Check(label, own, "own" if own else "shared with the grader"))
    checks.append(Check("no network", not v["network"], "no route out" if not v["network"] else
                        "a connection to 1.1.1.1:53 succeeded", required=True))
    checks.append(Check("grader's environment hidden", not v["grader_environ"],
                        "cannot read it" if not v["grader_environ"] else "can read /proc/<grader>/environ",
                        required=True))
    checks.append(Check("grader's process hidden", not v["sees_grader"],
                        "cannot see the grader's process" if not v["sees_grader"] else
                        "can read the grader's command line (the paths of the submissions and OUT)"))
    checks.append(Check("private /tmp", not v["sees_canary"],
                        f"its own tmpfs, {v['tmp_bytes'] >> 20} MB, {v['tmp_files']} files" if not v["sees_canary"]
                        else "shares the machine's /tmp with other submissions"))
    mem = tree is not None and tree.memory
    pids = tree is not None and tree.pids
    checks.append(Check("cgroup memory", mem, f"the whole tree is held to {memory_mb} MB" if mem else
                        "no writable cgroup: one process allowed, RLIMIT_AS bounds it"))
    checks.append(Check("cgroup pids", pids, "process count of the whole tree capped" if pids else
                        "no writable cgroup: RLIMIT_NPROC bounds the tree"))
    rl = v["rlimit_as"] > 0 and v["rlimit_fsize"] > 0 and v["rlimit_nproc"] > 0
    checks.append(Check("rlimits", rl, f"address space {v['rlimit_as'] >> 20} MB, file size "
                        f"{v['rlimit_fsize'] >> 20} MB, processes {v['rlimit_nproc']}" if rl else "not set",
                        required=True))
    checks.append(Check("no_new_privs", v["no_new_privs"], "set" if v["no_new_privs"] else "not set", required=True))
    checks.append(Check("nested user namespaces refused", not v["nested_userns"],
                        "unshare(CLONE_NEWUSER) fails" if not v["nested_userns"] else
                        "the child can create a user namespace (and mount its own filesystems in it)"))
    iso = not v["sees_package"] and not v["imports"]
    checks.append(Check("import isolation", iso, "gradcheck and reference_nets are not on its filesystem" if iso
                        else "can import " + (", ".join(v["imports"]) or "gradcheck's files")))
    return checks


def report(engine: str = "auto", stream=None) -> int:
    """Print the checks; 0 when the minimum for untrusted code holds, else 1."""
    import sys

    stream = stream or sys.stdout
    summary, checks = run(engine)
    print(f"gradcheck audit sandbox check\n  engine: {summary}", file=stream)
    for c in checks:
        print(c.line(), file=stream)
    missing = [c.name for c in checks if c.required and not c.active]
    if missing:
        print(f"NOT SAFE for untrusted code: missing {', '.join(missing)}", file=stream)
        return 1
    print("OK for untrusted code", file=stream)
    return 0
