"""Grading integrity: hostile submissions graded next to honest ones, by the real command line.

Each hostile fixture (tests/audit_fixtures/hostile_*) probes one way of cheating or of
harming others and reports what it managed inside its exception text (PROBE<json>PROBE),
which reaches its own results.json.  The fixtures aim only at what this test lists in
their probe.json: canaries inside tmp_path, and /tmp or /dev/shm names the test chose and
removes.  Each must earn nothing, leave nothing running or on disk, reach no other
student's results, and leave its honest neighbours' scores exactly as in a run without it.
Submissions side by side (sockets, /tmp) and a killed grader: tests/test_audit_isolation.py.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import uuid

import pytest

from gradcheck.audit import workspace
from tests.test_audit_sandbox import BWRAP, ROOT, build_tree

FIXTURES = os.path.join(os.path.dirname(__file__), "audit_fixtures")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HONEST = ["correct_matrix", "correct_loops", "bug_missing_half"]
MEMORY_MB = 256
SCRATCH_MB, SCRATCH_FILES = 64, 10_000  # the Limits defaults the fixtures push against


def _grade(subs, out, tmpdir, *args, env=None, wait=True):
    """`python -m gradcheck audit` in a fresh process whose TMPDIR is inside the test's tmp_path.

    Returns the Popen (``wait=False``) or a CompletedProcess that also carries the grader's ``pid``.
    """
    os.makedirs(tmpdir, exist_ok=True)
    cmd = [sys.executable, "-m", "gradcheck", "audit", str(subs), "--assignment", "mlp", "--out", str(out),
           "--quiet", "--timeout", "3", "--memory", str(MEMORY_MB), *args]
    full_env = dict(os.environ, TMPDIR=str(tmpdir), **(env or {}))
    if not wait:
        return subprocess.Popen(cmd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    with subprocess.Popen(cmd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          cwd=REPO) as p:
        stdout, stderr = p.communicate(timeout=240)
    done = subprocess.CompletedProcess(cmd, p.returncode, stdout, stderr)
    done.pid = p.pid
    return done


def _results(out, name):
    return json.loads((out / name / "results.json").read_text(encoding="utf-8"))


def _text(r):
    return r.get("output", "") + "\n".join(t.get("output", "") for t in r.get("tests", []))


def _probe(out, name):
    found = re.search(r"PROBE<(.*?)>PROBE", _text(_results(out, name)), re.S)
    assert found, f"{name} did not report: {_text(_results(out, name))[:600]}"
    return json.loads(found.group(1))


def _scores(out, names):
    return {n: (_results(out, n)["score"], [(t["name"], t["score"]) for t in _results(out, n)["tests"]])
            for n in names}


def _hashes(folder):
    """{path relative to ``folder``: sha256} of every file below it."""
    out = {}
    for root, _, files in os.walk(folder):
        for n in files:
            p = os.path.join(root, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, folder)] = hashlib.sha256(f.read()).hexdigest()
    return out


def _copy(name, subs, as_name=None, probe=None):
    dst = subs / (as_name or name)
    shutil.copytree(os.path.join(FIXTURES, name), dst)
    if probe is not None:
        (dst / "probe.json").write_text(json.dumps(probe))
    return dst


def _processes(entry, wanted):
    """Pids whose /proc/<pid>/<entry> text satisfies ``wanted`` (processes gone meanwhile are skipped)."""
    found = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/{entry}") as f:
                    if wanted(f.read()):
                        found.append(int(p))
            except OSError:
                pass
    return found


def _processes_named(name):
    return _processes("comm", lambda text: text.strip() == name)


def _processes_of_grader(pid):
    """Live processes in a cgroup of grader ``pid`` (the sandbox puts every child's whole tree in one)."""
    return _processes("cgroup", lambda text: f"/gradcheck-{pid}-" in text)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """One run: honest neighbours among hostile submissions; and the honest ones alone, for comparison."""
    if not (BWRAP or ROOT):
        pytest.skip("no sandbox that protects the grader here")
    root = tmp_path_factory.mktemp("integrity")
    subs, out, tmpdir = root / "subs", root / "out", root / "tmp"
    subs.mkdir()
    secret = "secret-" + uuid.uuid4().hex
    canary = root / "canary.txt"
    canary.write_text(secret)
    for name in HONEST:
        _copy(name, subs)
    _copy("hostile_import_reference", subs)
    _copy("hostile_read_neighbours", subs, probe={
        "read": {"neighbour_folder": str(subs / "correct_matrix" / "backprop.py"), "canary": str(canary),
                 "out_of_a_neighbour": str(out / "bug_missing_half" / "results.json"),
                 "assignment": os.path.join(REPO, "gradcheck", "audit", "assignment.py")},
        "out": str(out), "tmpdir": str(tmpdir), "secret": secret})
    fake = root / "fake-results.json"
    fake.write_text("{}")
    _copy("hostile_write_elsewhere", subs, probe={"targets": [
        str(subs / "correct_loops" / "backprop.py"), str(fake), str(out / "correct_loops" / "results.json")]})
    _copy("hostile_fork_memory", subs, probe={"forks": 4, "each_mb": MEMORY_MB * 6 // 10})
    fill_name = "gradcheck-test-fill-" + uuid.uuid4().hex[:8]
    _copy("hostile_fill_tmp", subs, probe={"name": fill_name, "max_mb": 3 * SCRATCH_MB,
                                           "max_files": 2 * SCRATCH_FILES})
    deep = _copy("correct_matrix", subs, as_name="hostile_deep_tree")
    build_tree(deep, depth=3000)
    many = _copy("correct_matrix", subs, as_name="hostile_many_files")
    build_tree(many, files=10_000)   # five times the limit: the grader stops counting at 2,001 whatever the size
    before = _hashes(subs / "correct_loops") | {"canary": canary.read_text()}
    try:
        proc = _grade(subs, out, tmpdir, "--jobs", "2", env={"GRADCHECK_TEST_SECRET": secret})
        honest_subs, honest_out = root / "honest", root / "honest-out"
        honest_subs.mkdir()
        for name in HONEST:
            _copy(name, honest_subs)
        alone = _grade(honest_subs, honest_out, root / "tmp2", "--jobs", "2")
    finally:
        for folder in ("/tmp", "/dev/shm"):  # only if the sandbox let it write there: the name we chose
            workspace.remove_tree(os.path.join(folder, fill_name))
    yield {"proc": proc, "out": out, "subs": subs, "tmpdir": tmpdir, "secret": secret, "alone": alone,
           "honest_out": honest_out, "before": before, "canary": canary, "fake": fake}
    subprocess.run([sys.executable, "-c", "import sys; from gradcheck.audit.workspace import remove_tree; "
                    "[remove_tree(p) for p in sys.argv[1:]]", str(deep), str(many)], cwd=REPO)


def test_the_run_completes_and_every_submission_has_results(mixed):
    assert mixed["proc"].returncode == 0, mixed["proc"].stderr[-2000:]
    assert mixed["alone"].returncode == 0, mixed["alone"].stderr[-2000:]
    assert set(os.listdir(mixed["subs"])) <= set(os.listdir(mixed["out"]))


def test_honest_neighbours_keep_identical_scores(mixed):
    assert _scores(mixed["out"], HONEST) == _scores(mixed["honest_out"], HONEST)
    assert _results(mixed["out"], "correct_matrix")["score"] > 0


def test_hostile_submissions_earn_nothing(mixed):
    for name in os.listdir(mixed["subs"]):
        if name.startswith("hostile_"):
            assert _results(mixed["out"], name)["score"] == 0, name


@pytest.mark.skipif(not BWRAP, reason="only bubblewrap keeps gradcheck off the child's filesystem")
def test_the_reference_cannot_be_imported_by_any_route(mixed):
    assert _probe(mixed["out"], "hostile_import_reference") == {"imported": []}


def test_nothing_of_others_can_be_read(mixed):
    found = _probe(mixed["out"], "hostile_read_neighbours")
    if not BWRAP:  # the fallback hides files by permissions, not the grader's own command line
        found.pop("grader_argv", None)
    assert found == {}


def test_the_secret_reaches_no_results(mixed):
    for root, _, files in os.walk(mixed["out"]):
        for n in files:
            with open(os.path.join(root, n), encoding="utf-8", errors="replace") as f:
                assert mixed["secret"] not in f.read(), os.path.join(root, n)


def test_no_file_of_another_student_or_the_grader_was_written(mixed):
    assert _probe(mixed["out"], "hostile_write_elsewhere") == {"wrote": []}
    assert _hashes(mixed["subs"] / "correct_loops") | {"canary": mixed["canary"].read_text()} == mixed["before"]
    assert mixed["fake"].read_text() == "{}"
    assert "pwned" not in _text(_results(mixed["out"], "correct_loops"))


def test_forked_children_cannot_hold_more_than_the_memory_limit(mixed):
    r = _results(mixed["out"], "hostile_fork_memory")
    if "PROBE<" in _text(r):
        probe = _probe(mixed["out"], "hostile_fork_memory")
        assert probe["held_mb"] <= MEMORY_MB, probe
    else:  # the whole tree was killed on the way
        assert f"more than {MEMORY_MB} MB" in _text(r) or "memory" in _text(r)


def test_tmp_and_shm_are_capped(mixed):
    fill = _probe(mixed["out"], "hostile_fill_tmp")
    for folder in ("/tmp", "/dev/shm"):
        assert fill[folder]["mb"] <= SCRATCH_MB, fill
        if ROOT:
            assert fill[folder]["files"] <= SCRATCH_FILES, fill


@pytest.mark.parametrize("name, words", [("hostile_deep_tree", "nested more than 40 deep"),
                                         ("hostile_many_files", "more than 2000 files")])
def test_oversized_trees_are_refused_clearly(mixed, name, words):
    text = _text(_results(mixed["out"], name))
    assert "submission too large" in text and words in text


def test_everything_the_grader_wrote_is_private_to_its_user(mixed):
    for root, dirs, files in os.walk(mixed["out"]):
        for n in dirs + files:
            mode = os.stat(os.path.join(root, n)).st_mode & 0o777
            assert mode & 0o077 == 0, (os.path.join(root, n), oct(mode))
    assert os.stat(mixed["out"]).st_mode & 0o077 == 0


def test_nothing_is_left_running_or_on_disk(mixed):
    assert _processes_of_grader(mixed["proc"].pid) == []
    assert [n for n in os.listdir(mixed["tmpdir"]) if n.startswith(workspace.PREFIX)] == []
