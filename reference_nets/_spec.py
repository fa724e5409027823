"""NetSpec: which fully connected network, and the checks that make a bad call fail early."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import numpy as np

from ._activations import ACTIVATIONS
from ._targets import NEEDS_LOGISTIC_OUTPUT, NO_TEACHER, TARGETS

LAYOUTS = ("in_out", "out_in")


@dataclass(frozen=True)
class NetSpec:
    """A fully connected network: sizes (n0, n1, ..., nL), one activation per weight layer.

    layout "in_out": net = o @ W + b with W of shape (n_in, n_out)  (Patel's Z = X·W + B);
    layout "out_in": net = W @ o + b with W of shape (n_out, n_in)  (one sample as a column).
    Targets "cross_entropy" and "entropy" take logs of y, so they need a logistic output layer.
    """

    sizes: tuple
    activations: Union[str, tuple] = "logistic"
    bias: bool = True
    layout: str = "in_out"
    target: str = "half_sse"

    def __post_init__(self):
        sizes = self.sizes
        if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
            raise ValueError(f"sizes must be a sequence of positive ints such as (2, 3, 2), got {sizes!r}")
        if len(sizes) < 2 or not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1
                                     for n in sizes):
            raise ValueError(f"sizes must hold at least two positive ints (input and output), got {sizes!r}")
        object.__setattr__(self, "sizes", tuple(int(n) for n in sizes))
        acts = self.activations
        if isinstance(acts, str):
            names = (acts,) * self.n_layers
        else:
            if isinstance(acts, list):
                acts = tuple(acts)
                object.__setattr__(self, "activations", acts)
            if not isinstance(acts, tuple) or len(acts) != self.n_layers:
                raise ValueError(f"activations must be one name or a tuple of {self.n_layers} names "
                                 f"(one per weight layer for sizes {self.sizes}), got {acts!r}")
            names = acts
        for name in names:
            if name not in ACTIVATIONS:
                raise ValueError(f"unknown activation {name!r}; allowed: {', '.join(ACTIVATIONS)}")
        if not isinstance(self.bias, (bool, np.bool_)):
            raise ValueError(f"bias must be True or False, got {self.bias!r}")
        if self.layout not in LAYOUTS:
            raise ValueError(f"unknown layout {self.layout!r}; allowed: {', '.join(LAYOUTS)}")
        if self.target not in TARGETS:
            raise ValueError(f"unknown target {self.target!r}; allowed: {', '.join(TARGETS)}")
        if self.target in NEEDS_LOGISTIC_OUTPUT and names[-1] != "logistic":
            raise ValueError(f"target {self.target!r} takes log(y) and log(1 - y): the output activation must be "
                             f"'logistic', got {names[-1]!r}")

    @property
    def n_layers(self) -> int:
        """L, the number of weight layers."""
        return len(self.sizes) - 1

    @property
    def layer_activations(self) -> tuple:
        """One activation name per weight layer 1..L."""
        a = self.activations
        return (a,) * self.n_layers if isinstance(a, str) else tuple(a)

    def weight_shape(self, layer: int) -> tuple:
        """Shape of W{layer}, layer in 1..L."""
        n_in, n_out = self.sizes[layer - 1], self.sizes[layer]
        return (n_in, n_out) if self.layout == "in_out" else (n_out, n_in)

    def param_shapes(self) -> dict:
        shapes = {}
        for l in range(1, self.n_layers + 1):
            shapes[f"W{l}"] = self.weight_shape(l)
            if self.bias:
                shapes[f"b{l}"] = (self.sizes[l],)
        return shapes


def init_params(spec: NetSpec, seed: int = 0, scale: float = 1.0) -> dict:
    """Standard (LeCun) init: W ~ N(0, scale²/n_in); b ~ N(0, (0.1·scale)²).

    Biases are small but not zero, so that a gradient check also exercises them.
    """
    rng = np.random.default_rng(seed)
    params = {}
    for l in range(1, spec.n_layers + 1):
        n_in = spec.sizes[l - 1]
        params[f"W{l}"] = rng.normal(0.0, scale / np.sqrt(n_in), size=spec.weight_shape(l))
        if spec.bias:
            params[f"b{l}"] = rng.normal(0.0, 0.1 * scale, size=(spec.sizes[l],))
    return params


def check_params(spec: NetSpec, params) -> dict:
    """Float64 copies of params, after checking keys and shapes against the spec."""
    if not isinstance(spec, NetSpec):
        raise TypeError(f"spec must be a NetSpec, got {type(spec).__name__}")
    shapes = spec.param_shapes()
    missing = [k for k in shapes if k not in params]
    extra = [k for k in params if k not in shapes]
    if missing or extra:
        raise ValueError(f"params keys must be {sorted(shapes)} for this spec; missing {missing}, unexpected {extra}"
                         + (" (bias=False has no b* keys)" if not spec.bias and extra else ""))
    out = {}
    for k, shape in shapes.items():
        a = np.asarray(params[k], dtype=float)
        if a.shape != shape:
            raise ValueError(f"params[{k!r}] has shape {a.shape}, but sizes {spec.sizes} with layout "
                             f"{spec.layout!r} need {shape}")
        out[k] = a
    return out


def as_batch(spec: NetSpec, x, t=None, *, need_t: bool = False):
    """(X, T, single): x of shape (n0,) or (batch, n0) as a 2-D batch; T likewise, or None."""
    x = np.asarray(x, dtype=float)
    single = x.ndim == 1
    X = x[None, :] if single else x
    if X.ndim != 2 or X.shape[1] != spec.sizes[0]:
        raise ValueError(f"x must have shape ({spec.sizes[0]},) or (batch, {spec.sizes[0]}), got {x.shape}")
    T = None
    if need_t and spec.target not in NO_TEACHER:
        if t is None:
            raise ValueError(f"target {spec.target!r} needs a teacher signal t")
        t = np.asarray(t, dtype=float)
        T = t[None, :] if t.ndim == 1 and single else t
        if T.shape != (X.shape[0], spec.sizes[-1]):
            want = (spec.sizes[-1],) if single else (X.shape[0], spec.sizes[-1])
            raise ValueError(f"t must have the output shape {want}, got {t.shape}")
    return X, T, single
