"""False failures and misses of gradcheck's verdicts over random hand-written MLPs.

For each random network (1-3 hidden layers, widths 1-8, logistic/tanh/relu, float32 or
float64, batch 1-5; the backprop of tests/mlp_styles.py, passed as a function), it checks
the correct gradient (a pass is right) and the gradient with one random element made wrong
(1% in float64, 5% in float32, at least a small absolute amount; a failure is right), in
fast and full mode. Usage: python benchmarks/bench_verdicts.py [--seeds 30 31 32] [--n 200]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import gradcheck as gc  # noqa: E402
from tests import mlp_styles as m  # noqa: E402


def run(seed: int, n: int):
    rng = np.random.default_rng(seed)
    cases, false_fails, misses, examples = Counter(), Counter(), Counter(), []
    for it in range(n):
        depth = int(rng.integers(1, 4))
        sizes = tuple(int(v) for v in rng.integers(1, 9, depth + 1))
        act = str(rng.choice(["logistic", "tanh", "relu"]))
        dtype = [np.float32, np.float64][int(rng.integers(2))]
        p, x, t = m.make_net(sizes, seed=int(rng.integers(1 << 30)), dtype=dtype, batch=int(rng.integers(1, 6)),
                             scale=float(rng.choice([0.5, 1, 3])))
        f = lambda q: m.loss(q, x, t, act)  # noqa: E731
        backward = lambda q: m.backward_matrix(q, x, t, act)  # noqa: E731
        g = backward(p)
        key = sorted(g)[int(rng.integers(len(g)))]
        j = int(rng.integers(g[key].size))
        rel = 0.01 if dtype == np.float64 else 0.05
        bump = rel * max(abs(float(g[key].reshape(-1)[j])), 1e-3 * float(np.max(np.abs(g[key])))) \
            + (1e-9 if dtype == np.float64 else 1e-4)

        def wrong(q, key=key, j=j, bump=bump):
            out = {k: v.copy() for k, v in backward(q).items()}
            out[key].reshape(-1)[j] += bump
            return out

        name = np.dtype(dtype).name
        cases[name] += 1
        for mode in ("fast", "full"):
            if not gc.grads_report(f, p, backward, mode=mode, seed=it).passed:
                false_fails[(mode, name)] += 1
                examples.append(("false fail", mode, sizes, act, name))
            if gc.grads_report(f, p, wrong, mode=mode, seed=it).passed:
                misses[(mode, name)] += 1
                examples.append(("miss", mode, sizes, act, name, key, j, f"{bump:.2g}"))
    return cases, false_fails, misses, examples


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[30, 31, 32])
    ap.add_argument("--n", type=int, default=200, help="networks per seed")
    args = ap.parse_args(argv)
    start = time.perf_counter()
    total = [Counter(), Counter(), Counter()]
    for seed in args.seeds:
        for acc, part in zip(total, run(seed, args.n)[:3]):
            acc.update(part)
    cases, ff, miss = total
    print(f"{sum(cases.values())} networks ({dict(cases)}), {time.perf_counter() - start:.0f} s")
    print("| mode | dtype | networks | false failures (correct gradient failed) | misses (wrong element passed) |")
    print("|---|---|---|---|---|")
    for mode in ("fast", "full"):
        for name in ("float64", "float32"):
            print(f"| {mode} | {name} | {cases[name]} | {ff[(mode, name)]} | {miss[(mode, name)]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
