"""False failures and misses of gradcheck's verdicts over random hand-written MLPs, at the default mode.

    python benchmarks/bench_verdicts.py [--quick] [--small N] [--zoo N] [--seed S]

Two suites, each checked with the correct gradient (a pass is right) and with one element
made 1 % wrong (a failure is right), at the default mode (mode='auto': the full check where
it is cheap, fast beyond; the report says which ran) and, for comparison, in fast mode:

- small: 1-3 hidden layers of widths 1-8, logistic/tanh/relu, float32 or float64, batch 1-5
  (the backprop of tests/mlp_styles.py, passed as a function); one random element 1 % off
  (1 % of its magnitude, or of a small fraction of its block's largest where it is nearly 0;
  blocks whose gradient is all zero, dead ReLU units, are not chosen).
- zoo: 20 to 60 k parameters (tests/mlp_zoo.py: sigmoid, tanh, softplus, relu, leaky relu,
  elu; squared error or softmax cross-entropy; float32 or float64; batch 1-16); the median
  element of a random weight matrix 1 % off; the gradient given as a function and as arrays.

Where a 1 % error passes, the report says whether that was promised: "announced" counts misses
whose error was below the resolution fast mode stated, or within the element floor of the
gradient's dtype (atol + rtol * |g|, which no mode can see below).
Writes benchmarks/results/verdicts[-quick].md and .json.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

common.single_threaded_blas()

import argparse  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import gradcheck as gc  # noqa: E402
from tests import mlp_styles as m  # noqa: E402
from tests import mlp_zoo as zoo  # noqa: E402

KINKED = {"relu", "leaky_relu"}


def _family(act: str) -> str:
    return "relu-like" if act in KINKED else "smooth"


def small_suite(rng, n: int, tally: Counter, examples: list) -> None:
    for it in range(n):
        depth = int(rng.integers(1, 4))
        sizes = tuple(int(v) for v in rng.integers(1, 9, depth + 1))
        act = str(rng.choice(["logistic", "tanh", "relu"]))
        dtype = [np.float32, np.float64][int(rng.integers(2))]
        p, x, t = m.make_net(sizes, seed=int(rng.integers(1 << 30)), dtype=dtype, batch=int(rng.integers(1, 6)),
                             scale=float(rng.choice([0.5, 1, 3])))
        f = lambda q, x=x, t=t, act=act: m.loss(q, x, t, act)  # noqa: E731
        backward = lambda q, x=x, t=t, act=act: m.backward_matrix(q, x, t, act)  # noqa: E731
        g = backward(p)
        live = sorted(k for k in g if np.any(g[k] != 0))   # a dead block (all-zero gradient) has no 1 % to take
        if not live:
            continue
        key = live[int(rng.integers(len(live)))]
        j = int(rng.integers(g[key].size))

        def wrong(q, key=key, j=j, backward=backward):
            return zoo.with_relative_error(backward(q), key, j, 0.01)

        group = ("small", np.dtype(dtype).name, _family(act), "function")
        _run(group, f, p, backward, wrong, key, j, g, it, tally, examples, (sizes, act))


def zoo_suite(rng, n: int, tally: Counter, examples: list) -> None:
    for it in range(n):
        net = zoo.random_mlp(rng, min_params=20, max_params=60_000)
        p = net.init_params()
        g = net.grad(p)
        key, j = zoo.median_weight_element(g, rng)
        bad = zoo.with_relative_error(g, key, j, 0.01)
        badfn = lambda q, key=key, j=j, net=net: zoo.with_relative_error(net.grad(q), key, j, 0.01)  # noqa: E731
        dt, fam = np.dtype(net.dtype).name, _family(net.act)
        about = (net.sizes, net.act, net.loss_kind)
        _run(("zoo", dt, fam, "function"), net.loss, p, net.grad, badfn, key, j, g, it, tally, examples, about)
        _run(("zoo", dt, fam, "arrays"), net.loss, p, g, bad, key, j, g, it, tally, examples, about)


def _run(group, f, p, good, bad, key, j, g, seed, tally, examples, about) -> None:
    error = zoo.relative_error_size(g, key, j, 0.01)
    for mode in ("default", "fast"):
        kw = {} if mode == "default" else {"mode": "fast"}
        tally[group + (mode, "cases")] += 1
        r = gc.grads_report(f, p, good, seed=seed, **kw)
        if not r.passed:
            tally[group + (mode, "false failures")] += 1
            examples.append({"kind": "false failure", "group": group, "mode": mode, "net": str(about)})
        r = gc.grads_report(f, p, bad, seed=seed, **kw)
        tally[group + (mode, r.mode)] += 1
        if r.passed:
            tally[group + (mode, "misses")] += 1
            rep = next(q for q in r.params if q.path == f"params['{key}']")
            res = rep.resolution
            value = abs(float(np.asarray(g[key]).reshape(-1)[j]))
            # announced: below the stated resolution (fast), or within the dtype's element floor (any mode)
            floor = None if rep.atol is None else rep.atol + rep.rtol * value
            honest = (res is not None and error < res) or (floor is not None and error <= floor)
            tally[group + (mode, "honest misses")] += honest
            examples.append({"kind": "miss", "group": group, "mode": mode, "net": str(about), "error": error,
                             "stated resolution": res, "element floor": floor, "honest": honest})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="60 small networks and 30 zoo networks")
    ap.add_argument("--small", type=int, default=600, help="small networks")
    ap.add_argument("--zoo", type=int, default=200, help="zoo networks (20 to 60 k parameters)")
    ap.add_argument("--seed", type=int, default=30)
    ap.add_argument("--out", help="results file stem in benchmarks/results (default: verdicts[-quick])")
    args = ap.parse_args(argv)
    if args.quick:
        args.small, args.zoo = 60, 30
    out = args.out or ("verdicts-quick" if args.quick else "verdicts")
    info = common.machine()
    start = time.perf_counter()
    tally, examples = Counter(), []
    rng = np.random.default_rng(args.seed)
    small_suite(rng, args.small, tally, examples)
    zoo_suite(rng, args.zoo, tally, examples)
    elapsed = time.perf_counter() - start
    groups = sorted({k[:4] for k in tally})
    rows = []
    for grp in groups:
        for mode in ("default", "fast"):
            n = tally[grp + (mode, "cases")]
            if not n:
                continue
            ran = ", ".join(f"{name} {tally[grp + (mode, name)]}" for name in ("full", "fast")
                            if tally[grp + (mode, name)])
            misses, honest = tally[grp + (mode, "misses")], tally[grp + (mode, "honest misses")]
            rows.append([*grp, mode, ran, n, tally[grp + (mode, "false failures")],
                         f"{misses} ({100 * misses / n:.1f} %)", f"{honest} of {misses}"])
    header = ["suite", "dtype", "activations", "gradient given as", "mode asked", "mode that ran (wrong case)",
              "networks", "false failures", "misses of a 1 % error", "misses announced (below the resolution or the dtype floor)"]
    table = common.md_table(header, rows)
    print(table)
    print(f"{elapsed:.0f} s")
    md = "\n".join([
        "# Verdicts over random hand-written MLPs\n",
        f"Command: `{common.command_line()}` ({elapsed:.0f} s)\n",
        "## Machine\n", common.machine_md(info), "",
        "Each network is checked with its correct gradient (false failure if it fails) and with one element 1 % off "
        "(miss if it passes): in the small suite a random element, in the zoo the median-magnitude element of a random "
        "weight matrix. 'mode asked: default' is mode='auto'. A miss 'below the stated resolution' is one the report "
        "announced: fast mode states the smallest single-element error it sees with 99 % probability, and no mode can "
        "see an error within the element floor of the gradient's dtype (atol + rtol * |g|).\n",
        table, ""])
    common.write_results(out, md, {"machine": info, "command": common.command_line(), "seconds": elapsed,
                                   "rows": [dict(zip(header, r)) for r in rows], "examples": examples[:200]})
    print(f"wrote benchmarks/results/{out}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
