"""Built-in ``layers``: the modular-layer homework (``*_forward -> (out, cache)``, ``*_backward(dout, cache)``).

Each layer is graded twice: "<layer> forward" against the reference below, and
"<layer> backward" against finite differences of the student's OWN forward (so a wrong
forward does not cost the backward too), with partial credit per returned gradient.
A function that is missing, raises NotImplementedError or returns None scores 0 for its
layer with "not implemented"; the others are graded normally.  ``layers.py`` is found
anywhere in the submission (``cs231n/layers.py`` inside a package works).

Inputs are seeded and small, with batch 1 and non-square shapes; relu inputs stay away
from 0 and max-pool windows have no ties, so every derivative exists.
"""
from __future__ import annotations

import numpy as np

from gradcheck import tolerances

from ..checks import Assignment, Part

DESCRIPTION = """\
layers.py (anywhere in your submission) defines, for x of shape (N, d1, ..., dk):
  affine_forward(x, w, b) -> (out, cache);  affine_backward(dout, cache) -> (dx, dw, db)
  relu_forward(x) -> (out, cache);  relu_backward(dout, cache) -> dx
  batchnorm_forward(x, gamma, beta, bn_param) -> (out, cache)   bn_param: mode 'train'/'test', eps, momentum,
      running_mean, running_var (defaults when absent)
  batchnorm_backward(dout, cache), batchnorm_backward_alt(dout, cache) -> (dx, dgamma, dbeta)
  layernorm_forward(x, gamma, beta, ln_param) -> (out, cache);  layernorm_backward(dout, cache) -> (dx, dgamma, dbeta)
  dropout_forward(x, dropout_param) -> (out, cache)   dropout_param: p (keep or drop probability), mode, seed
  dropout_backward(dout, cache) -> dx
  conv_forward_naive(x, w, b, conv_param) -> (out, cache)   conv_param: stride, pad
  conv_backward_naive(dout, cache) -> (dx, dw, db)
  max_pool_forward_naive(x, pool_param) -> (out, cache)   pool_param: pool_height, pool_width, stride
  max_pool_backward_naive(dout, cache) -> dx
  softmax_loss(x, y) -> (loss, dx) and svm_loss(x, y) -> (loss, dx), averaged over the batch
"""


# --------------------------------------------------------------------------- references
def affine(x, w, b):
    return x.reshape(x.shape[0], -1) @ w + b


def relu(x):
    return np.maximum(0, x)


def batchnorm(x, gamma, beta, bn_param):
    eps = bn_param.get("eps", 1e-5)
    if bn_param.get("mode", "train") == "train":
        mu, var = x.mean(axis=0), x.var(axis=0)
    else:
        mu, var = bn_param["running_mean"], bn_param["running_var"]
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


def layernorm(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    mu, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


def conv(x, w, b, conv_param):
    s, p = conv_param["stride"], conv_param["pad"]
    n, _, h, wd = x.shape
    f, _, hh, ww = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    ho, wo = 1 + (h + 2 * p - hh) // s, 1 + (wd + 2 * p - ww) // s
    out = np.zeros((n, f, ho, wo))
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, i * s:i * s + hh, j * s:j * s + ww]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out


def max_pool(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    n, c, h, w = x.shape
    ho, wo = 1 + (h - ph) // s, 1 + (w - pw) // s
    out = np.zeros((n, c, ho, wo))
    for i in range(ho):
        for j in range(wo):
            out[:, :, i, j] = x[:, :, i * s:i * s + ph, j * s:j * s + pw].max(axis=(2, 3))
    return out


def softmax_loss(x, y):
    z = x - x.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(y)), y].mean()


def svm_loss(x, y):
    n = len(y)
    margins = np.maximum(0, x - x[np.arange(n), y][:, None] + 1.0)
    margins[np.arange(n), y] = 0
    return margins.sum() / n


# --------------------------------------------------------------------------- inputs
def _away_from_zero(rng, shape, low=0.1):
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(low, 1.5, size=shape)


def _affine_inputs(rng):
    return [(rng.normal(size=(1, 4)), rng.normal(size=(4, 3)), rng.normal(size=3)),
            (rng.normal(size=(3, 2, 3)), rng.normal(size=(6, 5)), rng.normal(size=5))]


def _relu_inputs(rng):
    return [(_away_from_zero(rng, (1, 5)),), (_away_from_zero(rng, (3, 2, 4)),)]


def _norm_inputs(rng, with_test=False):
    cases = []
    for n, d in ((4, 3), (6, 5)):
        x = rng.normal(1.0, 2.0, size=(n, d))
        cases.append((x, rng.uniform(0.5, 1.5, size=d), rng.normal(size=d), {"mode": "train", "eps": 1e-5}))
    if with_test:
        d = 4
        cases.append((rng.normal(size=(1, d)), rng.uniform(0.5, 1.5, size=d), rng.normal(size=d),
                      {"mode": "test", "eps": 1e-5, "momentum": 0.9, "running_mean": rng.normal(size=d),
                       "running_var": rng.uniform(0.5, 2.0, size=d)}))
    return cases


def _ln_inputs(rng):
    cases = []
    for n, d in ((1, 4), (3, 5)):
        cases.append((rng.normal(1.0, 2.0, size=(n, d)), rng.uniform(0.5, 1.5, size=d), rng.normal(size=d),
                      {"eps": 1e-5}))
    return cases


def _conv_inputs(rng):
    return [(rng.normal(size=(1, 2, 5, 5)), rng.normal(size=(3, 2, 3, 3)), rng.normal(size=3),
             {"stride": 1, "pad": 1}),
            (rng.normal(size=(2, 1, 4, 7)), rng.normal(size=(2, 1, 2, 3)), rng.normal(size=2),
             {"stride": 2, "pad": 1})]


def _no_ties(rng, shape):
    """Distinct values at least 1/size apart: a finite-difference step never changes a window's max."""
    n = int(np.prod(shape))
    return (rng.permutation(n).reshape(shape) - n / 2) / n * 4


def _pool_inputs(rng):
    return [(_no_ties(rng, (1, 2, 4, 4)), {"pool_height": 2, "pool_width": 2, "stride": 2}),
            (_no_ties(rng, (2, 1, 4, 6)), {"pool_height": 2, "pool_width": 3, "stride": 1})]


def _loss_inputs(rng):
    return [(rng.normal(size=(1, 3)), rng.integers(0, 3, size=1)),
            (rng.normal(size=(5, 4)), rng.integers(0, 4, size=5))]


# --------------------------------------------------------------------------- dropout: the student's own mask
P_DROPOUT = 0.6
N_DROPOUT = (40, 25)   # 1000 units: the kept fraction is within 0.06 of its probability (4 sigma)


def _dropout_inputs(rng):
    return rng.uniform(0.5, 1.5, size=N_DROPOUT) * rng.choice([-1.0, 1.0], size=N_DROPOUT)


def dropout_forward_check(ctx):
    """Either convention for p: out must be x/q on the kept units and 0 elsewhere, with about q kept."""
    x = _dropout_inputs(ctx.rng)
    p = P_DROPOUT
    out = ctx.array(ctx.invoke("call", "dropout_forward", (x, {"p": p, "mode": "train", "seed": 123}), {},
                               select=[0]), x.shape, "dropout_forward() output in train mode")
    kept = out != 0
    frac = float(kept.mean())
    rtol = tolerances.floor_for(ctx.tolerance_dtype).rtol
    fits = [q for q in (p, 1 - p) if abs(frac - q) < 0.06 and np.allclose(out[kept], x[kept] / q, rtol=rtol, atol=0)]
    parts = []
    if fits:
        parts.append(Part("train mode", True))
    else:
        problem = (f"{frac:.0%} of the units are kept; with p = {p} that should be about {p:.0%} (p = keep "
                   f"probability) or {1 - p:.0%} (p = drop probability)")
        if any(abs(frac - q) < 0.06 for q in (p, 1 - p)):
            q = p if abs(frac - p) < abs(frac - 1 - p) else 1 - p
            problem = (f"the kept units are not x / {q:g} (inverted dropout scales them at training time, so "
                       f"test mode needs no scaling)")
        parts.append(Part("train mode", False, problem=problem))
    test = ctx.invoke("call", "dropout_forward", (x, {"p": p, "mode": "test", "seed": 123}), {}, select=[0])
    parts.append(ctx.compare("test mode", test, x, what="dropout_forward() output in test mode"))
    return parts


# --------------------------------------------------------------------------- the assignment
def build(**options) -> Assignment:
    a = Assignment("layers", module="layers", find=True,
                   title="Modular layers: forward and backward passes", description=DESCRIPTION,
                   seed=options.pop("seed", 231), **options)
    a.summary_line = ("Forward passes are compared with the reference; each backward pass with finite differences "
                      "of your own forward.")
    a.compare("affine forward", call="affine_forward", inputs=_affine_inputs, reference=affine, output=0, points=4)
    a.vjp("affine backward", forward="affine_forward", backward="affine_backward", inputs=_affine_inputs,
          wrt=(0, 1, 2), labels=("dx", "dw", "db"), points=8)
    a.compare("relu forward", call="relu_forward", inputs=_relu_inputs, reference=relu, output=0, points=3)
    a.vjp("relu backward", forward="relu_forward", backward="relu_backward", inputs=_relu_inputs, wrt=(0,),
          labels=("dx",), points=4)
    a.compare("batchnorm forward", call="batchnorm_forward", inputs=lambda rng: _norm_inputs(rng, with_test=True),
              reference=batchnorm, output=0, points=6)
    a.vjp("batchnorm backward", forward="batchnorm_forward", backward="batchnorm_backward", inputs=_norm_inputs,
          wrt=(0, 1, 2), labels=("dx", "dgamma", "dbeta"), points=8)
    a.vjp("batchnorm backward (alt)", forward="batchnorm_forward", backward="batchnorm_backward_alt",
          inputs=_norm_inputs, wrt=(0, 1, 2), labels=("dx", "dgamma", "dbeta"), points=4)
    a.compare("layernorm forward", call="layernorm_forward", inputs=_ln_inputs, reference=layernorm, output=0,
              points=5)
    a.vjp("layernorm backward", forward="layernorm_forward", backward="layernorm_backward", inputs=_ln_inputs,
          wrt=(0, 1, 2), labels=("dx", "dgamma", "dbeta"), points=7)
    a.check("dropout forward", points=5)(dropout_forward_check)
    a.vjp("dropout backward", forward="dropout_forward", backward="dropout_backward",
          inputs=lambda rng: (_dropout_inputs(rng)[:4, :5], {"p": P_DROPOUT, "mode": "train", "seed": 123}),
          wrt=(0,), labels=("dx",), points=4)
    a.compare("conv forward", call="conv_forward_naive", inputs=_conv_inputs, reference=conv, output=0, points=8)
    a.vjp("conv backward", forward="conv_forward_naive", backward="conv_backward_naive", inputs=_conv_inputs,
          wrt=(0, 1, 2), labels=("dx", "dw", "db"), points=10)
    a.compare("max pool forward", call="max_pool_forward_naive", inputs=_pool_inputs, reference=max_pool, output=0,
              points=5)
    a.vjp("max pool backward", forward="max_pool_forward_naive", backward="max_pool_backward_naive",
          inputs=_pool_inputs, wrt=(0,), labels=("dx",), points=6)
    a.compare("softmax_loss forward", call="softmax_loss", inputs=_loss_inputs, reference=softmax_loss, output=0,
              labels=("loss",), points=4)
    a.vjp("softmax_loss backward", forward="softmax_loss", gradients=1, inputs=_loss_inputs, wrt=(0,),
          labels=("dx",), points=3)
    a.compare("svm_loss forward", call="svm_loss", inputs=_loss_inputs, reference=svm_loss, output=0,
              labels=("loss",), points=3)
    a.vjp("svm_loss backward", forward="svm_loss", gradients=1, inputs=_loss_inputs, wrt=(0,), labels=("dx",),
          points=3)
    return a
