"""gradcheck's own pytree flattener: the containers and paths jax uses, without importing jax."""
from __future__ import annotations

from collections import OrderedDict, namedtuple

import numpy as np
import pytest

import gradcheck as gc
from gradcheck import pytree

Layer = namedtuple("Layer", ["W", "b"])


def _tree():
    return {"b": [np.zeros(2), (np.ones(3), 1.5)], "a": Layer(np.eye(2), np.arange(2.0)), "c": None}


def test_paths_read_like_jax_and_dict_keys_are_sorted():
    paths, leaves, _ = pytree.flatten_with_paths(_tree(), "params")
    assert paths == ["params['a'].W", "params['a'].b", "params['b'][0]", "params['b'][1][0]", "params['b'][1][1]"]
    assert leaves[4] == 1.5 and leaves[0].shape == (2, 2)


def test_unflatten_rebuilds_every_container_type():
    tree = {"l": [1.0, 2.0], "t": (3.0,), "n": Layer(4.0, 5.0), "o": OrderedDict([("z", 6.0), ("y", 7.0)]),
            "none": None}
    leaves, treedef = pytree.flatten(tree)
    assert leaves == [1.0, 2.0, 4.0, 5.0, 6.0, 7.0, 3.0]  # keys sorted; an OrderedDict in its own order
    back = treedef.unflatten(leaves)
    assert back == tree
    assert type(back["t"]) is tuple and type(back["n"]) is Layer and type(back["o"]) is OrderedDict
    assert list(back["o"]) == ["z", "y"]  # an OrderedDict keeps its own order, as in jax


def test_flatten_up_to_names_the_place_that_differs():
    _, treedef = pytree.flatten({"W": np.ones(2), "b": [np.ones(1), np.ones(1)]})
    with pytest.raises(ValueError, match="dict keys differ"):
        treedef.flatten_up_to({"W": 1.0, "c": [1.0, 1.0]})
    with pytest.raises(ValueError, match=r"expected 2 entries at \['b'\]"):
        treedef.flatten_up_to({"W": 1.0, "b": [1.0]})
    with pytest.raises(ValueError, match="expected a list"):
        treedef.flatten_up_to({"W": 1.0, "b": (1.0, 1.0)})
    # leaf positions take any subtree: a None there is reported by the checker, with its path
    assert treedef.flatten_up_to({"W": None, "b": [1, 2]}) == [None, 1, 2]


def test_treedefs_compare_by_structure():
    a = pytree.flatten({"x": 1.0, "y": [2.0]})[1]
    b = pytree.flatten({"y": [5.0], "x": 7.0})[1]
    c = pytree.flatten({"x": 1.0, "y": (2.0,)})[1]
    assert a == b and a != c and "{'x': *, 'y': [*]}" in repr(a)


def test_paths_and_order_agree_with_jax():
    jax = pytest.importorskip("jax")
    tree = _tree()
    ours, leaves, _ = pytree.flatten_with_paths(tree, "p")
    pairs, _ = jax.tree_util.tree_flatten_with_path(tree)
    assert ours == ["p" + jax.tree_util.keystr(k) for k, _ in pairs]
    assert all(a is b for a, (_, b) in zip(leaves, pairs))


def test_registered_jax_containers_go_through_jax():
    jax = pytest.importorskip("jax")

    @jax.tree_util.register_pytree_node_class
    class Pair:
        def __init__(self, a, b):
            self.a, self.b = a, b

        def tree_flatten(self):
            return (self.a, self.b), None

        @classmethod
        def tree_unflatten(cls, aux, children):
            return cls(*children)

    paths, leaves, treedef = pytree.flatten_with_paths({"p": Pair(np.ones(2), np.zeros(3))}, "params")
    assert len(leaves) == 2 and paths[0].startswith("params['p']")
    back = treedef.unflatten([np.full(2, 2.0), np.full(3, 3.0)])
    assert isinstance(back["p"], Pair) and back["p"].b[0] == 3.0


def test_checks_accept_namedtuples_and_none_entries():
    p = {"layer": Layer(np.array([[1.0, 2.0]]), np.array([0.5])), "frozen": None}

    def f(q):
        return float(np.sum(q["layer"].W ** 2) + np.sum(q["layer"].b ** 3))

    good = {"layer": Layer(2 * p["layer"].W, 3 * p["layer"].b ** 2), "frozen": None}
    gc.assert_grads_match(f, p, good)
    bad = {"layer": Layer(2 * p["layer"].W, 2 * p["layer"].b), "frozen": None}
    with pytest.raises(gc.GradientMismatch, match=r"params\['layer'\]\.b"):
        gc.assert_grads_match(f, p, bad)


def test_a_random_generator_is_no_leaf_and_comes_back_as_itself():
    gen = np.random.default_rng(0)
    paths, leaves, treedef = pytree.flatten_with_paths({"W": np.ones(2), "rng": gen}, "params")
    assert paths == ["params['W']"] and len(leaves) == 1
    rebuilt = treedef.unflatten([np.zeros(2)])
    assert rebuilt["rng"] is gen
    assert len(treedef.flatten_up_to({"W": np.ones(2)})) == 1            # its key may be left out
    assert len(treedef.flatten_up_to({"W": np.ones(2), "rng": None})) == 1
