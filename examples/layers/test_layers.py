"""Gradient tests for layers.py: run them with `pytest --gradcheck` (they are skipped without it)."""
import numpy as np
import pytest

import layers

pytestmark = pytest.mark.gradcheck


def test_affine_backward(gradcheck):
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=(4, 5)), rng.normal(size=(5, 3)), rng.normal(size=3)
    dout = rng.normal(size=(4, 3))
    _, cache = layers.affine_forward(x, w, b)
    gradcheck.assert_vjp_match(lambda x, w, b: layers.affine_forward(x, w, b)[0], (x, w, b), dout,
                               layers.affine_backward(dout, cache))


def test_relu_backward(gradcheck):
    rng = np.random.default_rng(1)
    x, dout = rng.normal(size=(4, 6)), rng.normal(size=(4, 6))
    _, cache = layers.relu_forward(x)
    gradcheck.assert_vjp_match(lambda x: layers.relu_forward(x)[0], x, dout, layers.relu_backward(dout, cache))


def test_tanh_backward(gradcheck):
    rng = np.random.default_rng(2)
    x, dout = rng.normal(size=(4, 6)), rng.normal(size=(4, 6))
    _, cache = layers.tanh_forward(x)
    gradcheck.assert_vjp_match(lambda x: layers.tanh_forward(x)[0], x, dout, layers.tanh_backward(dout, cache))


def test_softmax_loss(gradcheck):
    rng = np.random.default_rng(3)
    scores, labels = rng.normal(size=(5, 4)), rng.integers(0, 4, size=5)
    gradcheck.assert_grads_match(lambda s: layers.softmax_loss(s, labels)[0], scores,
                                 layers.softmax_loss(scores, labels)[1])


def test_two_layer_loss(gradcheck):
    rng = np.random.default_rng(4)
    params = {"W1": rng.normal(size=(3, 5)), "b1": rng.normal(size=5),
              "W2": rng.normal(size=(5, 4)), "b2": rng.normal(size=4)}
    x, labels = rng.normal(size=(6, 3)), rng.integers(0, 4, size=6)
    gradcheck.assert_grads_match(lambda p: layers.two_layer_loss(p, x, labels)[0], params,
                                 lambda p: layers.two_layer_loss(p, x, labels)[1])
