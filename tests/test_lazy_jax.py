"""A numpy user's checks never import jax (it is an optional extra, and costs a second to import)."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

NUMPY_USER = textwrap.dedent('''
    import sys
    import numpy as np
    import gradcheck as gc

    p = {"W": np.arange(6.0).reshape(2, 3) / 7, "b": np.ones(3)}
    f = lambda q: float(np.sum(np.tanh(q["W"]) ** 2) + np.sum(q["b"] ** 2))
    g = {"W": 2 * np.tanh(p["W"]) * (1 - np.tanh(p["W"]) ** 2), "b": 2 * p["b"]}
    gc.assert_grads_match(f, p, g)
    gc.assert_grads_match(f, p, g, mode="fast")
    gc.assert_grads_match(f, p, lambda q: g)
    bad = {"W": g["W"], "b": 3 * p["b"]}
    try:
        gc.assert_grads_match(f, p, bad)
    except gc.GradientMismatch as e:
        str(e)
    else:
        raise SystemExit("a wrong gradient passed")
    try:
        gc.grads_report(f, p)
    except ValueError as e:
        assert "grads" in str(e), e
    gc.assert_vjp_match(lambda x: x ** 2, np.ones(3), np.ones(3), 2 * np.ones(3))
    gc.assert_jacobian_match(lambda x: 3 * x, np.ones(2), 3 * np.eye(2))
    print("jax" in sys.modules, [m for m in sys.modules if m.startswith(("jax", "torch"))][:3])
''')


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_numpy_checks_do_not_import_jax_or_torch():
    assert _run(NUMPY_USER) == "False []"


def test_grads_none_with_numpy_f_says_what_to_pass():
    import numpy as np

    import gradcheck as gc

    with pytest.raises(gc.GradcheckUsageError, match=r"Pass your gradient: grads=\.\.\."):
        gc.grads_report(lambda p: float(np.sum(p ** 2)), np.ones(3))


def test_jax_code_is_still_recognised_when_the_user_imported_jax():
    pytest.importorskip("jax")
    code = textwrap.dedent('''
        import jax, jax.numpy as jnp, numpy as np
        import gradcheck as gc
        r = gc.grads_report(lambda p: jnp.sum(jnp.sin(p["x"])), {"x": np.linspace(0, 1, 4)})
        assert r.passed and r.oracle == "fd", r.message()     # grads=None: JAX's own gradient, checked by fd
        r = gc.grads_report(lambda p: jnp.sum(jnp.sin(p["x"])), {"x": np.linspace(0, 1, 4)},
                            {"x": np.cos(np.linspace(0, 1, 4))})
        assert r.passed and r.oracle == "jax", r.message()
        print("ok")
    ''')
    assert _run(code) == "ok"
