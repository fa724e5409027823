"""Random hand-written MLPs of many kinds, for the verdict properties and benchmarks.

Activations sigmoid, tanh, softplus, relu, leaky relu and elu; a linear output
with squared error, or softmax cross-entropy; float32 or float64. The loss and
the backprop compute in the dtype of the params they are given (the data is
stored in the net's dtype, so float64 params promote everything to float64),
which is how numpy code written for float32 behaves when gradcheck calls it
with float64 copies.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))     # stable for any z, any dtype


ACTIVATIONS = {
    # name: (phi(z), phi'(z) given z and a = phi(z))
    "sigmoid": (_sigmoid, lambda z, a: a * (1 - a)),
    "tanh": (np.tanh, lambda z, a: 1 - a * a),
    "softplus": (lambda z: np.logaddexp(z * 0, z), lambda z, a: _sigmoid(z)),
    "relu": (lambda z: np.maximum(z, 0), lambda z, a: (z > 0).astype(z.dtype)),
    "leaky_relu": (lambda z: np.where(z > 0, z, z * 0.01), lambda z, a: np.where(z > 0, 1, 0.01).astype(z.dtype)),
    "elu": (lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))), lambda z, a: np.where(z > 0, 1, a + 1).astype(z.dtype)),
}
LOSSES = ("squared_error", "softmax_cross_entropy")


@dataclass
class MLP:
    sizes: tuple
    act: str = "tanh"
    loss_kind: str = "squared_error"
    dtype: type = np.float64
    batch: int = 8
    seed: int = 0
    x: np.ndarray = field(init=False, repr=False)
    t: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        rng = np.random.default_rng(self.seed)
        self.x = rng.standard_normal((self.batch, self.sizes[0])).astype(self.dtype)
        if self.loss_kind == "squared_error":
            self.t = rng.standard_normal((self.batch, self.sizes[-1])).astype(self.dtype)
        else:
            labels = rng.integers(self.sizes[-1], size=self.batch)
            self.t = np.eye(self.sizes[-1], dtype=self.dtype)[labels]
        self._rng = rng

    @property
    def n_params(self) -> int:
        return sum(a * b + b for a, b in zip(self.sizes[:-1], self.sizes[1:]))

    def init_params(self) -> dict:
        p = {}
        for i, (a, b) in enumerate(zip(self.sizes[:-1], self.sizes[1:]), 1):
            p[f"W{i}"] = (self._rng.standard_normal((a, b)) / np.sqrt(a)).astype(self.dtype)
            p[f"b{i}"] = (0.1 * self._rng.standard_normal(b)).astype(self.dtype)
        return p

    def _forward(self, p):
        L = len(self.sizes) - 1
        phi = ACTIVATIONS[self.act][0]
        hs, zs = [self.x], []
        for i in range(1, L + 1):
            z = hs[-1] @ p[f"W{i}"] + p[f"b{i}"]
            zs.append(z)
            hs.append(phi(z) if i < L else z)
        return hs, zs

    def loss(self, p) -> float:
        y = self._forward(p)[0][-1]
        if self.loss_kind == "squared_error":
            r = y - self.t
            return 0.5 / self.batch * np.sum(r * r)
        y = y - np.max(y, axis=1, keepdims=True)
        logp = y - np.log(np.sum(np.exp(y), axis=1, keepdims=True))
        return -np.sum(self.t * logp) / self.batch

    def grad(self, p) -> dict:
        hs, zs = self._forward(p)
        y = hs[-1]
        if self.loss_kind == "squared_error":
            d = (y - self.t) / self.batch
        else:
            e = np.exp(y - np.max(y, axis=1, keepdims=True))
            d = (e / np.sum(e, axis=1, keepdims=True) - self.t) / self.batch
        dphi = ACTIVATIONS[self.act][1]
        g = {}
        for i in range(len(self.sizes) - 1, 0, -1):
            g[f"W{i}"] = hs[i - 1].T @ d
            g[f"b{i}"] = d.sum(axis=0)
            if i > 1:
                d = (d @ p[f"W{i}"].T) * dphi(zs[i - 2], hs[i - 1])
        return g


def random_mlp(rng: np.random.Generator, *, min_params: int, max_params: int, dtype=None, act=None) -> MLP:
    """A random MLP with about min_params..max_params parameters (1-3 hidden layers)."""
    while True:
        depth = int(rng.integers(1, 4))
        n_in, n_out = int(rng.integers(2, 65)), int(rng.integers(2, 11))
        width = int(rng.integers(2, 257))
        sizes = (n_in,) + (width,) * depth + (n_out,)
        n = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
        if min_params <= n <= max_params:
            break
    return MLP(sizes, act=act or str(rng.choice(list(ACTIVATIONS))), loss_kind=str(rng.choice(LOSSES)),
               dtype=dtype or [np.float32, np.float64][int(rng.integers(2))], batch=int(rng.integers(1, 17)),
               seed=int(rng.integers(1 << 30)))


def median_weight_element(grads: dict, rng: np.random.Generator) -> tuple[str, int]:
    """(block, flat index) of the median-magnitude element of a random weight matrix."""
    weights = [k for k in grads if k.startswith("W")]
    live = [k for k in weights if np.any(np.asarray(grads[k]) != 0)] or weights   # not a dead layer
    key = str(rng.choice(live))
    g = np.abs(grads[key]).reshape(-1)
    return key, int(np.argsort(g, kind="stable")[g.size // 2])


def relative_error_size(grads: dict, key: str, j: int, rel: float) -> float:
    """rel of element j's magnitude, or of a small fraction of its block's largest (a near-zero element).

    The fraction is a thousandth in float64 and a hundredth in float32: below it, 1 % of an
    element is under the dtype's absolute floor (a few 1e-5 of the block's largest in float32)
    and no check, full or fast, can tell it from round-off.
    """
    arr = np.asarray(grads[key])
    block = np.abs(arr.astype(np.float64))
    frac = 1e-3 if arr.dtype.itemsize >= 8 else 1e-2
    return rel * max(float(block.reshape(-1)[j]), frac * float(np.max(block)))


def with_relative_error(grads: dict, key: str, j: int, rel: float) -> dict:
    """A copy of grads with element j of grads[key] moved by relative_error_size away from zero."""
    out = {k: np.array(v, copy=True) for k, v in grads.items()}
    flat = out[key].reshape(-1)
    size = relative_error_size(grads, key, j, rel)
    flat[j] += size if flat[j] >= 0 else -size
    return out
