"""Assignment TOML: the built-in mlp, reproducible architectures, errors that name the bad key."""
from __future__ import annotations

import pytest

from gradcheck.audit.assignment import AssignmentError, builtin_names, load, parse


def test_builtin_mlp():
    a = load("mlp").config
    assert {"mlp", "layers", "network", "slides"} <= set(builtin_names())
    assert a.module == "backprop" and a.checks == ("forward", "backward", "jacobian")
    assert a.max_score == 100
    depths = {len(arch.sizes) - 2 for arch in a.architectures}
    assert depths == {1, 2, 3}
    assert a.allowed_imports == ("numpy", "stdlib")


def test_architectures_are_seeded_and_reproducible():
    doc = {"assignment": {"name": "x", "seed": 7}}
    assert parse(doc).architectures == parse(doc).architectures
    other = parse({"assignment": {"name": "x", "seed": 8}}).architectures
    assert other != parse(doc).architectures


def test_fixed_architectures_and_a_full_file(tmp_path):
    p = tmp_path / "course.toml"
    p.write_text("""
[assignment]
name = "tanh-net"
module = "student"
seed = 3
[network]
activations = ["tanh", "linear"]
target = "mse"
layout = "out_in"
bias = false
[functions]
forward = "fwd"
backward = "bwd"
jacobian = ""
[points]
forward = 10
backward = 30
[architectures]
fixed = [[3, 4, 2], [2, 2, 1]]
batch = [2, 2]
[tolerances]
rtol = 1e-6
[limits]
timeout = 3
allowed_imports = ["numpy"]
[feedback]
visibility = "after_published"
""")
    a = load(str(p)).config
    assert [x.sizes for x in a.architectures] == [(3, 4, 2), (2, 2, 1)]
    assert all(x.batch == 2 for x in a.architectures)
    assert a.checks == ("forward", "backward") and a.max_score == 40
    assert a.layout == "out_in" and a.bias is False and a.rtol == 1e-6 and a.timeout == 3


@pytest.mark.parametrize("doc, words", [
    ({}, "[assignment] needs a name"),
    ({"assignment": {"name": "x"}, "pionts": {}}, "unknown section [pionts]"),
    ({"assignment": {"name": "x"}, "points": {"forwrad": 1}}, "unknown key 'forwrad' in [points]"),
    ({"assignment": {"name": "x"}, "limits": {"timeout": "10"}}, "[limits] timeout must be a number"),
    ({"assignment": {"name": "x"}, "limits": {"timeout": 0}}, "[limits] timeout must be positive"),
    ({"assignment": {"name": "x"}, "limits": {"memory_mb": True}}, "[limits] memory_mb must be an integer"),
    ({"assignment": {"name": "x"}, "network": {"activations": "sigmoid"}}, "unknown activation 'sigmoid'"),
    ({"assignment": {"name": "x"}, "network": {"layout": "rows"}}, "[network]"),
    ({"assignment": {"name": "x", "module": "back-prop"}}, "[assignment] module must be a Python module name"),
    ({"assignment": {"name": "x"}, "functions": {"forward": "my func"}}, "[functions] forward"),
    ({"assignment": {"name": "x"}, "architectures": {"hidden_layers": [3, 1]}}, "[architectures] hidden_layers"),
    ({"assignment": {"name": "x"}, "architectures": {"fixed": [[3]]}}, "[architectures] fixed"),
    ({"assignment": {"name": "x"}, "points": {"forward": 0, "backward": 0, "jacobian": 0}}, "no check left"),
    ({"assignment": {"name": "x"}, "feedback": {"visibility": "public"}}, "[feedback] visibility must be one of"),
    ({"assignment": {"name": "x"}, "limits": {"allowed_imports": ["num py"]}}, "[limits] allowed_imports"),
    ({"assignment": {"name": "x"}, "tolerances": {"precision": "float128"}}, "[tolerances] precision must be one of"),
    ({"assignment": {"name": "x"}, "feedback": {"detail": "verbose"}}, "[feedback] detail must be one of full, hint"),
])
def test_errors_name_the_bad_key(doc, words):
    with pytest.raises(AssignmentError) as e:
        parse(doc, where="course.toml")
    assert words in str(e.value) and str(e.value).startswith("course.toml:")


def test_bad_files(tmp_path):
    with pytest.raises(AssignmentError, match="does not exist"):
        load(str(tmp_path / "missing.toml"))
    with pytest.raises(AssignmentError, match="built-in names: layers, mlp, network, slides"):
        load("mpl")
    bad = tmp_path / "bad.toml"
    bad.write_text("[assignment\nname = 1")
    with pytest.raises(AssignmentError, match="not valid TOML"):
        load(str(bad))


def test_the_documented_toml_example_is_valid(tmp_path):
    import os
    import re

    docs = os.path.join(os.path.dirname(os.path.dirname(__file__)), "docs", "audit.md")
    text = open(docs, encoding="utf-8").read()
    block = re.search(r"```toml\n(\[assignment\]\nname = \"tanh-net\".*?)```", text, re.S).group(1)
    p = tmp_path / "course.toml"
    p.write_text(block, encoding="utf-8")
    a = load(str(p))
    assert a.module == "student" and a.config.checks == ("forward", "backward") and a.max_score == 50
