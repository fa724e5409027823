"""The sandbox on its own: engines, limits, kills, private copies and their cleanup, --sandbox-check.

Every test that starts a child runs once per engine this machine can run (bubblewrap, and the
fallback as root); one test re-runs the grader as an unprivileged user with bubblewrap.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest

from gradcheck.audit import engine, sandbox_check, treelimits, workspace
from gradcheck.audit.sandbox import Limits, Sandbox
from gradcheck.audit.workspace import SubmissionTooLarge, copy_submission, remove_tree

HERE = os.path.dirname(os.path.abspath(__file__))
PROBE = os.path.join(HERE, "audit_fixtures", "_sandbox_probe")
REPO = os.path.dirname(HERE)
ROOT = os.geteuid() == 0
BWRAP = engine.bwrap_problem(engine.bwrap_binary(), os.geteuid()) is None
ENGINES = [pytest.param("bwrap", marks=pytest.mark.skipif(not BWRAP, reason="bubblewrap cannot run here")),
           pytest.param("fallback", marks=pytest.mark.skipif(not ROOT, reason="the fallback protects only as root"))]


@pytest.fixture(params=ENGINES)
def sb(request):
    s = Sandbox(PROBE, "backprop", limits=Limits(timeout=2), engine=request.param)
    yield s
    s.close()


BUILD = """
import os, sys
top, depth, files = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if files:
    first = os.path.join(top, "f0")
    os.close(os.open(first, os.O_CREAT | os.O_WRONLY, 0o644))
for i in range(1, files):
    os.link(first, os.path.join(top, "f%d" % i))
fd = os.open(top, os.O_RDONLY)
for _ in range(depth):
    os.mkdir("d", dir_fd=fd)
    sub = os.open("d", os.O_RDONLY, dir_fd=fd)
    os.close(fd)
    fd = sub
"""


def build_tree(top, depth=0, files=0):
    """A chain of ``depth`` folders and ``files`` empty files in ``top`` (built in a plain child
    process: the test process's jax threads make tens of thousands of system calls slow).

    The files are hard links to one: as many names for the grader to walk, at a tenth of the cost to make."""
    subprocess.run([sys.executable, "-c", BUILD, str(top), str(depth), str(files)], check=True)


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def _descendants(pid):
    kids, found = {pid}, []
    grew = True
    while grew:
        grew = False
        for name in os.listdir("/proc"):
            if name.isdigit() and int(name) not in kids:
                try:
                    with open(f"/proc/{name}/stat", "rb") as f:
                        ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
                except (OSError, ValueError):
                    continue
                if ppid in kids:
                    kids.add(int(name))
                    found.append(int(name))
                    grew = True
    return [p for p in found if _alive(p)]


def test_round_trip_of_arrays_and_dicts(sb):
    x = np.arange(6.0).reshape(2, 3)
    out = sb.call("identity", {"W1": x, "b1": np.ones(3)})
    assert out.ok and set(out.value) == {"W1", "b1"}
    np.testing.assert_array_equal(out.value["W1"], x)


def test_child_is_unprivileged_and_offline(sb):
    uid, euid, gid, groups = sb.call("whoami").value
    if ROOT:
        assert uid != 0 and euid != 0 and gid != 0 and groups == 0
    assert sb.call("network").value == 0


def test_no_user_namespace_of_its_own(sb):
    assert sb.call("nested_userns").value == 0  # a seccomp filter refuses unshare(CLONE_NEWUSER)


def test_private_copy_and_no_import_path_to_the_folder(sb):
    v = sb.call("paths").value
    assert v["cwd_is_here"] == 1 and v["argv_has_folder"] == 0


def test_timeout_kills_the_whole_tree_and_the_next_call_gets_a_fresh_child(sb):
    assert sb.call("count").value == 1
    assert sb.call("count").value == 2
    pid = sb._proc.pid
    out = sb.invoke("call", "fork_and_hang", timeout=1.0)
    assert out.kind == "timeout" and out.message == "timed out after 1 s"
    assert not _alive(pid) and _descendants(pid) == []
    assert sb.call("count").value == 1  # module state is gone: a new child


@pytest.mark.parametrize("name", ["bwrap", "fallback"])
def test_no_process_survives_close(name):
    if (name == "bwrap" and not BWRAP) or (name == "fallback" and not ROOT):
        pytest.skip(f"{name} does not run here")
    s = Sandbox(PROBE, "backprop", limits=Limits(timeout=1), engine=name)
    s.call("fork_and_hang")  # times out, leaving forked children behind for close() to find
    s.call("count")
    pid = s._proc.pid
    tree = s._session.tree
    s.close()
    assert not _alive(pid) and _descendants(pid) == []
    if tree is not None:
        for d in tree.dirs:
            assert not os.path.exists(d)


def test_output_is_captured_with_a_cap(sb):
    out = sb.call("chatter")
    assert out.ok
    assert len(out.stdout) < 20_000 and "more bytes not kept" in out.stdout
    assert out.stderr == "b" * 10


@pytest.mark.parametrize("name", [p.values[0] for p in ENGINES])
def test_cpu_limit(name):
    if (name == "bwrap" and not BWRAP) or (name == "fallback" and not ROOT):
        pytest.skip(f"{name} does not run here")
    with Sandbox(PROBE, "backprop", limits=Limits(timeout=10, cpu_seconds=1), engine=name) as s:
        out = s.call("cpu_burn")
    assert out.kind == "crash" and "CPU time" in out.message


def test_bad_limits_and_engines_are_refused():
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        Limits(timeout=0)
    with pytest.raises(ValueError, match="max_files must be a positive number"):
        Limits(max_files=0)
    with pytest.raises(FileNotFoundError):
        Sandbox("/no/such/folder", "backprop")
    with pytest.raises(ValueError, match="one of auto, bwrap, fallback"):
        Sandbox(PROBE, "backprop", engine="docker")


def test_the_fallback_without_root_is_refused_unless_trusted(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    eng = engine.FallbackEngine(why="no bwrap executable")
    with pytest.raises(engine.SandboxUnavailable, match="pass --trust-submissions") as e:
        engine.require_untrusted_ok(eng)
    assert "no bwrap executable" in str(e.value) and "run as you" in str(e.value)


def test_import_guard_names_what_is_allowed(tmp_path, request):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "m.py").write_text("def f():\n    import json\n    import jax\n")
    name = "bwrap" if BWRAP else "fallback"
    with Sandbox(str(sub), "m", limits=Limits(timeout=5), allowed_imports=["numpy", "stdlib"], engine=name) as s:
        out = s.call("f")
    assert out.kind == "exception"
    assert "import of 'jax' is not allowed in this assignment (allowed: numpy and the Python standard library)" \
        in out.message


# --------------------------------------------------------------------------- private copies
def test_copy_skips_links_and_special_files_and_is_private(tmp_path):
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "backprop.py").write_text("x = 1\n")
    (src / "pkg" / "m.py").write_text("y = 2\n")
    os.symlink("/etc/shadow", src / "shadow")
    os.mkfifo(src / "fifo")
    skipped = copy_submission(str(src), str(tmp_path / "dst"))
    assert sorted(skipped) == ["fifo", "shadow"]
    assert (tmp_path / "dst" / "pkg" / "m.py").read_text() == "y = 2\n"
    assert os.stat(tmp_path / "dst" / "pkg").st_mode & 0o777 == 0o700
    assert os.stat(tmp_path / "dst" / "backprop.py").st_mode & 0o777 == 0o600


@pytest.mark.parametrize("make, bound, words", [
    (lambda d: [open(d / f"f{i}", "w").close() for i in range(30)], {"max_files": 20}, "more than 20 files"),
    (lambda d: os.makedirs(d / "/".join("abcdefgh")), {"max_depth": 5}, "nested more than 5 deep"),
    (lambda d: (d / "big.npy").write_bytes(b"0" * (3 << 20)), {"max_bytes": 2 << 20}, "larger than 2 MB"),
])
def test_copy_is_bounded(tmp_path, make, bound, words):
    src = tmp_path / "src"
    src.mkdir()
    make(src)
    with pytest.raises(SubmissionTooLarge, match=words):
        copy_submission(str(src), str(tmp_path / "dst"), **bound)
    assert not (tmp_path / "dst").exists()   # refused before anything was copied


def test_a_too_large_submission_gets_a_clear_result_and_runs_nothing(tmp_path):
    shutil.copytree(PROBE, tmp_path / "sub")
    for i in range(40):
        (tmp_path / "sub" / f"x{i}").write_text("")
    with Sandbox(str(tmp_path / "sub"), "backprop", limits=Limits(max_files=30)) as s:
        out = s.call("count")
        assert s._proc is None
    assert out.kind == "import" and out.message.startswith("submission too large: ")
    assert "more than 30 files" in out.message


def test_removal_survives_a_hostile_tree(tmp_path):
    top = tmp_path / "top"
    top.mkdir()
    build_tree(top, depth=3000)  # deeper than PATH_MAX and than Python's recursion limit
    (top / "locked").mkdir()
    (top / "locked" / "f").write_text("x")
    os.chmod(top / "locked", 0)
    (top / "ro.txt").write_text("x")
    os.chmod(top / "ro.txt", 0)
    os.symlink("/etc", top / "link")
    remove_tree(str(top))
    assert not top.exists()
    assert os.path.isdir("/etc")


def test_folders_of_dead_graders_are_removed_and_live_ones_kept(tmp_path):
    dead, live = tmp_path / (workspace.PREFIX + "1-dead"), tmp_path / (workspace.PREFIX + "2-live")
    other = tmp_path / "gradcheck-something-else"
    for d in (dead, live, other):
        (d / "sandbox-x" / "src").mkdir(parents=True)
        (d / "owner.lock").write_text("1\n")
    holder = os.open(live / "owner.lock", os.O_RDWR)  # a live grader holds its lock
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        removed = workspace.remove_stale(str(tmp_path))
    finally:
        os.close(holder)
    assert removed == [str(dead)]
    assert not dead.exists() and live.exists() and other.exists()


@pytest.mark.skipif(not ROOT, reason="sandbox uids are claimed only as root")
def test_two_graders_never_share_a_sandbox_uid():
    first, second = treelimits.UidClaims(), treelimits.UidClaims()
    second.start = first.start  # the same starting point, as two graders with colliding pids would have
    a, b = first.take(), second.take()
    try:
        assert a != b
    finally:
        first.give(a)
        second.give(b)
    c = second.take()  # given back: free again
    second.give(c)


# --------------------------------------------------------------------------- --sandbox-check
@pytest.mark.parametrize("name", [p.values[0] for p in ENGINES])
def test_sandbox_check_probes_every_protection(name, capsys):
    if (name == "bwrap" and not BWRAP) or (name == "fallback" and not ROOT):
        pytest.skip(f"{name} does not run here")
    code = sandbox_check.report(name)
    text = capsys.readouterr().out
    for label in ("uid drop", "pid namespace", "mount namespace", "network namespace", "private /tmp",
                  "cgroup memory", "cgroup pids", "rlimits", "no_new_privs", "import isolation",
                  "nested user namespaces refused"):
        assert f"] {label}:" in text, label
    assert code == 0 and "OK for untrusted code" in text
    assert ("[yes] import isolation" in text) == (name == "bwrap")
    assert "[yes] nested user namespaces refused" in text


def test_sandbox_check_from_the_command_line():
    from gradcheck.audit import cli

    assert cli.main(["--sandbox-check", "--sandbox", "bwrap" if BWRAP else "fallback"]) == (0 if BWRAP or ROOT
                                                                                              else 1)


# --------------------------------------------------------------------------- without root
def _nobody_python():
    """(python, PYTHONPATH) that the user nobody can run with numpy and this checkout, or None."""
    if not ROOT or not shutil.which("setpriv"):
        return None
    site = os.path.dirname(os.path.dirname(np.__file__))
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for py in (f"/usr/bin/python{version}", f"/usr/local/bin/python{version}", os.path.realpath(sys.executable)):
        if not os.path.exists(py):
            continue
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", py, "-c",
                            "import numpy, os, sys, gradcheck.audit.engine; "
                            "assert os.access(os.path.realpath(sys.executable), os.R_OK)"],
                           capture_output=True, cwd="/",
                           env={"PYTHONPATH": f"{site}:{REPO}", "PATH": "/usr/bin:/bin"})
        if r.returncode == 0:
            return py, f"{site}:{REPO}"
    return None


def test_root_without_the_right_to_make_namespaces_still_drops_the_uid_and_says_what_is_missing():
    """Like a container without CAP_SYS_ADMIN: no bubblewrap, no namespaces; the fallback degrades, it does not fail."""
    found = _nobody_python()  # an interpreter any uid can run: the sandbox uid must run it without a mount trick
    if found is None:
        pytest.skip("no interpreter with numpy that every user can run")
    py, path = found
    r = subprocess.run(["setpriv", "--bounding-set", "-sys_admin", "--inh-caps", "-sys_admin", py, "-m", "gradcheck",
                        "audit", "--sandbox-check"], capture_output=True, text=True, cwd="/", timeout=300,
                       env={"PYTHONPATH": path, "PATH": "/usr/bin:/bin", "HOME": "/"})
    assert "fallback (bubblewrap not used" in r.stdout, r.stdout + r.stderr
    assert "[yes] uid drop" in r.stdout and "[no ] private /tmp" in r.stdout
    assert "[no ] mount namespace" in r.stdout and "sandbox starts" not in r.stdout


@pytest.mark.skipif(not BWRAP, reason="bubblewrap cannot run here")
def test_an_unprivileged_grader_with_bubblewrap_keeps_the_protections():
    found = _nobody_python()
    if found is None:
        pytest.skip("no interpreter with numpy that the user nobody can run (venv under a private folder)")
    py, path = found
    base = tempfile.mkdtemp(prefix="gradcheck-test-nobody-")  # the test's own folder, removed below
    try:
        os.chmod(base, 0o755)
        os.chown(base, 65534, 65534)
        subs = os.path.join(base, "subs")
        shutil.copytree(os.path.join(HERE, "audit_fixtures", "correct_matrix"), os.path.join(subs, "honest"))
        shutil.copytree(os.path.join(HERE, "audit_fixtures", "hostile_read_neighbours"), os.path.join(subs, "spy"))
        secret = "secret-" + os.urandom(8).hex()
        with open(os.path.join(base, "canary.txt"), "w") as f:
            f.write(secret)
        import json

        with open(os.path.join(subs, "spy", "probe.json"), "w") as f:
            json.dump({"read": {"neighbour": os.path.join(subs, "honest", "backprop.py"),
                                "canary": os.path.join(base, "canary.txt")},
                       "out": os.path.join(base, "out"), "tmpdir": os.path.join(base, "tmp"), "secret": secret}, f)
        os.mkdir(os.path.join(base, "tmp"))
        for root, dirs, files in os.walk(base):
            for n in dirs + files:
                os.chown(os.path.join(root, n), 65534, 65534)
        env = {"PYTHONPATH": path, "PATH": "/usr/bin:/bin", "HOME": base, "TMPDIR": os.path.join(base, "tmp"),
               "GRADCHECK_TEST_SECRET": secret}

        def run(*args):
            return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", py, "-m",
                                   "gradcheck", "audit", *args], capture_output=True, text=True, env=env, cwd=base,
                                  timeout=300)

        check = run("--sandbox-check")
        assert check.returncode == 0, check.stdout + check.stderr
        assert "[yes] import isolation" in check.stdout and "[yes] pid namespace" in check.stdout
        refused = run(subs, "--assignment", "mlp", "--out", os.path.join(base, "out0"), "--sandbox", "fallback")
        assert refused.returncode == 2 and "--trust-submissions" in refused.stderr
        graded = run(subs, "--assignment", "mlp", "--out", os.path.join(base, "out"), "--quiet", "--timeout", "5")
        assert graded.returncode == 0, graded.stderr[-2000:]
        with open(os.path.join(base, "out", "honest", "results.json")) as f:
            honest = json.load(f)
        with open(os.path.join(base, "out", "spy", "results.json")) as f:
            spy = json.load(f)
        assert honest["score"] > 0
        text = spy["output"] + "".join(t["output"] for t in spy["tests"])
        assert "PROBE<{}>PROBE" in text and secret not in text
        assert [n for n in os.listdir(os.path.join(base, "tmp")) if n.startswith(workspace.PREFIX)] == []
    finally:
        remove_tree(base)
