"""End to end: one audit over correct, buggy and hostile submissions (tests/audit_fixtures).

The audit runs once (module fixture, --jobs 4, 1 s per call, 512 MB per submission) and each test reads its
outputs: full marks for every correct style, points lost exactly where a catalog bug
bites (with the bug named), nothing earned by hostile code, no process left behind,
and well-formed results.json / summary.csv / report.html for every submission.
"""
from __future__ import annotations

import csv
import html.parser
import json
import os
import shutil
import subprocess
import sys

import pytest

from gradcheck.audit import cli
from gradcheck.audit.sandbox import HARNESS
from tests.test_audit_integrity import _hashes

FIXTURES = os.path.join(os.path.dirname(__file__), "audit_fixtures")
CORRECT = ["correct_matrix", "correct_loops", "Zoë Ångström (late)", "<img src=x onerror=alert(1)>"]
BUGS = {  # fixture -> (catalog name, checks it breaks)
    "bug_no_hidden_derivative": ("no_hidden_derivative", {"backward"}),
    "bug_missing_half": ("missing_half", {"backward"}),
    "bug_weight_grad_transposed": ("weight_grad_transposed", {"backward"}),
    "bug_jacobian_transposed": ("jacobian_transposed", {"jacobian"}),
}
EVIL_PIDS = "GRADCHECK_FIXTURE_LOG"      # env vars: files in tmp_path the hostile fixtures would write
PWNED = "GRADCHECK_FIXTURE_PWNED"        # to only if their code ran in the grader's own process


def _become_subreaper():
    """Orphans of our sandboxes are re-parented to this test process, not to init,
    so "ours" can be decided by ancestry even when other test workers run audits too."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


_become_subreaper()


def _parent(pid):
    with open(f"/proc/{pid}/stat", "rb") as f:
        return int(f.read().rsplit(b")", 1)[1].split()[1])


def _descends_from_us(pid):
    me = os.getpid()
    for _ in range(64):
        if pid == me:
            return True
        if pid <= 1:
            return False
        try:
            pid = _parent(pid)
        except OSError:
            return False
    return False


def _sandbox_processes():
    """Live processes that came from one of this test process's sandboxes: the harness
    command line or a sandbox uid, and this process among their ancestors."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{name}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
            uid = os.stat(f"/proc/{name}").st_uid
        except OSError:
            continue
        sandboxed = HARNESS.encode() in cmd or uid >= 0x5F000000 and uid != 0xFFFFFFFF
        if state != b"Z" and sandboxed and _descends_from_us(int(name)):
            found.append((int(name), uid, cmd[:80]))
    return found


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    root = tmp_path_factory.mktemp("audit")
    subs, out = root / "submissions", root / "out"
    shutil.copytree(FIXTURES, subs, ignore=lambda d, names: [n for n in names if d == FIXTURES and n.startswith(
        ("layers_", "network_", "slides_"))])   # other built-ins' fixtures: tests/test_audit_contracts.py
    (subs / "empty folder").mkdir()
    shutil.copytree(os.path.join(FIXTURES, "correct_matrix"), subs / CORRECT[2])
    shutil.copytree(os.path.join(FIXTURES, "correct_loops"), subs / CORRECT[3])
    for var in (EVIL_PIDS, PWNED):
        os.environ[var] = str(root / var.lower())
    before = _hashes(subs)
    # four at a time: the hostile ones mostly sit out their timeouts, so the run waits less than with two; one
    # second per call and 512 MB (a correct submission needs a tenth of the time and of the memory), so that
    # the ones that spin or fill memory up to the limit cost little
    code = cli.main([str(subs), "--assignment", "mlp", "--out", str(out), "--jobs", "4", "--timeout", "1",
                     "--memory", "512", "--quiet"])
    results = {name: json.loads((out / name / "results.json").read_text(encoding="utf-8"))
               for name in os.listdir(subs)}
    return {"code": code, "subs": subs, "out": out, "results": results, "before": before,
            "leftover": _sandbox_processes()}


def test_exit_code_zero_and_a_results_json_for_every_submission(audited):
    assert audited["code"] == 0
    names = sorted(os.listdir(audited["subs"]))
    assert sorted(audited["results"]) == names
    assert "empty folder" in names and len(names) >= 28


def test_gradescope_format(audited):
    for name, r in audited["results"].items():
        assert {"score", "execution_time", "output", "tests"} <= set(r), name
        assert isinstance(r["output"], str) and r["execution_time"] >= 0
        assert len(r["tests"]) == 12, name
        for t in r["tests"]:
            assert set(t) >= {"name", "score", "max_score", "status", "output", "visibility"}
            assert t["status"] in ("passed", "failed")
            assert 0 <= t["score"] <= t["max_score"] + 1e-9
        assert abs(r["score"] - sum(t["score"] for t in r["tests"])) < 1e-6
        checks = {t["name"].split(" ")[0] for t in r["tests"]}
        assert checks == {"forward", "backward", "jacobian"}


@pytest.mark.parametrize("name", CORRECT)
def test_correct_styles_get_full_marks(audited, name):
    r = audited["results"][name]
    assert r["score"] == pytest.approx(100.0), [t["output"] for t in r["tests"] if t["status"] == "failed"]


def test_float32_answers_to_float64_inputs_are_graded_at_float64_tolerance(audited):
    r = audited["results"]["correct_float32"]
    assert r["score"] < 50
    text = "\n".join(t["output"] for t in r["tests"])
    assert "You returned float32 arrays although the grader sent float64 inputs" in text


@pytest.mark.parametrize("name", sorted(BUGS))
def test_bugs_lose_points_on_the_broken_check_and_are_named(audited, name):
    bug, broken = BUGS[name]
    r = audited["results"][name]
    assert 0 < r["score"] < 100
    failed = [t for t in r["tests"] if t["status"] == "failed"]
    assert failed and {t["name"].split(" ")[0] for t in failed} <= broken
    for t in r["tests"]:
        if t["name"].split(" ")[0] not in broken:
            assert t["status"] == "passed", t
    assert any(f"({bug})" in t["output"] for t in failed), [t["output"] for t in failed]


def test_backward_partial_credit_per_parameter_array(audited):
    r = audited["results"]["bug_no_hidden_derivative"]
    partial = [t for t in r["tests"] if t["name"].startswith("backward") and 0 < t["score"] < t["max_score"]]
    assert partial, "output-layer gradients are right, so each backward check keeps part of its points"
    t = partial[0]
    assert "W1" in t["output"] and "yours" in t["output"] and "expected" in t["output"]
    assert "forgot φ' in the hidden layers" in t["output"]


def test_hostile_submissions_earn_nothing_unearned(audited):
    res = audited["results"]
    for name, r in res.items():
        if name.startswith("hostile_") or name == "empty folder":
            assert r["score"] == 0, (name, r["output"])
    assert res["partial_missing_function"]["score"] == pytest.approx(20.0)  # forward only, and it is right


@pytest.mark.parametrize("name, words", [
    ("hostile_infinite_loop", "timed out after 1 s"),
    ("hostile_ignore_signals", "timed out after 1 s"),
    ("hostile_segfault", "segmentation fault"),
    ("hostile_os_exit", "exited with status 0"),
    ("hostile_exit_at_import", "sys.exit(0)"),
    ("hostile_syntax_error", "SyntaxError"),
    ("hostile_memory", "MemoryError"),
    ("hostile_object_dtype", "dtype object"),
    ("hostile_huge_return", "the limit for a return value"),
    ("hostile_bad_exceptions", "could not be shown"),
    ("hostile_recursion", "RecursionError"),
    ("hostile_forbidden_import", "import of 'jax' is not allowed"),
    ("partial_missing_function", "does not define a function backward()"),
    ("empty folder", "there is no backprop.py"),
])
def test_feedback_says_what_happened(audited, name, words):
    r = audited["results"][name]
    text = r["output"] + "\n".join(t["output"] for t in r["tests"])
    assert words in text


def test_huge_messages_and_output_are_trimmed(audited):
    for name in ("hostile_bad_exceptions", "hostile_flood_output"):
        size = len((audited["out"] / name / "results.json").read_bytes())
        assert size < 200_000, (name, size)


def test_no_process_left_behind(audited):
    assert audited["leftover"] == []


def test_student_code_never_ran_in_the_grader(audited):
    assert not os.path.exists(os.environ[PWNED])
    if os.path.exists(os.environ[EVIL_PIDS]):
        pids = {int(line.split()[1]) for line in open(os.environ[EVIL_PIDS]) if line.strip()}
        assert os.getpid() not in pids


def test_no_submission_could_touch_another(audited):
    assert _hashes(audited["subs"]) == audited["before"]
    fake = audited["out"] / "results.json"
    assert not fake.exists()


def test_summary_csv(audited):
    with open(audited["out"] / "summary.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    assert header[:3] == ["name", "score", "max_score"] and len(header) == 3 + 12
    by_name = {r[0]: r for r in rows[1:]}
    assert set(by_name) == set(audited["results"])
    assert float(by_name["correct_loops"][1]) == 100.0
    assert all(len(r) == len(header) for r in rows)


class _Collect(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.links = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "a":
            self.links.append(dict(attrs).get("href"))


def test_report_html_escapes_and_links_every_submission(audited):
    out = audited["out"]
    text = (out / "report.html").read_text(encoding="utf-8")
    p = _Collect()
    p.feed(text)
    assert "img" not in p.tags and "script" not in p.tags  # the folder named <img ...> is text, not a tag
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "Most common diagnosed bugs" in text and "missing_half" in text
    for tag in ("timed out", "import failed", "crashed", "module missing"):   # failures are diagnosed too
        assert f"<td>{tag}</td>" in text, tag
    assert "timed out" in audited["results"]["hostile_infinite_loop"]["tests"][1]["output"]
    from urllib.parse import unquote

    linked = {unquote(h).rsplit("/", 1)[0] for h in p.links if h and h.endswith("feedback.html")}
    assert linked == set(audited["results"])
    for name in linked:
        assert (out / name / "feedback.html").exists()


def test_bad_arguments_exit_2_with_a_clear_message(tmp_path, capsys):
    subs, out = tmp_path / "subs", str(tmp_path / "out")
    subs.mkdir()
    assert cli.main([str(tmp_path / "nope"), "--assignment", "mlp", "--out", out]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert cli.main([str(subs), "--assignment", "no_such_thing", "--out", out]) == 2
    assert "unknown assignment 'no_such_thing'" in capsys.readouterr().err
    assert cli.main([str(subs), "--assignment", "mlp", "--out", out, "--jobs", "0"]) == 2
    assert "--jobs must be at least 1" in capsys.readouterr().err
    assert cli.main([str(subs), "--assignment", "mlp"]) == 2
    assert "--out" in capsys.readouterr().err
    assert cli.main([str(subs), "--assignment", "mlp", "--out", str(subs / "inside")]) == 2
    assert "inside SUBMISSIONS" in capsys.readouterr().err
    assert cli.main([str(subs), "--out", out]) == 2
    assert "--assignment" in capsys.readouterr().err
    assert cli.main(["--help"]) == 0
    assert not os.path.exists(out)


def test_gradescope_mode(tmp_path):
    sub = tmp_path / "autograder" / "submission"
    shutil.copytree(os.path.join(FIXTURES, "bug_missing_half"), sub)
    results = tmp_path / "autograder" / "results" / "results.json"
    code = cli.main(["--gradescope", "--assignment", "mlp", "--submission", str(sub), "--results", str(results),
                     "--timeout", "3"])
    assert code == 0
    r = json.loads(results.read_text())
    assert 0 < r["score"] < 100 and len(r["tests"]) == 12
    assert any("missing_half" in t["output"] for t in r["tests"])


def test_python_dash_m_entry_point(tmp_path):
    subs = tmp_path / "subs"
    shutil.copytree(os.path.join(FIXTURES, "correct_matrix"), subs / "a b")
    proc = subprocess.run([sys.executable, "-m", "gradcheck", "audit", str(subs), "--assignment", "mlp",
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120,
                          cwd=os.path.dirname(os.path.dirname(__file__)))
    assert proc.returncode == 0, proc.stderr
    assert "grading [" in proc.stderr  # the progress bar
    assert json.loads((tmp_path / "out" / "a b" / "results.json").read_text())["score"] == 100


CUSTOM_TOML = """
[assignment]
name = "custom"
module = "student"
seed = 5
[network]
activations = ["tanh", "logistic"]
target = "half_sse"
layout = "out_in"
bias = false
[functions]
forward = "fwd"
backward = "bwd"
jacobian = ""
[points]
forward = 4
backward = 6
[architectures]
fixed = [[3, 4, 2], [2, 2, 2]]
batch = [3, 3]
[limits]
timeout = 3
"""

CUSTOM_STUDENT = '''
import numpy as np

def fwd(params, x):
    h = np.tanh(x @ params["W1"].T)
    return 1 / (1 + np.exp(-(h @ params["W2"].T)))

def bwd(params, x, t):
    h = np.tanh(x @ params["W1"].T)
    y = 1 / (1 + np.exp(-(h @ params["W2"].T)))
    d2 = (y - t) * y * (1 - y)
    d1 = (d2 @ params["W2"]) * (1 - h ** 2)
    return {"W2": d2.T @ h, "W1": d1.T @ x}
'''


def test_instructor_toml_with_other_layout_and_activations(tmp_path):
    (tmp_path / "course.toml").write_text(CUSTOM_TOML)
    good = tmp_path / "subs" / "good"
    good.mkdir(parents=True)
    (good / "student.py").write_text(CUSTOM_STUDENT)
    bad = tmp_path / "subs" / "bad"
    bad.mkdir()
    (bad / "student.py").write_text(CUSTOM_STUDENT.replace("* (1 - h ** 2)", ""))
    out = tmp_path / "out"
    assert cli.main([str(tmp_path / "subs"), "--assignment", str(tmp_path / "course.toml"), "--out", str(out),
                     "--quiet"]) == 0
    good_r = json.loads((out / "good" / "results.json").read_text())
    bad_r = json.loads((out / "bad" / "results.json").read_text())
    assert good_r["score"] == pytest.approx(10) and len(good_r["tests"]) == 4
    assert 4 < bad_r["score"] < 10
    assert any("no_hidden_derivative" in t["output"] for t in bad_r["tests"])


def test_gradescope_mode_with_a_bad_assignment_still_writes_results(tmp_path, capsys):
    sub = tmp_path / "submission"
    sub.mkdir()
    results = tmp_path / "results" / "results.json"
    bad = tmp_path / "bad.toml"
    bad.write_text("[assignment]\nname = 'x'\n[limits]\ntimeout = -1\n")
    assert cli.main(["--gradescope", "--assignment", str(bad), "--submission", str(sub),
                     "--results", str(results)]) == 2
    assert "[limits] timeout must be positive" in capsys.readouterr().err
    assert "misconfigured" in json.loads(results.read_text())["output"]


def test_cli_restores_the_callers_umask(tmp_path):
    """The grader makes its own files private, but an in-process caller keeps its umask afterwards."""
    subs = tmp_path / "subs"
    (subs / "alice").mkdir(parents=True)
    old = os.umask(0o022)
    try:
        assert cli.main([str(subs), "--assignment", "no_such_thing", "--out", str(tmp_path / "out")]) == 2
        assert os.umask(0o022) == 0o022
    finally:
        os.umask(old)
