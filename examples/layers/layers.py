"""A small numpy layer library, in the style of a deep-learning course: each layer has a forward pass that
returns (out, cache) and a backward pass that maps dout to the gradients of its inputs.

One backward pass below is wrong on purpose (search for DELIBERATE BUG) so that the gradient tests in
test_layers.py have something to catch.
"""
import numpy as np


def affine_forward(x, w, b):
    """out = x @ w + b for a batch x of shape (N, D), w (D, M), b (M,)."""
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def relu_forward(x):
    return np.maximum(x, 0.0), x


def relu_backward(dout, cache):
    x = cache
    return dout * (x > 0)


def tanh_forward(x):
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    out = cache
    return dout * (1.0 - out ** 2)


def softmax_loss(scores, labels):
    """Mean cross-entropy of softmax(scores) against integer labels, and its gradient."""
    n = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(n), labels].mean()
    dscores = np.exp(log_probs)
    dscores[np.arange(n), labels] -= 1.0
    # DELIBERATE BUG (for the demo): the loss is a mean over the batch, so the gradient must be divided by n:
    #     dscores /= n
    return loss, dscores


def two_layer_loss(params, x, labels):
    """Loss of affine -> tanh -> affine -> softmax, and the gradients of every parameter."""
    h, cache1 = affine_forward(x, params["W1"], params["b1"])
    a, cache2 = tanh_forward(h)
    scores, cache3 = affine_forward(a, params["W2"], params["b2"])
    n = x.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(n), labels].mean()
    dscores = np.exp(log_probs)
    dscores[np.arange(n), labels] -= 1.0
    dscores /= n
    da, dW2, db2 = affine_backward(dscores, cache3)
    dh = tanh_backward(da, cache2)
    _, dW1, db1 = affine_backward(dh, cache1)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
