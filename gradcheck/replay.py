"""Replaying random draws, so a stochastic f (dropout, noise, sampling) becomes a function of params.

A derivative of f exists only if f draws the same mask at every evaluation.
replaying() snapshots every random state f can reach when the check starts
and restores it before each call of f and of the gradient function, so the
forward passes and your backward all see the draws of the first call:

- numpy's global RandomState (np.random.rand, np.random.binomial, ...) and Python's ``random``;
- np.random.Generator and np.random.RandomState objects in params, in f's
  closure cells, in the globals f names, bound to f (a method's ``self`` and
  its attributes: ``layer.rng``) or held by a functools.partial (its args and
  keywords), one level deep into dicts, lists, tuples and attributes; and the
  same, three calls deep, for the functions f closes over and the functions of
  its own module that it names (a ``dropout(h)`` helper);
- torch's default generator (torch.manual_seed's), only when torch is already imported.

Not found: a generator reachable only deeper than that (an attribute of an
attribute), one created outside numpy/torch (cupy, tf), or torch generators
other than the default one (a torch.Generator object is found like numpy's).
JAX needs nothing: its keys are explicit, so f(params) with a fixed key is
already deterministic.
"""
from __future__ import annotations

import functools
import random
import sys

import numpy as np

from gradcheck.pytree import is_torch_generator


class _State:
    """One random source and how to put it back where it was."""

    def __init__(self, save, restore):
        self.saved = save()
        self._restore = restore

    def restore(self):
        self._restore(self.saved)


def _sources_of(obj, out: dict, depth: int = 1) -> None:
    """Add the random sources in obj (and, to ``depth``, in its containers and attributes) to out by id."""
    if isinstance(obj, np.random.Generator):
        out.setdefault(id(obj), _State(lambda g=obj: g.bit_generator.state,
                                       lambda s, g=obj: setattr(g.bit_generator, "state", s)))
        return
    if isinstance(obj, np.random.RandomState):
        out.setdefault(id(obj), _State(obj.get_state, obj.set_state))
        return
    if is_torch_generator(obj):
        out.setdefault(id(obj), _State(obj.get_state, obj.set_state))
        return
    if depth <= 0 or obj is None or isinstance(obj, (str, bytes, int, float, np.ndarray, type(sys), type)):
        return
    if isinstance(obj, dict):
        items = list(obj.values())
    elif isinstance(obj, (list, tuple, set)):
        items = list(obj)
    elif isinstance(getattr(obj, "__dict__", None), dict) and not isinstance(obj, type):
        items = list(vars(obj).values())
    else:
        return
    for item in items[:1000]:
        _sources_of(item, out, depth - 1)


def _reachable_from(f, out: dict, seen: set, depth: int = 3) -> None:
    """Random sources f can reach: closure, named globals, bound self, partial's arguments.

    Functions found in a closure (a helper f calls), and functions of f's own
    module that f names, are followed too, ``depth`` calls deep.
    """
    while f is not None and id(f) not in seen and depth > 0:
        seen.add(id(f))
        if isinstance(f, functools.partial):
            for a in list(f.args) + list(f.keywords.values()):
                _sources_of(a, out)
                _follow(a, out, seen, depth - 1)
            f = f.func
            continue
        bound = getattr(f, "__self__", None)
        if bound is not None and not isinstance(bound, type(sys)):
            _sources_of(bound, out)
        code, closure = getattr(f, "__code__", None), getattr(f, "__closure__", None)
        for cell in closure or ():
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            _sources_of(value, out)
            _follow(value, out, seen, depth - 1)
        if code is not None:
            glb = getattr(f, "__globals__", {})
            for name in code.co_names:
                if name in glb:
                    _sources_of(glb[name], out)
                    if getattr(glb[name], "__module__", None) == getattr(f, "__module__", 0):
                        _follow(glb[name], out, seen, depth - 1)
        if not hasattr(f, "__code__") and callable(f) and hasattr(type(f), "__call__"):
            _sources_of(f, out)  # a callable object (an nn.Module, a layer): its attributes
        f = getattr(f, "__func__", None) or getattr(f, "__wrapped__", None)


def _follow(value, out: dict, seen: set, depth: int) -> None:
    if callable(value) and not isinstance(value, type) and (
            hasattr(value, "__code__") or hasattr(value, "__func__") or isinstance(value, functools.partial)):
        _reachable_from(value, out, seen, depth)


def random_sources(f, params, grads=None) -> list:
    """Every random state replaying() would restore, for the functions and params given."""
    found: dict = {}
    found[-1] = _State(np.random.get_state, np.random.set_state)
    found[-2] = _State(random.getstate, random.setstate)
    if "torch" in sys.modules:
        import torch

        found[-3] = _State(torch.random.get_rng_state, torch.random.set_rng_state)
    _sources_of(params, found, depth=64)
    for fn in (f, grads):
        if callable(fn):
            _reachable_from(fn, found, set())
    return list(found.values())


def replaying(f, grads, params):
    """(f2, grads2): f and the gradient function, each restoring the random state of now before every call.

    grads may be None (autodiff), a pytree (returned as it is) or a function.
    The snapshot is taken here, once: every call of f2 and grads2 draws what
    f's first call draws. Your own random state is put back after each call
    too, so replaying leaves it as it found it.
    """
    sources = random_sources(f, params, grads)

    def replay(fn):
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            for s in sources:
                s.restore()
            try:
                return fn(*args, **kwargs)
            finally:
                for s in sources:
                    s.restore()
        return wrapped

    return replay(f), (replay(grads) if callable(grads) else grads)
