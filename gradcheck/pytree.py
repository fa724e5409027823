"""Pytrees without jax: dict, list, tuple, namedtuple and None as containers, everything else a leaf.

Random generators (np.random.Generator, np.random.RandomState, torch.Generator) in
params are no leaves: there is nothing to differentiate, so they pass through to f
unchanged, the very object each time (replay_random=True restores their state
before every call), and a gradient tree may hold anything, or leave a dict key
out, in their place.

Paths read as in jax (``params['W']``, ``params[0]``, ``params.W`` for a
namedtuple field) and dict keys are sorted as jax sorts them, so messages are
the same whether or not jax is installed. Other containers (a flax FrozenDict,
an equinox Module, any registered JAX pytree node) are handed to
jax.tree_util, and only when the user's code has already imported jax: a numpy
user's check never imports it.
"""
from __future__ import annotations

import sys
from collections import OrderedDict
from typing import Any

import numpy as np

_DICT, _LIST, _TUPLE, _NAMEDTUPLE, _NONE, _LEAF, _JAX = "dict", "list", "tuple", "namedtuple", "None", "*", "jax"
_RNG = "rng"   # a random generator: passed through, never differentiated


class TreeDef:
    """The structure of a pytree: node kind, keys (or arity) and children."""

    __slots__ = ("kind", "keys", "children", "meta")

    def __init__(self, kind: str, keys=(), children=(), meta=None):
        self.kind = kind
        self.keys = tuple(keys)          # dict keys / namedtuple fields; positions for list and tuple
        self.children = tuple(children)
        self.meta = meta                 # the namedtuple class, jax's own treedef of a JAX node, or the generator

    @property
    def num_leaves(self) -> int:
        if self.kind == _LEAF:
            return 1
        if self.kind == _JAX:
            return self.meta.num_leaves
        return sum(c.num_leaves for c in self.children)

    def unflatten(self, leaves):
        """A tree of this structure holding ``leaves`` (in flatten order)."""
        it = iter(list(leaves))
        out = self._build(it)
        if next(it, _END) is not _END:
            raise ValueError(f"too many leaves for {self}")
        return out

    def _build(self, it):
        if self.kind == _LEAF:
            return next(it)
        if self.kind == _NONE:
            return None
        if self.kind == _RNG:
            return self.meta
        if self.kind == _JAX:
            import jax

            return jax.tree_util.tree_unflatten(self.meta, [next(it) for _ in range(self.meta.num_leaves)])
        parts = [c._build(it) for c in self.children]
        if self.kind == _DICT:
            return _rebuild_dict(self.meta, zip(self.keys, parts))
        if self.kind == _LIST:
            return parts
        if self.kind == _TUPLE:
            return tuple(parts)
        return self.meta(*parts)

    def flatten_up_to(self, tree) -> list:
        """The subtrees of ``tree`` at this structure's leaf positions; ValueError where it differs."""
        out: list = []
        self._up_to(tree, out, "")
        return out

    def _up_to(self, tree, out: list, at: str) -> None:
        where = f" at {at}" if at else ""
        if self.kind == _LEAF:
            out.append(tree)
            return
        if self.kind == _NONE:
            if tree is not None:
                raise ValueError(f"expected None{where}, got {type(tree).__name__}")
            return
        if self.kind == _RNG:
            return  # a generator's place: nothing to compare, whatever stands there
        if self.kind == _JAX:
            try:
                out.extend(self.meta.flatten_up_to(tree))
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{exc}{where}") from None
            return
        kind = _node_kind(tree)
        if kind != self.kind or (kind == _NAMEDTUPLE and type(tree) is not self.meta):
            raise ValueError(f"expected a {self._describe_kind()}{where}, got {type(tree).__name__}")
        if kind == _DICT:
            optional = {k for k, c in zip(self.keys, self.children) if c.kind == _RNG}
            if not set(self.keys) - optional <= set(tree) <= set(self.keys):
                raise ValueError(f"dict keys differ{where}: expected {sorted(map(repr, self.keys))}, "
                                 f"got {sorted(map(repr, tree))}")
            for k, c in zip(self.keys, self.children):
                if k in tree:
                    c._up_to(tree[k], out, f"{at}[{k!r}]")
            return
        if len(tree) != len(self.children):
            raise ValueError(f"expected {len(self.children)} entries{where}, got {len(tree)}")
        for i, (sub, c) in enumerate(zip(tree, self.children)):
            c._up_to(sub, out, f"{at}.{self.keys[i]}" if kind == _NAMEDTUPLE else f"{at}[{i}]")

    def _describe_kind(self) -> str:
        return self.meta.__name__ if self.kind == _NAMEDTUPLE else self.kind

    def __eq__(self, other) -> bool:
        if not isinstance(other, TreeDef):
            return NotImplemented
        return (self.kind == other.kind and self.keys == other.keys and self.children == other.children
                and (self.meta == other.meta if self.kind in (_NAMEDTUPLE, _JAX) else True)
                and (self.kind != _DICT or (self.meta is OrderedDict) == (other.meta is OrderedDict)))

    def __hash__(self) -> int:
        return hash((self.kind, self.keys, self.children))

    def __repr__(self) -> str:
        return f"PyTreeDef({self._text()})"

    def _text(self) -> str:
        if self.kind == _LEAF:
            return "*"
        if self.kind == _NONE:
            return "None"
        if self.kind == _RNG:
            return f"<{type(self.meta).__name__}>"
        if self.kind == _JAX:
            return str(self.meta)
        inner = [c._text() for c in self.children]
        if self.kind == _DICT:
            return "{" + ", ".join(f"{k!r}: {v}" for k, v in zip(self.keys, inner)) + "}"
        if self.kind == _LIST:
            return "[" + ", ".join(inner) + "]"
        if self.kind == _TUPLE:
            return "(" + ", ".join(inner) + ("," if len(inner) == 1 else "") + ")"
        return f"{self.meta.__name__}(" + ", ".join(f"{k}={v}" for k, v in zip(self.keys, inner)) + ")"


_END = object()
_PLAIN_LEAVES = (np.ndarray, np.generic, int, float, complex, str, bytes)


def _is_namedtuple(obj) -> bool:
    return isinstance(obj, tuple) and hasattr(type(obj), "_fields") and hasattr(obj, "_asdict")


def _is_generator(obj) -> bool:
    return isinstance(obj, (np.random.Generator, np.random.RandomState)) or is_torch_generator(obj)


def is_torch_generator(obj) -> bool:
    """A torch.Generator, recognised without importing torch."""
    return type(obj).__name__ == "Generator" and (type(obj).__module__ or "").startswith("torch")


def _node_kind(obj) -> str:
    if isinstance(obj, _PLAIN_LEAVES):
        return _LEAF
    if obj is None:
        return _NONE
    if _is_generator(obj):
        return _RNG
    if type(obj) is dict or type(obj) is OrderedDict or (isinstance(obj, dict) and not _jax_node(obj)):
        return _DICT
    if isinstance(obj, list):
        return _LIST
    if _is_namedtuple(obj):
        return _NAMEDTUPLE
    if isinstance(obj, tuple):
        return _TUPLE
    if _jax_node(obj):
        return _JAX
    return _LEAF


def _jax_node(obj) -> bool:
    """True for a container registered with jax (only asked when jax is already imported)."""
    if "jax" not in sys.modules or type(obj) in (dict, list, tuple):
        return False
    import jax

    try:
        leaves = jax.tree_util.tree_leaves(obj)
    except Exception:  # noqa: BLE001 - not something jax can flatten: a leaf
        return False
    return not (len(leaves) == 1 and leaves[0] is obj)


def _rebuild_dict(cls, pairs):
    """A dict of the user's class where it can be made from pairs (OrderedDict), else a plain dict."""
    pairs = list(pairs)
    if cls is None or cls is dict:
        return dict(pairs)
    try:
        return cls(pairs)
    except Exception:  # noqa: BLE001 - e.g. defaultdict wants its factory first
        return dict(pairs)


def _sorted_keys(d: dict) -> list:
    try:
        return sorted(d)
    except TypeError:  # keys of mixed types: keep the dict's own order
        return list(d)


def flatten_with_paths(tree: Any, root: str = "") -> tuple[list, list, TreeDef]:
    """(paths, leaves, treedef): paths like root['W'], root[0], root.field."""
    paths: list = []
    leaves: list = []
    treedef = _flatten(tree, root, paths, leaves)
    return paths, leaves, treedef


def flatten(tree: Any) -> tuple[list, TreeDef]:
    _, leaves, treedef = flatten_with_paths(tree)
    return leaves, treedef


def _flatten(tree, path: str, paths: list, leaves: list) -> TreeDef:
    kind = _node_kind(tree)
    if kind == _LEAF:
        paths.append(path)
        leaves.append(tree)
        return TreeDef(_LEAF)
    if kind == _NONE:
        return TreeDef(_NONE)
    if kind == _RNG:
        return TreeDef(_RNG, meta=tree)
    if kind == _JAX:
        import jax

        pairs, jax_def = jax.tree_util.tree_flatten_with_path(tree)
        for keypath, leaf in pairs:
            paths.append(path + jax.tree_util.keystr(keypath))
            leaves.append(leaf)
        return TreeDef(_JAX, meta=jax_def)
    if kind == _DICT:
        keys = list(tree) if isinstance(tree, OrderedDict) else _sorted_keys(tree)
        return TreeDef(_DICT, keys, [_flatten(tree[k], f"{path}[{k!r}]", paths, leaves) for k in keys], type(tree))
    if kind == _NAMEDTUPLE:
        fields = type(tree)._fields
        return TreeDef(_NAMEDTUPLE, fields,
                       [_flatten(v, f"{path}.{k}", paths, leaves) for k, v in zip(fields, tree)], type(tree))
    children = [_flatten(v, f"{path}[{i}]", paths, leaves) for i, v in enumerate(tree)]
    return TreeDef(kind, range(len(children)), children)
