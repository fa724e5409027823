"""Yoshida section 6: logistic gradients vanish with depth much faster than relu's."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from gradcheck.reference_nets import NetSpec, backprop, init_params
from gradcheck.reference_nets.vanishing import PLOT_HINT, layer_gradient_norms, main


def decay(norms) -> float:
    """How much smaller the gradient is at the input side than at the output side."""
    return norms[0] / norms[-1]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_logistic_gradients_vanish_much_faster_than_relu(seed):
    logistic = layer_gradient_norms(10, 16, "logistic", seed=seed, batch=32)
    relu = layer_gradient_norms(10, 16, "relu", seed=seed, batch=32)
    tanh = layer_gradient_norms(10, 16, "tanh", seed=seed, batch=32)
    assert decay(logistic) < 1e-4, logistic  # φ' ≤ 1/4 per layer
    assert decay(logistic) < 1e-3 * decay(relu), (logistic, relu)
    assert decay(logistic) < 1e-3 * decay(tanh), (logistic, tanh)  # LeCun: tanh converges faster


def test_layer_gradient_norms_are_the_backprop_norms():
    norms = layer_gradient_norms(3, 4, "tanh", seed=5, batch=7)
    spec = NetSpec((4, 4, 4, 4), "tanh", target="output")
    x = np.random.default_rng([5, 1]).normal(size=(7, 4))
    grads = backprop(spec, init_params(spec, seed=5), x).grads
    np.testing.assert_allclose(norms, [np.linalg.norm(grads[f"W{l}"]) for l in (1, 2, 3)], rtol=1e-14)
    assert norms.shape == (3,)
    with pytest.raises(ValueError, match="depth"):
        layer_gradient_norms(0, 4, "relu")


def test_main_prints_a_table(capsys):
    assert main(["--depth", "4", "--width", "5", "--activations", "logistic,relu", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "logistic" in lines[1] and "relu" in lines[1] and "tanh" not in lines[1]
    expected = layer_gradient_norms(4, 5, "logistic", seed=2, batch=64)
    assert [float(line.split()[1]) for line in lines[2:6]] == pytest.approx(expected, rel=1e-3)


def test_main_rejects_unknown_activation(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--activations", "logistic,softplus"])
    assert exc.value.code == 2
    assert "logistic, tanh, relu, linear" in capsys.readouterr().err


def test_plot_without_matplotlib_says_how_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    assert main(["--depth", "3", "--plot", str(tmp_path / "v.png")]) == 1
    assert PLOT_HINT in capsys.readouterr().err
    assert PLOT_HINT == "install the plot extra: pip install 'gradcheck[plot]'"
    assert not (tmp_path / "v.png").exists()


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "v.png"
    assert main(["--depth", "3", "--width", "4", "--plot", str(path)]) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_dispatch():
    out = subprocess.run([sys.executable, "-m", "gradcheck", "vanishing", "--depth", "3", "--width", "4"],
                         capture_output=True, text=True, check=True).stdout
    assert "first/last" in out
