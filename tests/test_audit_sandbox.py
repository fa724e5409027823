"""The sandbox on its own: limits, kills, privileges, and the data-only protocol."""
from __future__ import annotations

import os
import time

import numpy as np
import pytest

from gradcheck.audit.sandbox import Limits, Sandbox, copy_submission

PROBE = os.path.join(os.path.dirname(__file__), "audit_fixtures", "_sandbox_probe")


@pytest.fixture
def sb():
    s = Sandbox(PROBE, "backprop", limits=Limits(timeout=2))
    yield s
    s.close()


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def test_round_trip_of_arrays_and_dicts(sb):
    x = np.arange(6.0).reshape(2, 3)
    out = sb.call("identity", {"W1": x, "b1": np.ones(3)})
    assert out.ok and set(out.value) == {"W1", "b1"}
    np.testing.assert_array_equal(out.value["W1"], x)
    assert out.value["W1"].dtype == np.float64
    assert sb.call("float32").value.dtype == np.float32
    ints = sb.call("integers").value
    assert ints == [1, 2, 3] and all(type(i) is int for i in ints)  # wire values keep their Python type


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
def test_child_is_unprivileged_and_offline(sb):
    uid, euid, gid, groups = sb.call("whoami").value
    assert uid != 0 and euid != 0 and gid != 0 and groups == 0
    assert sb.call("network").value == 0


def test_private_copy_and_no_import_path_to_the_folder(sb):
    v = sb.call("paths").value
    assert v["cwd_is_here"] == 1 and v["argv_has_folder"] == 0


@pytest.mark.parametrize("drop", [True, False], ids=["own-uid", "same-uid"])
def test_timeout_kills_the_whole_tree_and_the_next_call_gets_a_fresh_child(drop):
    with Sandbox(PROBE, "backprop", limits=Limits(timeout=2), drop_privileges=drop) as sb:
        _timeout_kills(sb)
    from tests.test_audit import _sandbox_processes

    assert _sandbox_processes() == []


def _timeout_kills(sb):
    assert sb.call("count").value == 1
    assert sb.call("count").value == 2
    pid = sb._proc.pid
    start = time.monotonic()
    out = sb.invoke("call", "fork_and_hang", timeout=1.0)
    assert out.kind == "timeout" and out.message == "timed out after 1 s"
    assert time.monotonic() - start < 3
    assert not _alive(pid)
    assert sb.call("count").value == 1  # module state is gone: a new child


def test_no_process_survives_close(tmp_path):
    s = Sandbox(PROBE, "backprop", limits=Limits(timeout=1))
    s.call("fork_and_hang")
    s.call("count")
    pid = s._proc.pid
    s.close()
    assert not _alive(pid)
    from tests.test_audit import _sandbox_processes

    assert _sandbox_processes() == []


def test_output_is_captured_with_a_cap(sb):
    out = sb.call("chatter")
    assert out.ok
    assert len(out.stdout) < 20_000 and "more bytes not kept" in out.stdout
    assert out.stderr == "b" * 10


def test_cpu_limit(tmp_path):
    with Sandbox(PROBE, "backprop", limits=Limits(timeout=10, cpu_seconds=1)) as s:
        out = s.call("cpu_burn")
    assert out.kind == "crash" and "CPU time" in out.message


def test_bad_limits_are_refused():
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        Limits(timeout=0)
    with pytest.raises(FileNotFoundError):
        Sandbox("/no/such/folder", "backprop")


def test_copy_skips_links_and_special_files(tmp_path):
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "backprop.py").write_text("x = 1\n")
    (src / "pkg" / "m.py").write_text("y = 2\n")
    os.symlink("/etc/shadow", src / "shadow")
    os.mkfifo(src / "fifo")
    skipped = copy_submission(str(src), str(tmp_path / "dst"))
    assert sorted(skipped) == ["fifo", "shadow"]
    assert (tmp_path / "dst" / "pkg" / "m.py").read_text() == "y = 2\n"
