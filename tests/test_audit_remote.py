"""load_submission: remote functions for instructors' own pytest graders."""
from __future__ import annotations

import os

import numpy as np
import pytest

from gradcheck import reference_nets as rn
from gradcheck.audit import SubmissionError, load_submission

FIX = os.path.join(os.path.dirname(__file__), "audit_fixtures")


def _problem():
    spec = rn.NetSpec(sizes=(3, 4, 2))
    params = rn.init_params(spec, seed=1)
    rng = np.random.default_rng(0)
    return spec, params, rng.normal(size=(5, 3)), rng.uniform(0.1, 0.9, size=(5, 2))


def test_remote_functions_return_plain_arrays():
    spec, params, x, t = _problem()
    with load_submission(os.path.join(FIX, "correct_matrix"), timeout=5) as sub:
        grads = sub.backward(params, x, t)
        y = sub.forward(params, x)
    want = rn.backprop(spec, params, x, t).grads
    assert set(grads) == set(want)
    for k in want:
        assert type(grads[k]) is np.ndarray
        np.testing.assert_allclose(grads[k], want[k], rtol=1e-10)
    np.testing.assert_allclose(y, rn.forward(spec, params, x), rtol=1e-12)


def test_student_failures_raise_submission_error_with_the_traceback():
    spec, params, x, t = _problem()
    with load_submission(os.path.join(FIX, "hostile_bad_exceptions"), timeout=5) as sub:
        with pytest.raises(SubmissionError) as e:
            sub.forward(params, x)
    assert e.value.kind == "exception" and e.value.error_type == "Nasty"
    assert 'File "backprop.py", line' in str(e.value)
    assert isinstance(e.value, Exception)


def test_timeouts_crashes_and_missing_functions():
    spec, params, x, t = _problem()
    with load_submission(os.path.join(FIX, "hostile_infinite_loop"), timeout=1) as sub:
        with pytest.raises(SubmissionError, match="timed out after 1 s") as e:
            sub.backward(params, x, t)
        assert e.value.kind == "timeout"
        with pytest.raises(SubmissionError, match="does not define a function nope"):
            sub.nope()
    with load_submission(os.path.join(FIX, "hostile_segfault"), timeout=5) as sub:
        with pytest.raises(SubmissionError, match="segmentation fault"):
            sub.forward(params, x)
    with load_submission(os.path.join(FIX, "hostile_syntax_error"), timeout=5) as sub:
        with pytest.raises(SubmissionError, match="could not be imported: SyntaxError") as e:
            sub.forward(params, x)
        assert e.value.kind == "import"


def test_context_exit_kills_the_child():
    spec, params, x, t = _problem()
    sub = load_submission(os.path.join(FIX, "correct_loops"), timeout=5)
    with sub:
        sub.forward(params, x)
        pid = sub._sandbox._proc.pid
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
    with pytest.raises(ValueError, match="module must be a module name"):
        load_submission(FIX, module="back prop")
