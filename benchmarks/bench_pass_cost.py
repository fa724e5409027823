#!/usr/bin/env python
"""What a passing check costs, in evaluations of f and in multiples of one f + gradient call.

    python benchmarks/bench_pass_cost.py [--quick] [--repeat 3]

For MLPs with sigmoid, tanh and ReLU hidden units ([100, h, h, 10], batch 64, squared
error) and a conv / ReLU / 2x2 max-pool / dense net (16x16x3 images, batch 16), each at
about 10 k, 100 k and 1 M parameters, with the correct hand-written gradient given as
arrays: the number of evaluations of f and the time of grads_report in fast mode (the
constant-cost path) and in the default mode (mode='auto': it says which mode ran), and
that time divided by the time of one call of f plus one call of the gradient (the best
of --repeat). Also the resolution fast mode states for the first weight matrix: the
smallest single-element error it sees with 99 % probability, next to the median
|gradient| of that matrix. Counts are exact; times depend on the machine's load.

Writes benchmarks/results/pass_cost[-quick].md and .json.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

common.single_threaded_blas()

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import gradcheck as gc  # noqa: E402

MLP_WIDTHS = {"10k": 64, "100k": 250, "1M": 1000}     # [100, h, h, 10]
CONV_CHANNELS = {"10k": 15, "100k": 150, "1M": 1500}  # conv 3x3 (3 -> c), pool, dense (c*64 -> 10)


class ConvNet:
    """conv 3x3 (padding 1) -> ReLU -> 2x2 max-pool -> dense -> squared error, with hand-written backprop."""

    def __init__(self, channels: int, *, batch: int = 16, size: int = 16, n_in: int = 3, n_out: int = 10, seed=0):
        rng = np.random.default_rng(seed)
        self.c, self.size, self.n_in, self.n_out = channels, size, n_in, n_out
        self.X = rng.standard_normal((batch, size, size, n_in))
        self.T = rng.standard_normal((batch, n_out))
        self.batch = batch
        self._rng = rng
        pad = np.pad(self.X, ((0, 0), (1, 1), (1, 1), (0, 0)))
        # im2col once: the input is data, not a parameter
        self.patches = np.stack([pad[:, i:i + size, j:j + size, :] for i in range(3) for j in range(3)], axis=3)
        self.patches = self.patches.reshape(batch * size * size, 9 * n_in)

    @property
    def n_params(self) -> int:
        h = self.size // 2
        return 9 * self.n_in * self.c + self.c + self.c * h * h * self.n_out + self.n_out

    def init_params(self) -> dict:
        r, h = self._rng, self.size // 2
        return {"K": r.standard_normal((9 * self.n_in, self.c)) / np.sqrt(9 * self.n_in),
                "bk": 0.1 * r.standard_normal(self.c),
                "W": r.standard_normal((self.c * h * h, self.n_out)) / np.sqrt(self.c * h * h),
                "b": 0.1 * r.standard_normal(self.n_out)}

    def _forward(self, p):
        B, s, h, c = self.batch, self.size, self.size // 2, self.c
        v = (self.patches @ p["K"] + p["bk"]).reshape(B, s, s, c)
        a = np.maximum(v, 0)
        windows = a.reshape(B, h, 2, h, 2, c).transpose(0, 1, 3, 5, 2, 4).reshape(B, h, h, c, 4)
        pooled = windows.max(axis=-1)
        y = pooled.reshape(B, -1) @ p["W"] + p["b"]
        return v, windows, pooled, y

    def loss(self, p) -> float:
        y = self._forward(p)[3]
        return 0.5 / self.batch * float(np.sum((y - self.T) ** 2))

    def grad(self, p) -> dict:
        B, s, h, c = self.batch, self.size, self.size // 2, self.c
        v, windows, pooled, y = self._forward(p)
        dy = (y - self.T) / self.batch
        g = {"W": pooled.reshape(B, -1).T @ dy, "b": dy.sum(axis=0)}
        dpooled = (dy @ p["W"].T).reshape(B, h, h, c)
        # max-pool: the whole gradient to one maximum of each window (the first), never to every tie
        first = windows.argmax(axis=-1)
        dwin = np.zeros_like(windows)
        np.put_along_axis(dwin, first[..., None], dpooled[..., None], axis=-1)
        da = dwin.reshape(B, h, h, c, 2, 2).transpose(0, 1, 4, 2, 5, 3).reshape(B, s, s, c)
        dv = (da * (v > 0)).reshape(B * s * s, c)
        g["K"] = self.patches.T @ dv
        g["bk"] = dv.sum(axis=0)
        return g


def make(kind: str, size: str):
    if kind == "conv/max-pool":
        net = ConvNet(CONV_CHANNELS[size])
    else:
        h = MLP_WIDTHS[size]
        net = common.Net([100, h, h, 10], act=kind, batch=64)
    return net, net.init_params()


def best_time(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def measure(kind: str, size: str, repeat: int) -> dict:
    net, p = make(kind, size)
    g = net.grad(p)
    t_fg = best_time(lambda: (net.loss(p), net.grad(p)), repeat)
    first = next(iter(g))
    med = float(np.median(np.abs(g[first])))
    row = {"net": kind, "size": size, "params": int(net.n_params), "f + grad (s)": t_fg}
    for label, mode in (("fast", "fast"), ("default", None)):
        reports = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            r = gc.grads_report(net.loss, p, g, mode=mode)
            reports.append((time.perf_counter() - t0, r))
        seconds, r = min(reports, key=lambda x: x[0])
        row[f"{label} passed"] = bool(r.passed)
        row[f"{label} mode"] = r.mode
        row[f"{label} evals"] = int(r.n_evals)
        row[f"{label} seconds"] = seconds
        row[f"{label} x f+grad"] = seconds / t_fg
        if label == "fast":
            row["resolution"] = r.params[0].resolution
            row["median |g|"] = med
            row["path"] = r.params[0].path
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="10 k and 100 k parameters only, one repeat")
    ap.add_argument("--repeat", type=int, default=3, help="best of this many timings")
    ap.add_argument("--out", help="results file stem in benchmarks/results (default: pass_cost[-quick])")
    args = ap.parse_args(argv)
    repeat = 1 if args.quick else args.repeat
    sizes = ["10k", "100k"] if args.quick else ["10k", "100k", "1M"]
    out = args.out or ("pass_cost-quick" if args.quick else "pass_cost")
    info = common.machine()
    rows = []
    for kind in ("sigmoid", "tanh", "relu", "conv/max-pool"):
        for size in sizes:
            row = measure(kind, size, repeat)
            rows.append(row)
            print(f"{kind:14s} {row['params']:8d}  fast {row['fast evals']:4d} evals {row['fast x f+grad']:6.1f}x  "
                  f"default ({row['default mode']}) {row['default evals']:6d} evals {row['default x f+grad']:7.1f}x  "
                  f"resolution {row['resolution']:.2g} (median |g| {row['median |g|']:.2g})", flush=True)
    header = ["net", "params", "f + grad", "fast: evals", "fast: time", "fast: x (f + grad)",
              "default: mode", "default: evals", "default: time", "default: x (f + grad)",
              "fast resolution (first weights)", "median abs(g) there", "passed"]
    table = common.md_table(header, [[
        r["net"], r["params"], f"{1e3 * r['f + grad (s)']:.3g} ms", r["fast evals"], f"{r['fast seconds']:.3g} s",
        f"{r['fast x f+grad']:.1f}", r["default mode"], r["default evals"], f"{r['default seconds']:.3g} s",
        f"{r['default x f+grad']:.1f}", f"{r['resolution']:.2g}" if r["resolution"] else "n/a",
        f"{r['median |g|']:.2g}", "yes" if r["fast passed"] and r["default passed"] else "NO"] for r in rows])
    md = "\n".join([
        "# What a passing check costs\n",
        f"Command: `{common.command_line()}`\n",
        "## Machine\n", common.machine_md(info), "",
        "grads_report(f, params, correct_gradient_arrays) in fast mode and in the default mode; times are the best of "
        f"{repeat}; 'x (f + grad)' divides by the best time of one call of f plus one call of the hand-written "
        "gradient. The resolution is fast mode's stated guarantee for the first weight matrix (a single-element error "
        "above it is seen with 99 % probability).\n",
        table, ""])
    common.write_results(out, md, {"machine": info, "command": common.command_line(), "rows": rows})
    print(f"wrote benchmarks/results/{out}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
