"""Submissions graded one after another or side by side cannot meet, and nothing outlives a killed grader.

Each test runs the real command line on a pair (or one) of hostile fixtures, under each sandbox engine; like
tests/test_audit_integrity.py, whose helpers it uses, the fixtures aim only at names inside the test's tmp_path
and /tmp or /dev/shm names the test chose and removes.
"""
from __future__ import annotations

import os
import signal
import time
import uuid

import pytest

from gradcheck.audit import treelimits, workspace
from tests.test_audit_integrity import _copy, _grade, _probe, _processes_named
from tests.test_audit_sandbox import ENGINES


@pytest.mark.parametrize("sandbox", ENGINES)
def test_tmp_and_shm_are_private_to_each_submission(tmp_path, sandbox):
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    name = "gradcheck-test-msg-" + uuid.uuid4().hex[:8]
    probe = {"name": name, "secret": "hello-" + uuid.uuid4().hex}
    _copy("hostile_tmp_writer", subs, as_name="a_writer", probe=probe)
    _copy("hostile_tmp_reader", subs, as_name="b_reader", probe=probe)
    try:
        proc = _grade(subs, out, tmp_path / "tmp", "--sandbox", sandbox, "--jobs", "1")
    finally:
        for folder in ("/tmp", "/dev/shm"):  # the names this test chose, in case the sandbox let them through
            workspace.remove_tree(os.path.join(folder, name))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _probe(out, "a_writer")["wrote"] == ["/tmp", "/dev/shm"]  # it could write: into its own tmpfs
    assert _probe(out, "b_reader") == {"seen": {}}


@pytest.mark.parametrize("sandbox", ENGINES)
def test_two_concurrent_submissions_cannot_meet_on_a_unix_socket(tmp_path, sandbox):
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    probe = {"path": str(tmp_path / "rendezvous.sock"), "name": "gradcheck-test-" + uuid.uuid4().hex[:8],
             "secret": "hello-" + uuid.uuid4().hex, "wait": 2.5}
    _copy("hostile_socket_a", subs, probe=probe)
    _copy("hostile_socket_b", subs, probe=probe)
    proc = _grade(subs, out, tmp_path / "tmp", "--sandbox", sandbox, "--jobs", "2")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _probe(out, "hostile_socket_a")["heard"] == []
    assert _probe(out, "hostile_socket_b") == {"sent": []}


@pytest.mark.parametrize("sandbox", ENGINES)
def test_a_daemon_dies_with_a_killed_grader_and_its_folders_go_at_the_next_start(tmp_path, sandbox):
    subs, out, tmpdir = tmp_path / "subs", tmp_path / "out", tmp_path / "tmp"
    subs.mkdir()
    name = "gcd-" + uuid.uuid4().hex[:8]
    _copy("hostile_daemon", subs, probe={"name": name})
    grader = _grade(subs, out, tmpdir, "--sandbox", sandbox, "--timeout", "30", wait=False)
    try:
        deadline = time.monotonic() + 30
        while not _processes_named(name) and time.monotonic() < deadline and grader.poll() is None:
            time.sleep(0.05)
        assert _processes_named(name), "the daemon never started: " + (grader.stderr.read().decode()[-2000:]
                                                                       if grader.poll() is not None else "")
    finally:
        grader.send_signal(signal.SIGKILL)
        grader.wait()
        grader.stdout.close()
        grader.stderr.close()
    deadline = time.monotonic() + 5
    while _processes_named(name) and time.monotonic() < deadline:
        time.sleep(0.05)
    survivors = _processes_named(name)
    for pid in survivors:  # never leave it running, even when the test fails
        os.kill(pid, signal.SIGKILL)
    assert survivors == []
    left = [n for n in os.listdir(tmpdir) if n.startswith(workspace.PREFIX)]
    assert left, "a SIGKILLed grader cannot clean up; its folder should be there to be found"
    removed = workspace.remove_stale(str(tmpdir))
    assert sorted(os.path.basename(p) for p in removed) == sorted(left)
    assert [n for n in os.listdir(tmpdir) if n.startswith(workspace.PREFIX)] == []
    treelimits.remove_stale()  # the next grader's start also removes the dead one's cgroups
    for base in set(treelimits.parents().values()):
        assert [n for n in os.listdir(base) if n.startswith(f"gradcheck-{grader.pid}-")] == []
