"""Built-in ``network``: the class-based network of the most-read online book on backprop.

``network.py`` with ``Network(sizes)``, ``weights`` (list of (n_out, n_in)), ``biases``
(list of (n_out, 1)), ``feedforward(a)`` for a column vector and ``backprop(x, y) ->
(nabla_b, nabla_w)`` for one sample, sigmoid everywhere, quadratic cost ½‖a − y‖².
Where the module also has ``QuadraticCost`` and ``CrossEntropyCost`` (``fn(a, y)``,
``delta(z, a, y)``) and ``Network(sizes, cost=...)``, both costs are graded (those
checks are left out for a module without them).  The grader sets ``weights`` and
``biases`` itself and never relies on the student's initializer or random state.
"""
from __future__ import annotations

import numpy as np

from ..checks import Assignment, Wrong
from ..wire import Handle

DESCRIPTION = """\
network.py defines Network(sizes) with weights (list of arrays (n_out, n_in)) and biases (list of (n_out, 1)),
feedforward(a) for a column vector a of shape (n_in, 1), and backprop(x, y) -> (nabla_b, nabla_w) for one sample
(lists shaped like biases and weights), with sigmoid units and the quadratic cost C = ½‖a − y‖².
Optional: QuadraticCost and CrossEntropyCost with static fn(a, y) and delta(z, a, y), and Network(sizes, cost=...).
"""
SIZES = ((3, 4, 2), (2, 5, 3, 1))


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1 - sigmoid(z))


def quadratic_fn(a, y):
    return 0.5 * float(np.linalg.norm(a - y) ** 2)


def quadratic_delta(z, a, y):
    return (a - y) * sigmoid_prime(z)


def cross_entropy_fn(a, y):
    return float(np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a))))


def cross_entropy_delta(z, a, y):
    return a - y


def backprop(weights, biases, x, y, delta=quadratic_delta):
    """The reference: one sample, column vectors."""
    a, acts, zs = x, [x], []
    for w, b in zip(weights, biases):
        z = w @ a + b
        zs.append(z)
        a = sigmoid(z)
        acts.append(a)
    d = delta(zs[-1], acts[-1], y)
    nb, nw = [None] * len(weights), [None] * len(weights)
    nb[-1], nw[-1] = d, d @ acts[-2].T
    for l in range(2, len(weights) + 1):
        d = (weights[-l + 1].T @ d) * sigmoid_prime(zs[-l])
        nb[-l], nw[-l] = d, d @ acts[-l - 1].T
    return nb, nw


def feedforward(weights, biases, a):
    for w, b in zip(weights, biases):
        a = sigmoid(w @ a + b)
    return a


def _problem(rng, sizes):
    weights = [rng.normal(size=(m, n)) for n, m in zip(sizes[:-1], sizes[1:])]
    biases = [rng.normal(size=(m, 1)) for m in sizes[1:]]
    return weights, biases, rng.normal(size=(sizes[0], 1)), rng.uniform(0.05, 0.95, size=(sizes[-1], 1))


def _network(ctx, sizes, weights, biases, cost=None):
    kwargs = {"cost": ctx.get_attr(None, cost)} if cost else {}
    net = ctx.call("Network", list(sizes), **kwargs)
    if not isinstance(net, Handle):
        raise Wrong(f"Network({list(sizes)}) should create a Network object, got {type(net).__name__}")
    ctx.set_attr(net, "weights", weights)
    ctx.set_attr(net, "biases", biases)
    return net


def feedforward_check(sizes):
    def run(ctx):
        weights, biases, x, _ = _problem(ctx.rng, sizes)
        net = _network(ctx, sizes, weights, biases)
        got = ctx.call_method(net, "feedforward", x)
        return [ctx.compare("output", got, feedforward(weights, biases, x),
                            what=f"feedforward(a) for a of shape {x.shape}")]
    return run


def backprop_check(sizes, cost=None):
    delta = {None: quadratic_delta, "QuadraticCost": quadratic_delta, "CrossEntropyCost": cross_entropy_delta}[cost]

    def run(ctx):
        weights, biases, x, y = _problem(ctx.rng, sizes)
        # the quadratic cost of the plain checks: say so where the module has cost classes, since a
        # Network(sizes) of the book's second version defaults to the cross-entropy
        chosen = cost or ("QuadraticCost" if ctx.has("QuadraticCost") else None)
        net = _network(ctx, sizes, weights, biases, chosen)
        got = ctx.call_method(net, "backprop", x, y)
        nb, nw = backprop(weights, biases, x, y, delta)
        if not isinstance(got, (tuple, list)) or len(got) != 2 or not all(
                isinstance(g, (list, tuple)) and len(g) == len(nb) for g in got):
            raise Wrong(f"backprop(x, y) should return (nabla_b, nabla_w): two lists of {len(nb)} arrays shaped "
                        f"like biases and weights")
        scale = max(float(np.max(np.abs(g))) for g in nb + nw)
        parts = [ctx.compare(f"nabla_b[{i}]", g, e, global_scale=scale) for i, (g, e) in enumerate(zip(got[0], nb))]
        parts += [ctx.compare(f"nabla_w[{i}]", g, e, global_scale=scale) for i, (g, e) in enumerate(zip(got[1], nw))]
        return parts
    return run


def cost_check(cost, fn, delta):
    def run(ctx):
        rng = ctx.rng
        z = rng.normal(size=(3, 1))
        a, y = sigmoid(z), rng.uniform(0.05, 0.95, size=(3, 1))
        return [ctx.compare("fn(a, y)", ctx.call(f"{cost}.fn", a, y), fn(a, y)),
                ctx.compare("delta(z, a, y)", ctx.call(f"{cost}.delta", z, a, y), delta(z, a, y))]
    return run


def build(**options) -> Assignment:
    a = Assignment("network", module="network", find=True, title="Backpropagation in a class-based network",
                   description=DESCRIPTION, seed=options.pop("seed", 1), **options)
    a.summary_line = ("Networks " + ", ".join("-".join(map(str, s)) for s in SIZES)
                      + "; the grader sets weights and biases itself; one sample as column vectors.")
    for sizes, pts in zip(SIZES, (7, 8)):
        a.check(f"feedforward · net {'-'.join(map(str, sizes))}", points=pts, kind="feedforward")(
            feedforward_check(sizes))
    for sizes, pts in zip(SIZES, (20, 25)):
        a.check(f"backprop · net {'-'.join(map(str, sizes))}", points=pts, kind="backprop", part_noun="gradients")(
            backprop_check(sizes))
    a.check("QuadraticCost", points=8, optional="QuadraticCost")(cost_check("QuadraticCost", quadratic_fn,
                                                                            quadratic_delta))
    a.check("CrossEntropyCost", points=8, optional="CrossEntropyCost")(
        cost_check("CrossEntropyCost", cross_entropy_fn, cross_entropy_delta))
    for cost in ("QuadraticCost", "CrossEntropyCost"):
        a.check(f"backprop with {cost} · net {'-'.join(map(str, SIZES[1]))}", points=12, optional=cost,
                kind=f"backprop with {cost}", part_noun="gradients")(backprop_check(SIZES[1], cost))
    return a
