"""The old report-returning names fail loudly: a JAX user's check_grads(f, x, wrong) must not pass quietly."""
import pytest

import gradcheck


@pytest.mark.parametrize("old, new, raising", [("check_grads", "grads_report", "assert_grads_match"),
                                               ("check_vjp", "vjp_report", "assert_vjp_match"),
                                               ("check_jacobian", "jacobian_report", "assert_jacobian_match")])
def test_an_old_name_raises_naming_the_new_ones(old, new, raising):
    with pytest.raises(AttributeError) as info:
        getattr(gradcheck, old)
    text = str(info.value)
    assert f"renamed {new}" in text and raising in text
    assert not text.endswith(".")  # Python may append ". Did you mean ...?"


def test_an_unknown_name_is_a_plain_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        gradcheck.no_such_name  # noqa: B018
