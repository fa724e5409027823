"""Forward-mode products in the narrow float dtypes."""
import numpy as np
import pytest

import gradcheck


def test_a_bfloat16_product_is_judged_at_bfloat16_tolerance():
    """bfloat16 (ml_dtypes, as JAX and torch give it) is a float dtype like the others."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    x, v = np.array([0.3, -1.2, 2.0]), np.array([1.0, 0.5, -0.25])
    right = (np.cos(x) * v).astype(ml_dtypes.bfloat16)
    assert gradcheck.jvp_report(np.sin, x, v, right).passed
    assert not gradcheck.jvp_report(np.sin, x, v, (np.cos(x) * v * 1.2).astype(ml_dtypes.bfloat16)).passed
