"""The pytest plugin, tested through pytester.

In-process runs (runpytest) restore sys.modules afterwards; jax is imported
once by tests/conftest.py, so inner runs that import it reuse that copy.
Runs that need a fresh interpreter (import cost, xdist) use runpytest_subprocess.
hypothesis is imported here, before any inner run: hypothesis' own terminal summary imports it, and
an inner run that imports it again re-imports (and assertion-rewrites) the whole package, about a
second per run.
"""
from __future__ import annotations

import inspect
import json
import os
import sys

import hypothesis.internal.observability  # noqa: F401
import pytest

import gradcheck
import gradcheck_pytest
from gradcheck import context
from gradcheck_pytest import _options

# Options of every subprocess run: no cache folder, and no hypothesis plugin (its end-of-run summary imports all
# of hypothesis, half a second per process, more than the rest of a small run).
FRESH = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")

# A small numpy network: one hidden tanh layer, half-SSE loss, and its backward written by hand.
MLP = '''
import numpy as np
import pytest

rng = np.random.default_rng(0)
X = rng.normal(size=(5, 3))
T = rng.normal(size=(5, 2))
PARAMS = {"W1": rng.normal(size=(3, 4)), "b1": rng.normal(size=4) * 0.1,
          "W2": rng.normal(size=(4, 2)), "b2": rng.normal(size=2) * 0.1}


def loss(p):
    h = np.tanh(X @ p["W1"] + p["b1"])
    y = h @ p["W2"] + p["b2"]
    return 0.5 * float(np.sum((y - T) ** 2))


def backward(p, bug=False):
    h = np.tanh(X @ p["W1"] + p["b1"])
    e = h @ p["W2"] + p["b2"] - T
    dh = (e @ p["W2"].T) * (1.0 if bug else (1 - h ** 2))
    return {"W1": X.T @ dh, "b1": dh.sum(0), "W2": h.T @ e, "b2": e.sum(0)}


def wrong_backward(p):
    return backward(p, bug=True)
'''


@pytest.fixture
def mlp(pytester):
    pytester.makepyfile(mlp_net=MLP)
    return pytester


def _report(pytester, name="report.json"):
    return json.loads((pytester.path / name).read_text())


# -- options, ini keys, markers -------------------------------------------------------------------


def test_help_lists_the_gradcheck_group_and_ini_keys(pytester):
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines([
        "gradcheck: check hand-written gradients:",
        "*--gradcheck *run tests marked gradcheck*",
        "*--gradcheck-oracle={auto,fd,jax,both}*",
        "*--gradcheck-mode={auto,fast,full}*",
        "*--gradcheck-rtol=RTOL*",
        "*--gradcheck-atol=ATOL*",
        "*--gradcheck-seed=SEED*",
        "*--gradcheck-report=PATH*",
        "*--gradcheck-submission=DIR*",
    ])
    for key, kind in [("gradcheck", "bool"), ("gradcheck_mode", "string"), ("gradcheck_oracle", "string"), ("gradcheck_rtol", "float"),
                      ("gradcheck_atol", "float"), ("gradcheck_seed", "int"), ("gradcheck_report", "string"),
                      ("gradcheck_submission", "string")]:
        result.stdout.fnmatch_lines([f"  {key} (string):*"])  # read as text, parsed by the plugin


def test_marker_is_documented_with_its_signature(pytester):
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines([
        "@pytest.mark.gradcheck(*, oracle='auto', mode='auto', rtol=None, atol=None, seed=0, directions=2):*"])


def test_marker_passes_strict_markers(mlp):
    mlp.makepyfile(test_a='''
        import pytest
        @pytest.mark.gradcheck(mode="full")
        def test_a():
            pass
        ''')
    result = mlp.runpytest("--strict-markers", "--gradcheck")
    result.assert_outcomes(passed=1)
    # and the same check fails for a marker nobody registered
    mlp.makepyfile(test_b='''
        import pytest
        @pytest.mark.gradchek
        def test_b():
            pass
        ''')
    mlp.runpytest("--strict-markers").assert_outcomes(errors=1, passed=0)


def test_plugin_constants_agree_with_the_library():
    assert _options.ORACLES == context.ORACLES
    assert _options.MODES == context.MODES
    sig = inspect.signature(gradcheck.grads_report)
    kw_only = [n for n, p in sig.parameters.items()
               if p.kind is p.KEYWORD_ONLY and n not in ("reference", "network", "replay_random")]  # per call
    assert tuple(kw_only) == _options.MARKER_KEYS
    assert sig.parameters["seed"].default == _options.DEFAULT_SEED


# -- enabling, skipping, the fixture --------------------------------------------------------------

TESTS = '''
import pytest
from mlp_net import PARAMS, backward, loss, wrong_backward


@pytest.mark.gradcheck
def test_marked(gradcheck):
    gradcheck.assert_grads_match(loss, PARAMS, backward)


def test_fixture_without_marker(gradcheck):
    report = gradcheck.grads_report(loss, PARAMS, backward)
    assert report.passed
'''


def test_marked_tests_are_skipped_without_the_flag_with_a_reason(mlp):
    mlp.makepyfile(test_nets=TESTS)
    result = mlp.runpytest("-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED ?1? test_nets.py:*: gradcheck test: run pytest with --gradcheck*"])


def test_flag_runs_marked_tests(mlp):
    mlp.makepyfile(test_nets=TESTS)
    mlp.runpytest("--gradcheck").assert_outcomes(passed=2)


@pytest.mark.parametrize("value, outcome", [("true", {"passed": 2}), ("false", {"passed": 1, "skipped": 1})])
def test_ini_key_enables_marked_tests(mlp, value, outcome):
    mlp.makepyfile(test_nets=TESTS)
    mlp.makepyprojecttoml(f"[tool.pytest.ini_options]\ngradcheck = {value}\n")
    mlp.runpytest().assert_outcomes(**outcome)


PRECEDENCE = '''
import pytest
from mlp_net import PARAMS, backward, loss


def test_session(gradcheck):
    r = gradcheck.grads_report(loss, PARAMS, backward, mode="full")
    print("SESSION", r.seed, r.params[0].rtol)


@pytest.mark.gradcheck(seed=11, rtol=0.01)
def test_marker(gradcheck):
    r = gradcheck.grads_report(loss, PARAMS, backward, mode="full")
    print("MARKER", r.seed, r.params[0].rtol)


@pytest.mark.gradcheck(seed=11, rtol=0.01)
def test_explicit(gradcheck):
    r = gradcheck.grads_report(loss, PARAMS, backward, mode="full", seed=5, rtol=0.5)
    print("EXPLICIT", r.seed, r.params[0].rtol)
'''


DEFAULT_RTOL64 = __import__("gradcheck.tolerances").tolerances.floor_for("float64").rtol


@pytest.mark.parametrize("ini, args, session", [
    ("", [], f"SESSION 0 {DEFAULT_RTOL64}"),
    ("gradcheck_seed = 3\ngradcheck_rtol = 0.001\n", [], "SESSION 3 0.001"),
    ("gradcheck_seed = 3\ngradcheck_rtol = 0.001\n", ["--gradcheck-seed=7", "--gradcheck-rtol=0.0001"],
     "SESSION 7 0.0001"),
])
def test_precedence_command_line_ini_marker_call(mlp, ini, args, session):
    mlp.makepyfile(test_prec=PRECEDENCE)
    mlp.makepyprojecttoml("[tool.pytest.ini_options]\ngradcheck = true\n" + ini)
    result = mlp.runpytest("-s", *args)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([f"*{session}*"])
    result.stdout.fnmatch_lines(["*MARKER 11 0.01*"])
    result.stdout.fnmatch_lines(["*EXPLICIT 5 0.5*"])


def test_session_oracle_applies_to_grads_and_not_to_vjp_or_jacobian(mlp):
    mlp.makepyfile(test_o='''
        import numpy as np

        def test_it(gradcheck):
            r = gradcheck.grads_report(lambda p: (p ** 2).sum(), np.ones(3), lambda p: 2 * p)
            assert r.oracle == "both", r.oracle
            v = gradcheck.vjp_report(lambda x: x ** 2, np.ones(3), np.ones(3), 2 * np.ones(3))
            assert v.oracle == "fd" and v.passed
            j = gradcheck.jacobian_report(lambda x: 3 * x, np.ones(2), 3 * np.eye(2))
            assert j.passed
            assert len(gradcheck.reports) == 3
        ''')
    mlp.runpytest("--gradcheck-oracle=both").assert_outcomes(passed=1)


def test_every_fixture_function_is_recorded(mlp):
    mlp.makepyfile(test_all='''
        import numpy as np

        def test_all(gradcheck):
            f = lambda p: float(np.sum(p ** 3))
            gradcheck.assert_grads_match(f, np.ones(2), lambda p: 3 * p ** 2)
            gradcheck.grads_report(f, np.ones(2), lambda p: 3 * p ** 2)
            gradcheck.assert_vjp_match(lambda x: x ** 2, np.ones(3), np.ones(3), 2 * np.ones(3))
            gradcheck.vjp_report(lambda x: x ** 2, np.ones(3), np.ones(3), 2 * np.ones(3))
            gradcheck.assert_jacobian_match(lambda x: 3 * x, np.ones(2), 3 * np.eye(2))
            gradcheck.jacobian_report(lambda x: 3 * x, np.ones(2), 3 * np.eye(2))
        ''')
    mlp.runpytest("--gradcheck-report=report.json").assert_outcomes(passed=1)
    checks = _report(mlp)["checks"]
    assert [c["function"] for c in checks] == [
        "assert_grads_match", "grads_report", "assert_vjp_match", "vjp_report", "assert_jacobian_match",
        "jacobian_report"]
    assert {c["kind"] for c in checks} == {"grads", "vjp", "jacobian"}
    assert all(c["test"] == "test_all.py::test_all" and c["passed"] for c in checks)


def test_direct_library_calls_are_recorded_with_the_flag_only(mlp):
    mlp.makepyfile(test_direct='''
        import numpy as np
        import gradcheck
        from mlp_net import PARAMS, loss, backward, wrong_backward

        def test_direct():
            gradcheck.assert_grads_match(loss, PARAMS, backward)

        def test_direct_failing():
            gradcheck.assert_grads_match(loss, PARAMS, wrong_backward)
        ''')
    result = mlp.runpytest("--gradcheck", "--gradcheck-report=report.json")
    result.assert_outcomes(passed=1, failed=1)
    checks = _report(mlp)["checks"]
    assert sorted((c["test"], c["passed"]) for c in checks) == [
        ("test_direct.py::test_direct", True), ("test_direct.py::test_direct_failing", False)]
    result.stdout.fnmatch_lines(["*gradcheck summary*"])
    mlp.runpytest("--gradcheck-report=again.json").assert_outcomes(passed=1, failed=1)
    assert _report(mlp, "again.json")["checks"] == []


def test_usage_errors_are_not_gradient_failures(mlp):
    mlp.makepyfile(test_u='''
        import numpy as np
        import pytest

        def test_u(gradcheck):
            with pytest.raises(ValueError, match="mode="):
                gradcheck.grads_report(lambda p: float(np.sum(p)), np.ones(2), lambda p: p, mode="slow")
        ''')
    mlp.runpytest().assert_outcomes(passed=1)


# -- bad values name their source -----------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    (["--gradcheck-rtol=abc"], "ERROR: Invalid gradcheck rtol 'abc' from command line (--gradcheck-rtol): "
                               "expected a finite number >= 0*"),
    (["--gradcheck-atol=-1"], "ERROR: Invalid gradcheck atol '-1' from command line (--gradcheck-atol)*"),
    (["--gradcheck-seed=1.5"], "ERROR: Invalid gradcheck seed '1.5' from command line (--gradcheck-seed)*"),
    (["--gradcheck-oracle=torch"], "ERROR: Invalid gradcheck oracle 'torch' from command line "
                                   "(--gradcheck-oracle): choose one of auto, fd, jax, both"),
    (["--gradcheck-submission=nowhere"], "ERROR: Invalid gradcheck submission 'nowhere' from command line*"),
    (["--gradcheck-report=no/such/dir/r.json"], "ERROR: Invalid gradcheck report*from command line*does not exist"),
    (["-o", "gradcheck_seed=x"], "ERROR: Invalid gradcheck seed 'x' from command line override "
                                 "(-o gradcheck_seed=x)*"),
])
def test_bad_command_line_value_names_the_option(pytester, args, message):
    pytester.makepyfile(test_a="def test_a(): pass")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


@pytest.mark.parametrize("line, message", [
    ('gradcheck_rtol = "abc"', "ERROR: Invalid gradcheck rtol 'abc' from config file *pyproject.toml "
                               "(gradcheck_rtol): expected a finite number*"),
    ("gradcheck_seed = -3", "ERROR: Invalid gradcheck seed *-3* from config file *pyproject.toml (gradcheck_seed): "
                            "expected an int >= 0*"),
    ('gradcheck_oracle = "JAX"', "ERROR: Invalid gradcheck oracle 'JAX' from config file *pyproject.toml*"),
    ('gradcheck = "maybe"', "ERROR: Invalid gradcheck value 'maybe' from config file *pyproject.toml (gradcheck): "
                            "expected true or false"),
])
def test_bad_ini_value_names_the_config_file(pytester, line, message):
    pytester.makepyfile(test_a="def test_a(): pass")
    pytester.makepyprojecttoml(f"[tool.pytest.ini_options]\n{line}\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_command_line_value_wins_over_a_bad_ini_value(pytester):
    """Precedence means the ini value is not even read when the option is given."""
    pytester.makepyfile(test_a="def test_a(): pass")
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\ngradcheck_oracle = "JAX"\n')
    pytester.runpytest("--gradcheck-oracle=fd").assert_outcomes(passed=1)


@pytest.mark.parametrize("marker, message", [
    ("gradcheck(rtl=1e-3)", "*unknown keyword(s) rtl; allowed keywords: oracle, mode, rtol, atol, seed, directions"),
    ("gradcheck('fd')", "*keyword arguments only*"),
    ("gradcheck(oracle='torch')", "*gradcheck(oracle='torch'): choose one of auto, fd, jax, both"),
    ("gradcheck(directions=0)", "*gradcheck(directions=0): expected an int >= 1"),
])
def test_bad_marker_fails_at_collection(pytester, marker, message):
    pytester.makepyfile(test_m=f'''
        import pytest
        @pytest.mark.{marker}
        def test_m():
            pass
        ''')
    result = pytester.runpytest("--co")    # collection only: rejected before anything runs
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*ERROR collecting test_m.py*", message])


def test_class_level_marker_is_checked_too(pytester):
    pytester.makepyfile(test_m='''
        import pytest
        @pytest.mark.gradcheck(tol=1)
        class TestC:
            def test_m(self):
                pass
        ''')
    result = pytester.runpytest("--co")
    result.stdout.fnmatch_lines(["*test_m.py::TestC::test_m: *unknown keyword(s) tol*"])


# -- header, summary, report ----------------------------------------------------------------------

SUMMARY = '''
import pytest
from mlp_net import PARAMS, backward, loss, wrong_backward


@pytest.mark.gradcheck
def test_right(gradcheck):
    gradcheck.assert_grads_match(loss, PARAMS, backward)


@pytest.mark.gradcheck(mode="full")
def test_wrong(gradcheck):
    gradcheck.assert_grads_match(loss, PARAMS, wrong_backward)


def test_plain():
    pass
'''


def test_header_shows_the_seed_with_the_flag(pytester):
    pytester.makepyfile(test_a="def test_a(): pass")
    pytester.runpytest("--gradcheck", "--gradcheck-seed=1234", "--gradcheck-mode=full").stdout.fnmatch_lines(
        ["gradcheck: seed=1234, mode=full, enabled"])


def test_header_line_only_where_marked_tests_are_skipped(pytester):
    pytester.makepyfile(test_a="def test_a(): pass")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("gradcheck:*")         # an unrelated project sees nothing of the plugin
    pytester.makepyfile(test_b="import pytest\n\n@pytest.mark.gradcheck\ndef test_b(): pass\n")
    pytester.runpytest().stdout.fnmatch_lines(["gradcheck: seed=0, marked tests skipped (use --gradcheck)"])


def test_summary_lists_each_check_failures_first(mlp):
    mlp.makepyfile(test_s=SUMMARY)
    result = mlp.runpytest("--gradcheck", "--gradcheck-seed=3")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "*= gradcheck summary =*",
        "*test*n*params*rel err*mode*resolution*evals*time",
        "FAILED  test_s.py::test_wrong * 1 * 26 * 1.?e+01  full * 0.??s",
        "passed  test_s.py::test_right * 1 * 26 * ?.?e-* 0.??s",
        "2 gradient checks: 1 passed, 1 failed (gradcheck seed 3)",
    ])
    assert "test_plain" not in result.stdout.str().split("gradcheck summary")[1].split("short test summary")[0]


def test_summary_is_one_line_under_quiet(mlp):
    mlp.makepyfile(test_s=SUMMARY)
    result = mlp.runpytest("--gradcheck", "-q")
    result.stdout.fnmatch_lines(["gradcheck: 2 gradient checks: 1 passed, 1 failed (gradcheck seed 0)"])
    result.stdout.no_fnmatch_line("*gradcheck summary*")


def test_no_summary_when_no_check_ran(mlp):
    mlp.makepyfile(test_s=SUMMARY)
    result = mlp.runpytest()     # marked tests skipped: nothing to say
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.no_fnmatch_line("*gradcheck summary*")
    result.stdout.no_fnmatch_line("*gradient check*")


def test_json_report_holds_every_check(mlp):
    mlp.makepyfile(test_s=SUMMARY)
    result = mlp.runpytest("--gradcheck", "--gradcheck-report=report.json", "--gradcheck-seed=9")
    result.stdout.fnmatch_lines(["gradcheck report: report.json"])
    doc = _report(mlp)
    assert doc["seed"] == 9 and doc["n_checks"] == 2 and doc["n_failed"] == 1
    wrong, right = doc["checks"]
    assert (wrong["test"], wrong["passed"], right["test"], right["passed"]) == (
        "test_s.py::test_wrong", False, "test_s.py::test_right", True)
    assert wrong["mode"] == "full" and wrong["oracle"] == "fd" and wrong["n_evals"] > 0 and wrong["time"] >= 0
    by_path = {p["path"]: p for p in wrong["params"]}
    assert set(by_path) == {"params['W1']", "params['b1']", "params['W2']", "params['b2']"}
    assert by_path["params['W1']"]["shape"] == [3, 4]
    assert by_path["params['W1']"]["passed"] is False and by_path["params['W2']"]["passed"] is True
    assert by_path["params['W1']"]["max_rel"] > 1e-3
    leftovers = [p.name for p in mlp.path.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_json_report_path_from_ini_is_relative_to_the_config_file(mlp):
    mlp.makepyfile(test_s=SUMMARY)
    mlp.mkdir("out")
    mlp.makepyprojecttoml('[tool.pytest.ini_options]\ngradcheck = true\ngradcheck_report = "out/gc.json"\n')
    sub = mlp.mkdir("sub")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(sub)
        mlp.runpytest(str(mlp.path / "test_s.py"))
    assert _report(mlp, "out/gc.json")["n_checks"] == 2


def test_json_report_is_written_even_without_checks(pytester):
    pytester.makepyfile(test_a="def test_a(): pass")
    pytester.runpytest("--gradcheck-report=report.json")
    assert _report(pytester)["checks"] == []


# -- failures show gradcheck's message ------------------------------------------------------------


@pytest.mark.parametrize("assert_mode", ["rewrite", "plain"])
def test_failure_shows_the_library_message(mlp, assert_mode):
    mlp.makepyfile(test_s=SUMMARY)
    result = mlp.runpytest("--gradcheck", f"--assert={assert_mode}", "-k", "wrong")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "E   *GradientMismatch: Gradients do not match (finite differences, full mode, *): 2 of 4 parameter* differ.",
        "E     *params?'W1'?  shape (3x4) float64: 12 of 12 elements differ; max abs err *, max rel err *",
        "E*worst at ?*?: yours *, expected *",
        "E   *Reproduce with seed=0.",
    ])


def test_failure_from_an_unrewritten_helper_module_shows_the_message(mlp):
    """A helper outside the test files is not rewritten; gradcheck's own message must still show."""
    mlp.makepyfile(helper='''
        from mlp_net import PARAMS, loss, wrong_backward

        def check(gc):
            gc.assert_grads_match(loss, PARAMS, wrong_backward)
        ''', test_h='''
        from helper import check

        def test_h(gradcheck):
            check(gradcheck)
        ''')
    result = mlp.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["E   *GradientMismatch: Gradients do not match*"])
    result.stdout.fnmatch_lines(["*gradcheck summary*", "FAILED  test_h.py::test_h*"])


# -- the submission fixture -----------------------------------------------------------------------


def test_submission_fixture_skips_without_the_option(pytester):
    pytester.makepyfile(test_sub="def test_sub(submission): pass")
    result = pytester.runpytest("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*no submission to test: pass --gradcheck-submission=DIR*"])


def test_submission_fixture_runs_the_students_code(pytester):
    pytester.mkdir("alice")
    (pytester.path / "alice" / "backprop.py").write_text(
        "import numpy as np\n\ndef double(x):\n    return 2 * np.asarray(x)\n")
    pytester.makepyfile(test_sub='''
        import numpy as np

        def test_sub(submission):
            assert np.array_equal(submission.double(np.arange(3.0)), [0.0, 2.0, 4.0])
        ''')
    result = pytester.runpytest_subprocess("--gradcheck-submission=alice", *FRESH)
    result.assert_outcomes(passed=1)


# -- xdist, import cost ---------------------------------------------------------------------------


def test_xdist_summary_and_report_hold_every_workers_checks_and_expected_failures(mlp):
    """One xdist run (they are slow to start): every worker's checks, and expected failures set on workers."""
    mlp.makepyfile(test_s=SUMMARY, test_t=SUMMARY.replace("test_right", "test_right2").replace(
        "test_wrong", "test_wrong2"), test_e=EXPECTED)
    result = mlp.runpytest_subprocess("-n", "2", "--gradcheck", "--gradcheck-report=report.json", *FRESH)
    result.assert_outcomes(passed=6, failed=3, xfailed=1)
    result.stdout.fnmatch_lines(["*= gradcheck summary =*",
                                 "8 gradient checks: 3 passed, 3 failed, 2 failed as expected (gradcheck seed 0)"])
    doc = _report(mlp)
    assert sorted(c["test"] for c in doc["checks"] if not c["test"].startswith("test_e")) == [
        "test_s.py::test_right", "test_s.py::test_wrong", "test_t.py::test_right2", "test_t.py::test_wrong2"]
    assert (doc["n_checks"], doc["n_failed"], doc["n_expected_failures"]) == (8, 3, 2)
    status = {c["test"].split("::")[1]: c["status"] for c in doc["checks"] if c["test"].startswith("test_e")}
    assert status == {"test_raises": "expected", "test_xfail": "expected", "test_real_failure": "failed",
                      "test_right": "passed"}


def test_loading_the_plugin_imports_neither_jax_nor_gradcheck(pytester):
    code = ("import sys, gradcheck_pytest; "
            "print('LOADED', sorted(m for m in ('jax', 'gradcheck', 'numpy') if m in sys.modules))")
    result = pytester.run(sys.executable, "-c", code)
    result.stdout.fnmatch_lines(["LOADED []"])


def test_collecting_imports_neither_jax_nor_gradcheck(pytester):
    pytester.makeconftest('''
        import sys

        def pytest_collection_finish(session):
            print("MODULES", sorted(m for m in ("jax", "gradcheck") if m in sys.modules))
        ''')
    pytester.makepyfile(test_a='''
        import pytest

        @pytest.mark.gradcheck(oracle="fd")
        def test_a(gradcheck):
            pass
        ''')
    result = pytester.runpytest_subprocess("--co", "--gradcheck", *FRESH)
    result.stdout.fnmatch_lines(["MODULES []"])
    result.stdout.fnmatch_lines(["*<Function test_a>*"])
    result.stdout.fnmatch_lines(["gradcheck: seed=0, enabled"])   # the plugin was loaded and configured


def test_plugin_is_registered_under_its_entry_point_name(pytester):
    pytester.makepyfile(test_a='''
        def test_a(request):
            assert request.config.pluginmanager.get_plugin("gradcheck").__name__ == "gradcheck_pytest"
        ''')
    pytester.runpytest().assert_outcomes(passed=1)
    assert gradcheck_pytest.REPORT_ATTR == "gradcheck_checks"


# -- --gradcheck-mode -----------------------------------------------------------------------------

MODE_TESTS = '''
import gradcheck as library
from mlp_net import PARAMS, backward, loss


def test_fixture(gradcheck):
    gradcheck.assert_grads_match(loss, PARAMS, backward)


def test_direct():
    library.assert_grads_match(loss, PARAMS, backward)
'''


@pytest.mark.parametrize("mode", ["fast", "full"])
@pytest.mark.parametrize("where", ["option", "ini"])
def test_mode_from_option_or_ini_reaches_fixture_and_direct_calls(mlp, mode, where):
    mlp.makepyfile(test_m=MODE_TESTS)
    if where == "ini":
        mlp.makepyprojecttoml(f'[tool.pytest.ini_options]\ngradcheck_mode = "{mode}"\n')
        args = ["--gradcheck"]
    else:
        args = ["--gradcheck", f"--gradcheck-mode={mode}"]
    result = mlp.runpytest(*args, "--gradcheck-report=report.json")
    result.assert_outcomes(passed=2)
    assert sorted((c["test"].split("::")[1], c["mode"]) for c in _report(mlp)["checks"]) == [
        ("test_direct", mode), ("test_fixture", mode)]


def test_mode_is_restored_after_the_session(mlp):
    mlp.makepyfile(test_m=MODE_TESTS)
    before = gradcheck.set_default_mode("auto")
    gradcheck.set_default_mode(before)
    mlp.runpytest("--gradcheck", "--gradcheck-mode=fast").assert_outcomes(passed=2)
    assert gradcheck.set_default_mode(before) == before


@pytest.mark.parametrize("args, ini, message", [
    (["--gradcheck-mode=thorough"], None,
     "ERROR: Invalid gradcheck mode 'thorough' from command line (--gradcheck-mode): choose one of auto, fast, full"),
    ([], 'gradcheck_mode = "quick"',
     "ERROR: Invalid gradcheck mode 'quick' from config file */pyproject.toml (gradcheck_mode): choose one of *"),
])
def test_bad_mode_names_its_source(pytester, args, ini, message):
    pytester.makepyfile(test_a="def test_a(): pass")
    if ini:
        pytester.makepyprojecttoml(f"[tool.pytest.ini_options]\n{ini}\n")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_passes_in_fast_mode_show_their_resolution(mlp):
    mlp.makepyfile(test_m=MODE_TESTS)
    result = mlp.runpytest("--gradcheck", "--gradcheck-mode=fast", "--gradcheck-report=report.json")
    checks = _report(mlp)["checks"]
    resolutions = [max(p["resolution"] for p in c["params"]) for c in checks]
    assert all(r > 0 for r in resolutions)
    shown = f"{max(resolutions):.1e}"
    result.stdout.fnmatch_lines([f"passed  test_m.py::test_* fast * {shown} *", "resolution (fast mode):*"])


# -- repeated checks fold into one row ------------------------------------------------------------


def test_repeated_checks_of_one_test_fold_into_one_row_with_the_worst(mlp):
    mlp.makepyfile(test_r='''
        from mlp_net import PARAMS, backward, loss, wrong_backward

        def test_many(gradcheck):
            for _ in range(5):
                gradcheck.grads_report(loss, PARAMS, backward)
            assert not gradcheck.grads_report(loss, PARAMS, wrong_backward).passed
        ''')
    result = mlp.runpytest("--gradcheck", "--gradcheck-report=report.json")
    result.assert_outcomes(passed=1)
    worst = max(c["worst_rel_error"] for c in _report(mlp)["checks"])
    result.stdout.fnmatch_lines([f"expected  test_r.py::test_many  6 * {worst:.1e} *",
                                 "6 gradient checks: 5 passed, 0 failed, 1 failed as expected (gradcheck seed 0)"])
    summary = result.stdout.str().split("gradcheck summary")[1]
    assert summary.count("test_r.py::test_many") == 1


# -- expected failures ----------------------------------------------------------------------------

EXPECTED = '''
import pytest
from gradcheck import GradientMismatch
from mlp_net import PARAMS, backward, loss, wrong_backward


def test_raises(gradcheck):
    with pytest.raises(GradientMismatch):
        gradcheck.assert_grads_match(loss, PARAMS, wrong_backward)


@pytest.mark.xfail(reason="not written yet", strict=True)
def test_xfail(gradcheck):
    gradcheck.assert_grads_match(loss, PARAMS, wrong_backward)


def test_real_failure(gradcheck):
    gradcheck.assert_grads_match(loss, PARAMS, wrong_backward)


def test_right(gradcheck):
    gradcheck.assert_grads_match(loss, PARAMS, backward)
'''


def _check_expected(result, doc):
    result.assert_outcomes(passed=2, failed=1, xfailed=1)
    result.stdout.fnmatch_lines(["4 gradient checks: 1 passed, 1 failed, 2 failed as expected (gradcheck seed 0)"])
    assert (doc["n_checks"], doc["n_failed"], doc["n_expected_failures"]) == (4, 1, 2)
    status = {c["test"].split("::")[1]: c["status"] for c in doc["checks"]}
    assert status == {"test_raises": "expected", "test_xfail": "expected", "test_real_failure": "failed",
                      "test_right": "passed"}


def test_expected_failures_are_not_counted_as_failures(mlp):
    mlp.makepyfile(test_e=EXPECTED)
    result = mlp.runpytest("--gradcheck", "--gradcheck-report=report.json")
    _check_expected(result, _report(mlp))
    result.stdout.fnmatch_lines(["FAILED    test_e.py::test_real_failure*", "expected  test_e.py::test_*"])


def test_unwritable_report_is_one_line_naming_the_path(mlp):
    mlp.makepyfile(test_m=MODE_TESTS)
    locked = mlp.mkdir("locked")
    (locked / "report.json").mkdir()          # a folder where the file should go: writing fails for root too
    result = mlp.runpytest("--gradcheck", f"--gradcheck-report={locked / 'report.json'}")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["ERROR: Invalid gradcheck report * it is a directory*"])


def test_errors_through_the_fixture_show_the_test_line_not_gradcheck_source(mlp):
    mlp.makepyfile(test_u='''
        import numpy as np
        from mlp_net import PARAMS, loss, wrong_backward

        def test_usage(gradcheck):
            gradcheck.assert_grads_match(lambda p: np.ones(3), np.ones(2), lambda p: p)

        def test_mismatch(gradcheck):
            gradcheck.assert_grads_match(loss, PARAMS, wrong_backward)

        def test_user_code_raises(gradcheck):
            def f(p):
                raise KeyError("W9")
            gradcheck.grads_report(f, PARAMS, lambda p: p)
        ''')
    result = mlp.runpytest("--tb=long")
    result.assert_outcomes(failed=3)
    out = result.stdout.str()
    assert "gradcheck/" not in out.replace("gradcheck/tests", "")   # no frame of gradcheck's own source
    result.stdout.fnmatch_lines(["*gradcheck.assert_grads_match(lambda p: np.ones(3)*", "E  *NonScalarOutput*"])
    result.stdout.fnmatch_lines(["*raise KeyError(\"W9\")*"])   # the user's own frame stays, as the cause


def test_verbose_summary_says_why_each_mode_ran(mlp):
    mlp.makepyfile(test_m=MODE_TESTS)
    result = mlp.runpytest("--gradcheck", "-v", "--gradcheck-report=report.json")
    reasons = {c["mode_reason"] for c in _report(mlp)["checks"]}
    assert reasons and all(reasons)
    result.stdout.fnmatch_lines(["passed  test_m.py::test_*", f"        mode: {sorted(reasons)[0]}"])
    assert "        mode: " not in mlp.runpytest("--gradcheck").stdout.str()


def test_fold_takes_the_worst_error_including_non_finite_ones():
    from gradcheck_pytest import _summary

    def check(rel, passed=True, expected=False, mode="fast", resolution=None):
        return {"test": "t.py::a", "passed": passed, "expected_failure": expected, "worst_rel_error": rel,
                "mode": mode, "n_evals": 10, "time": 0.5, "n_params": 3,
                "params": [{"resolution": resolution}]}

    (row,) = _summary.fold([check(1e-12, resolution=1e-8), check("nan", passed=False, expected=True),
                            check(2e-3, resolution=3e-7)])
    assert (row["status"], row["n"], row["rel"], row["evals"], row["time"]) == ("expected", 3, "nan", "30", "1.50s")
    assert row["resolution"] == "3.0e-07"          # the coarsest resolution among the fast passes
    (row,) = _summary.fold([check(1e-12), check("inf", passed=False)])
    assert row["status"] == "failed" and row["rel"] == "inf"


def test_skipped_marked_tests_are_counted_at_the_end_also_under_xdist(pytester):
    pytester.makepyfile(test_b="import pytest\n\n@pytest.mark.gradcheck\ndef test_b(): pass\n\n"
                               "@pytest.mark.gradcheck\ndef test_c(): pass\n\ndef test_d(): pass\n")
    line = "gradcheck: 2 tests marked gradcheck skipped (run pytest with --gradcheck to run them)"
    pytester.runpytest().stdout.fnmatch_lines([line])
    result = pytester.runpytest_subprocess("-n", "2", *FRESH)
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines([line])
    assert line not in pytester.runpytest("--gradcheck").stdout.str()
