"""The built-in assignments layers, network and slides, end to end through `gradcheck audit`.

One audit per built-in over its fixtures (tests/audit_fixtures/<builtin>_*), run once for
the module; each test reads the results.  Honest submissions in two styles get full
marks, each planted bug loses exactly the points of the check it breaks, stubs score 0.
"""
from __future__ import annotations

import json
import os
import shutil

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradcheck.audit import cli

FIXTURES = os.path.join(os.path.dirname(__file__), "audit_fixtures")
BUILTINS = ("layers", "network", "slides")


def _run(root, builtin, names, *extra):
    subs, out = root / f"{builtin}-subs", root / f"{builtin}-out"
    for n in names:
        shutil.copytree(os.path.join(FIXTURES, n), subs / n)
    code = cli.main([str(subs), "--assignment", builtin, "--out", str(out), "--jobs", "2", "--quiet",
                     "--timeout", "5", *extra])
    return code, out, {n: json.loads((out / n / "results.json").read_text(encoding="utf-8")) for n in names}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("contracts")
    runs = {}
    for b in BUILTINS:
        names = sorted(n for n in os.listdir(FIXTURES) if n.startswith(b + "_"))
        code, out, results = _run(root, b, names)
        runs[b] = {"code": code, "out": out, "results": results}
    return runs


def _tests(r):
    return {t["name"]: t for t in r["tests"]}


def test_every_run_exits_zero(graded):
    assert [graded[b]["code"] for b in BUILTINS] == [0, 0, 0]


@pytest.mark.parametrize("builtin, name", [("layers", "layers_vectorized"), ("layers", "layers_loops"),
                                           ("network", "network_loops"), ("network", "network_costs_vectorized"),
                                           ("slides", "slides_scalar"),
                                           ("slides", "slides_numpy")])
def test_honest_styles_get_full_marks(graded, builtin, name):
    r = graded[builtin]["results"][name]
    assert r["score"] == pytest.approx(100.0), [t["output"] for t in r["tests"] if t["status"] == "failed"]


def test_a_package_with_sibling_imports_and_a_file_in_a_subfolder_are_found(graded):
    # layers_vectorized is cs231n/layers.py importing .layer_utils; layers_loops is hw2/layers.py
    for name in ("layers_vectorized", "layers_loops"):
        assert len(graded["layers"]["results"][name]["tests"]) == 19


LAYER_BUGS = {  # check -> (score fraction kept, words in its output)
    "affine backward": (2 / 3, "dw has shape (3, 4), expected (4, 3) (transposed?)"),
    "batchnorm forward": (0, "elements differ"),
    "batchnorm backward": (2 / 3, "dx: "),
    "layernorm forward": (0, "elements differ"),
    "dropout forward": (1 / 2, "the kept units are not x / 0.6"),
    "conv backward": (2 / 3, "averaged over a batch of 25 instead of summed"),
    "softmax_loss backward": (0, "summed over a batch of 5 instead of averaged"),
}


def test_each_layer_bug_costs_its_own_check_and_nothing_else(graded):
    tests = _tests(graded["layers"]["results"]["layers_buggy"])
    failed = {n for n, t in tests.items() if t["status"] == "failed"}
    assert failed == set(LAYER_BUGS)
    for name, (kept, words) in LAYER_BUGS.items():
        t = tests[name]
        assert t["score"] == pytest.approx(kept * t["max_score"], abs=1e-3), name
        assert words in t["output"], (name, t["output"])


def test_the_backward_is_judged_on_the_students_own_forward(graded):
    tests = _tests(graded["layers"]["results"]["layers_buggy"])
    # layernorm normalizes over the wrong axis, consistently in both passes: the forward loses,
    # the backward (right for that forward) keeps its points; same for the eps-less batchnorm (alt)
    assert tests["layernorm forward"]["score"] == 0 and tests["layernorm backward"]["status"] == "passed"
    assert tests["batchnorm backward (alt)"]["status"] == "passed"
    assert "finite differences of your forward give" in tests["batchnorm backward"]["output"]


def test_a_stub_scores_zero_without_a_crash(graded):
    r = graded["layers"]["results"]["layers_stub"]
    assert r["score"] == 0 and len(r["tests"]) == 19
    for t in r["tests"]:
        assert t["output"].startswith("not implemented: "), t
    text = "\n".join(t["output"] for t in r["tests"])
    assert "returned None (is it still a stub?)" in text and "raises NotImplementedError" in text
    assert "does not define a function svm_loss()" in text


def test_network_without_cost_classes_is_graded_on_what_it_has(graded):
    r = graded["network"]["results"]["network_book"]
    assert r["score"] == r["max_score"] == 100
    assert not any("Cost" in t["name"] for t in r["tests"])
    assert "Your module has no CrossEntropyCost or QuadraticCost, so the checks of them are left out" in r["output"]
    assert [t["max_score"] for t in r["tests"]] == pytest.approx([7 / .6, 8 / .6, 20 / .6, 25 / .6], abs=1e-3)


def test_a_wrong_cost_delta(graded):
    tests = _tests(graded["network"]["results"]["network_bad_delta"])
    q = tests["QuadraticCost"]
    assert q["score"] == pytest.approx(4) and "fn(a, y): correct" in q["output"] and "delta(z, a, y): 3 of 3" in \
        q["output"]
    assert tests["CrossEntropyCost"]["status"] == "passed"
    assert tests["backprop with CrossEntropyCost · net 2-5-3-1"]["status"] == "passed"
    for name in ("backprop · net 3-4-2", "backprop with QuadraticCost · net 2-5-3-1"):
        assert tests[name]["score"] == 0
    assert all(t["status"] == "passed" for n, t in tests.items() if n.startswith("feedforward"))


def test_slides_one_path_missing_costs_the_hidden_weights_only(graded):
    t = _tests(graded["slides"]["results"]["slides_wrong_path"])["gradients"]
    assert t["score"] == pytest.approx(35) and t["output"].startswith("4 of 8 weight gradients correct")
    for k in ("w5", "w6", "w7", "w8"):
        assert f"{k}: correct" in t["output"]


def test_report_counts_students_per_diagnosed_bug(graded):
    text = (graded["layers"]["out"] / "report.html").read_text(encoding="utf-8")
    assert "How many students hit each diagnosed mistake" in text
    row = text.split("not implemented</td><td>", 1)[1]
    assert row.startswith("1</td>")   # one student (the stub) hit "not implemented"
    assert 'class="bar"' in text


def test_shards_merge_into_the_unsharded_summary(graded, tmp_path):
    names = sorted(n for n in os.listdir(FIXTURES) if n.startswith("slides_"))
    subs = tmp_path / "subs"
    for n in names:
        shutil.copytree(os.path.join(FIXTURES, n), subs / n)
    outs = []
    for k in (1, 2):
        out = tmp_path / f"part{k}"
        assert cli.main([str(subs), "--assignment", "slides", "--out", str(out), "--shard", f"{k}/2", "--quiet"]) == 0
        outs.append(str(out))
    assert {p.name for p in (tmp_path / "part1").iterdir()} & {p.name for p in (tmp_path / "part2").iterdir()} \
        <= {"summary.csv", "report.html", "audit.json"}
    merged = tmp_path / "merged"
    assert cli.main(["merge", *outs, "--out", str(merged)]) == 0
    whole = graded["slides"]["out"]
    assert (merged / "summary.csv").read_text() == (whole / "summary.csv").read_text()
    for n in names:
        assert json.loads((merged / n / "results.json").read_text())["score"] == \
            graded["slides"]["results"][n]["score"]
    assert cli.main(["merge", outs[0], "--out", str(tmp_path / "half")]) == 2   # 1/2 without 2/2
    assert cli.main(["merge", outs[0], outs[0], "--out", str(tmp_path / "twice")]) == 2


def test_merge_refuses_incomplete_or_foreign_shards(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert cli.main(["merge", str(tmp_path / "empty"), "--out", str(tmp_path / "m")]) == 2
    assert "has no audit.json" in capsys.readouterr().err


def test_an_existing_out_is_refused_or_replaced_with_a_list(graded, tmp_path, capsys):
    out = graded["slides"]["out"]
    subs = tmp_path / "subs"
    shutil.copytree(os.path.join(FIXTURES, "slides_numpy"), subs / "only")
    assert cli.main([str(subs), "--assignment", "slides", "--out", str(out), "--quiet"]) == 2
    assert "already holds" in capsys.readouterr().err
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    assert cli.main([str(subs), "--assignment", "slides", "--out", str(copy), "--quiet", "--overwrite"]) == 0
    assert "deleted" in capsys.readouterr().err
    assert sorted(p.name for p in copy.iterdir()) == ["audit.json", "only", "report.html", "summary.csv"]
    (copy / "notes.txt").write_text("mine")
    assert cli.main([str(subs), "--assignment", "slides", "--out", str(copy), "--quiet", "--overwrite"]) == 2
    assert "no gradcheck audit run wrote (notes.txt)" in capsys.readouterr().err
    assert (copy / "notes.txt").exists()


SMALL_TOML = """
[assignment]
name = "small"
module = "backprop"
seed = 3
[functions]
jacobian = ""
[points]
forward = 10
backward = 30
[architectures]
fixed = [[3, 4, 2]]
batch = [3, 3]
[limits]
timeout = 5
"""

GOOD_FORWARD = '''
import numpy as np

def forward(params, x):
    h = 1 / (1 + np.exp(-(x @ params["W1"] + params["b1"])))
    return 1 / (1 + np.exp(-(h @ params["W2"] + params["b2"])))
'''

NEWCOMER = {
    "list_backward": GOOD_FORWARD + "\ndef backward(params, x, t):\n    return [params['W1'], params['b1']]\n",
    "missing_key": GOOD_FORWARD + "\ndef backward(params, x, t):\n    return {k: 0 * v for k, v in params.items()"
                                  " if k != 'b2'}\n",
    "numpy_error": "import numpy as np\n\ndef forward(params, x):\n    return np.reshape(x, (7, 7, 7))\n",
    "lone_surrogates": "def forward(params, x):\n    raise ValueError('bad \\ud800 text')\n\n"
                       "def backward(params, x, t):\n    return {'W1\\udfff': 1.0}\n",
}


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory):
    root = tmp_path_factory.mktemp("newcomer")
    (root / "small.toml").write_text(SMALL_TOML)
    subs = root / "subs"
    for name, code in NEWCOMER.items():
        (subs / name).mkdir(parents=True)
        (subs / name / "backprop.py").write_text(code)
    (subs / "wrong_name" / "hw").mkdir(parents=True)
    (subs / "wrong_name" / "hw" / "back_prop.py").write_text("x = 1\n")
    (subs / "wrong_name" / "notes.txt").write_text("hi\n")
    out = root / "out"
    assert cli.main([str(subs), "--assignment", str(root / "small.toml"), "--out", str(out), "--quiet"]) == 0
    return {n: json.loads((out / n / "results.json").read_text()) for n in [*NEWCOMER, "wrong_name"]}


def _text(r):
    return r["output"] + "\n" + "\n".join(t["output"] for t in r["tests"])


def test_backward_returning_a_list_is_told_what_to_return(newcomer):
    text = _text(newcomer["list_backward"])
    assert "should return a dict with the keys W1, b1, W2, b2 (one gradient per parameter array, like params), " \
           "got a list" in text
    assert "inhomogeneous" not in text


def test_a_missing_key_is_not_followed_by_a_nan_line(newcomer):
    text = _text(newcomer["missing_key"])
    assert "b2: missing from the returned dict" in text
    assert "NaN" not in text and "log(0)" not in text


def test_tracebacks_show_the_students_files_and_no_grader_paths(newcomer):
    import sys

    text = _text(newcomer["numpy_error"])
    assert 'File "backprop.py", line 4, in forward' in text and "numpy/" in text
    assert "harness.py" not in text and "wire.py" not in text and sys.prefix not in text


def test_a_missing_module_lists_what_the_submission_contains(newcomer):
    out = newcomer["wrong_name"]["output"]
    assert "There is no backprop.py in the submission, so no check could run. The submission contains: " \
           "notes.txt, hw/back_prop.py." in out


def test_feedback_detail_hint_and_score(graded):
    from gradcheck.audit import runner
    from gradcheck.audit.contracts import layers
    from gradcheck.audit.sandbox import Limits

    folder = os.path.join(FIXTURES, "layers_buggy")
    full = _tests(graded["layers"]["results"]["layers_buggy"])
    hint = {t.name: t for t in runner.grade_folder(layers.build(detail="hint"), folder, "x", Limits(timeout=5)).tests}
    score = runner.grade_folder(layers.build(detail="score"), folder, "x", Limits(timeout=5))
    conv_full, conv_hint = full["conv backward"]["output"], hint["conv backward"].output
    assert "yours" in conv_full and "finite differences of your forward give" in conv_full
    assert "yours" not in conv_hint and "rtol" not in conv_hint and "give" not in conv_hint
    assert "db: 3 of 3 elements checked differ" in conv_hint and "averaged over a batch of 25" in conv_hint
    assert [t.score for t in score.tests] == [t["score"] for t in full.values()]
    assert all(t.output == "" for t in score.tests)
    assert score.output.splitlines() == [score.output.splitlines()[0]]   # the points line only


def test_the_python_assignment_of_the_docs_grades_end_to_end(tmp_path):
    import re

    doc = open(os.path.join(os.path.dirname(os.path.dirname(__file__)), "docs", "audit.md"), encoding="utf-8").read()
    files = dict(re.findall(r"```python file=(\S+)\n(.*?)```", doc, re.S))
    for name in ("my_assignment.py", "class2/alice/tanh_layer.py", "class2/bob/tanh_layer.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(files[name], encoding="utf-8")
    out = tmp_path / "graded"
    assert cli.main([str(tmp_path / "class2"), "--assignment", str(tmp_path / "my_assignment.py"), "--out", str(out),
                     "--quiet"]) == 0
    rows = (out / "summary.csv").read_text().splitlines()
    assert rows == ["name,score,max_score,tanh forward,tanh backward,tanh is odd",
                    "alice,12.0,12.0,4.0,6.0,2.0", "bob,6.0,12.0,4.0,0.0,2.0"]


def test_a_python_assignment_file_with_mistakes_is_refused_with_the_reason(tmp_path, capsys):
    (tmp_path / "subs" / "a").mkdir(parents=True)
    bad = tmp_path / "bad.py"
    bad.write_text("from gradcheck.audit import Assignment\nassignmnt = Assignment('x', module='m')\n")
    assert cli.main([str(tmp_path / "subs"), "--assignment", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "must define a variable named assignment" in capsys.readouterr().err
    bad.write_text("import numpy as np\nnp.nope()\n")
    assert cli.main([str(tmp_path / "subs"), "--assignment", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "running the assignment file failed" in capsys.readouterr().err


def test_declared_float32_precision_accepts_float32_work(tmp_path):
    toml = SMALL_TOML.replace("[limits]", "[tolerances]\nprecision = \"float32\"\n[limits]")
    (tmp_path / "f32.toml").write_text(toml)
    shutil.copytree(os.path.join(FIXTURES, "correct_float32"), tmp_path / "subs" / "f32")
    out = tmp_path / "out"
    assert cli.main([str(tmp_path / "subs"), "--assignment", str(tmp_path / "f32.toml"), "--out", str(out),
                     "--quiet"]) == 0
    r = json.loads((out / "f32" / "results.json").read_text())
    assert r["score"] == 40 and "You returned float32" not in _text(r)


def test_an_unseeded_dropout_is_told_to_use_its_seed(tmp_path):
    from gradcheck.audit import runner
    from gradcheck.audit.contracts import layers
    from gradcheck.audit.sandbox import Limits

    src = open(os.path.join(FIXTURES, "layers_buggy", "layers.py")).read()
    (tmp_path / "layers.py").write_text(src.replace('np.random.seed(dropout_param["seed"])', "pass"))
    res = runner.grade_folder(layers.build(), str(tmp_path), "x", Limits(timeout=5))
    t = {t.name: t for t in res.tests}["dropout backward"]
    assert not res.grader_error and t.score == 0
    assert t.output.startswith("your dropout_forward() returned different values for the same inputs")


def test_registered_assignments_are_found_by_name(monkeypatch):
    from gradcheck.audit import contracts
    from gradcheck.audit.assignment import builtin_names, load
    from gradcheck.audit.contracts.slides import build

    monkeypatch.setattr(contracts, "_REGISTRY", {})   # leaves the process's registry as it was
    contracts.register("slides_again", lambda: build(detail="hint"))
    assert "slides_again" in builtin_names() and load("slides_again").detail == "hint"


@given(st.lists(st.text(min_size=1, max_size=4), unique=True, max_size=30), st.integers(1, 6))
def test_shards_partition_the_submissions(names, n):
    from gradcheck.audit.runner import shard

    parts = [shard(names, k, n) for k in range(1, n + 1)]
    assert sorted(x for p in parts for x in p) == sorted(names)
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    assert parts == [shard(list(reversed(names)), k, n) for k in range(1, n + 1)]   # order of listing is irrelevant


def test_vjp_against_finite_differences_and_a_reference(tmp_path):
    import numpy as np

    from gradcheck.audit import Assignment, runner
    from gradcheck.audit.sandbox import Limits

    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "tl.py").write_text(   # a doubled forward, with the backward of that doubled forward
        "import numpy as np\n\ndef fwd(x):\n    return 2 * np.tanh(x), x\n\n"
        "def bwd(dout, x):\n    return 2 * dout * (1 - np.tanh(x) ** 2)\n")
    a = Assignment("t", module="tl")

    def inputs(rng):
        return (rng.normal(size=(3, 2)),)

    a.vjp("own forward only", forward="fwd", backward="bwd", inputs=inputs, wrt=(0,), labels=("dx",), points=1)
    a.vjp("and the reference", forward="fwd", backward="bwd", inputs=inputs, wrt=(0,), labels=("dx",), points=1,
          reference=lambda x, dout: (dout * (1 - np.tanh(x) ** 2),))
    res = {t.name: t for t in runner.grade_folder(a, str(tmp_path / "s"), "s", Limits(timeout=5)).tests}
    assert res["own forward only"].score == 1
    assert res["and the reference"].score == 0 and "differs from the reference gradient" in \
        res["and the reference"].output


def test_text_the_child_cannot_encode_is_replaced_not_fatal(newcomer):
    text = _text(newcomer["lone_surrogates"])   # the run finished and wrote valid UTF-8 for everyone
    assert "forward() raised ValueError: bad \ufffd text" in text and "(ignored unexpected keys: W1\ufffd)" in text
