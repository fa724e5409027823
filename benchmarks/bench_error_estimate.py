#!/usr/bin/env python
"""Is gradcheck's finite-difference error estimate conservative?

    python benchmarks/bench_error_estimate.py [--quick]

For smooth functions (the benchmark MLPs with logistic and tanh units, and a few classic
test functions), run grads_report(mode="full", oracle="fd") and read, for every element,
the finite-difference value and its error bar from gradcheck's internals (each block of
the check's Context keeps `expected` and `error` per block). The truth is JAX autodiff of a jax.numpy
twin in float64. Reported per function: how often |fd - true| > error bar (target: under
1% of elements), and the median of error bar / |fd - true| (how conservative it is).

Fast mode rests on the same estimate along random directions, so the same is done for
DIRECTIONS random directions per function (fd.derivative at the run's step and noise,
against <true gradient, u>).

Writes benchmarks/results/error_estimate.md and .json.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

common.single_threaded_blas()

import argparse  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402

import numpy as np  # noqa: E402

from common import SIZES, Net  # noqa: E402

DIRECTIONS = 20


@dataclass
class Problem:
    name: str
    f: object            # numpy f(params dict) -> scalar
    f_jax: object        # jax.numpy twin, differentiated in float64 for the truth
    params: dict


def _mlp(sizes, act, *, dtype=np.float64, scale=1.0, offset=0.0, label=None):
    net = Net(sizes, act, dtype=dtype)
    params = {k: v.astype(np.float64) for k, v in net.init_params().items()}
    ref = Net(sizes, act)  # the float64 twin of the same net, same data
    ref.X, ref.T = net.X.astype(np.float64), net.T.astype(np.float64)

    def f(p):
        return scale * float(net.loss(p)) + offset

    def f_jax(p):
        return scale * ref.loss_jnp(p) + offset

    name = label or f"MLP {act} {sizes} ({net.n_params} params)"
    return Problem(name, f, f_jax, params)


def _rosenbrock(n=20, seed=1):
    x0 = np.random.default_rng(seed).uniform(-1.5, 1.5, n)

    def f(p, xp=np):
        x = p["x"]
        return xp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    import jax.numpy as jnp
    return Problem(f"Rosenbrock (n={n})", lambda p: float(f(p)), lambda p: f(p, jnp), {"x": x0})


def _logsumexp(m=30, n=20, seed=2):
    rng = np.random.default_rng(seed)
    A, c = rng.standard_normal((m, n)), rng.standard_normal(m)

    def f(p, xp=np):
        z = A @ p["x"] + c
        zmax = xp.max(z)
        return zmax + xp.log(xp.sum(xp.exp(z - zmax)))

    import jax.numpy as jnp
    return Problem(f"log-sum-exp of A x + c (A {m}x{n})", lambda p: float(f(p)), lambda p: f(p, jnp),
                   {"x": rng.standard_normal(n)})


def problems(quick: bool) -> list[Problem]:
    small, mid = SIZES["100"], [10, 30, 30, 3]
    out = [
        _mlp(small, "sigmoid"),
        _mlp(small, "tanh"),
        _mlp(mid, "sigmoid"),
        _mlp(mid, "tanh"),
    ]
    if not quick:
        out.append(_mlp(SIZES["11.5k"], "sigmoid"))
    out += [
        _rosenbrock(),
        _logsumexp(),
        _mlp(mid, "sigmoid", scale=1e-9, label=f"1e-9 * MLP sigmoid {mid} loss"),
        _mlp(mid, "sigmoid", offset=1e6, label=f"MLP sigmoid {mid} loss + 1e6"),
        _mlp(mid, "tanh", dtype=np.float32, label=f"MLP tanh {mid}, float32 inside f"),
    ]
    return out


# -- reading gradcheck's estimates ---------------------------------------------------------------
def run_full(prob: Problem, true_grad: dict, seed: int = 0):
    """grads_report(mode="full") with its Context and Stepping kept: the blocks hold per-element fd values
    and error bars (read through gradcheck.checker's assemble_report, wrapped for the call)."""
    import gradcheck
    from gradcheck import checker

    kept = {}
    original = checker.assemble_report

    def assemble(ctx, **kwargs):
        kept["ctx"], kept["stepping"] = ctx, kwargs["stepping"]
        return original(ctx, **kwargs)

    checker.assemble_report = assemble
    try:
        rep = gradcheck.grads_report(prob.f, prob.params, true_grad, mode="full", oracle="fd", seed=seed)
    finally:
        checker.assemble_report = original
    return rep, kept["ctx"], kept["stepping"]


def true_gradient(prob: Problem) -> dict:
    import jax
    import jax.numpy as jnp

    with jax.enable_x64(True):
        g = jax.grad(prob.f_jax)({k: jnp.asarray(v) for k, v in prob.params.items()})
        return {k: np.asarray(v, dtype=np.float64) for k, v in g.items()}


@dataclass
class Row:
    function: str
    n: int
    evals: int
    noise: float
    step: float
    kinks: int
    n_elements: int
    n_outside: int
    frac_outside: float
    median_ratio: float
    worst_excess: float       # max |fd - true| / estimate
    dir_outside: int
    dir_n: int
    dir_median_ratio: float
    passed: bool


def _ratio_stats(fd_vals, errs, truth):
    true_err = np.abs(fd_vals - truth)
    outside = true_err > errs
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(true_err > 0, errs / true_err, np.inf)
        excess = np.where(errs > 0, true_err / errs, np.where(true_err > 0, np.inf, 0.0))
    return int(outside.sum()), float(np.median(ratio)), float(np.max(excess, initial=0.0))


def study(prob: Problem) -> Row:
    from gradcheck import fd
    from gradcheck.numerics import phi, random_direction

    truth = true_gradient(prob)
    rep, ctx, st = run_full(prob, truth)
    import jax

    flat_true = np.concatenate([np.ravel(x) for x in jax.tree_util.tree_leaves(truth)])  # gradcheck's leaf order
    assert flat_true.size == ctx.problem.n
    vals, errs, tru, kinks = [], [], [], 0
    for b in ctx.blocks:
        smooth = ~b.kink
        kinks += int(b.kink.sum())
        vals.append(b.expected[smooth])
        errs.append(b.error[smooth])
        tru.append(flat_true[b.leaf.slice][b.idx[smooth]])
    vals, errs, tru = map(np.concatenate, (vals, errs, tru))
    n_out, med, worst = _ratio_stats(vals, errs, tru)

    # directional estimates, as fast mode uses them
    dv, de, dt = [], [], []
    for _ in range(DIRECTIONS):
        u = random_direction(ctx, ctx.blocks)
        est = fd.derivative(phi(ctx, u, "a random direction"), ctx.f0, st.t, st.sigma)
        if bool(est.kink):
            continue
        dv.append(float(est.value))
        de.append(float(est.error))
        dt.append(float(flat_true @ u))
    d_out, d_med, _ = _ratio_stats(np.array(dv), np.array(de), np.array(dt))
    return Row(prob.name, ctx.problem.n, rep.n_evals, float(np.max(st.sigma)), float(st.t), kinks, len(vals), n_out,
               n_out / max(len(vals), 1), med, worst, d_out, len(dv), d_med, rep.passed)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="leave out the 11.5k-parameter MLP")
    ap.add_argument("--out", help="results file stem in benchmarks/results (default: error_estimate[-quick])")
    args = ap.parse_args(argv)
    args.out = args.out or ("error_estimate-quick" if args.quick else "error_estimate")
    info = common.machine()
    rows = []
    for prob in problems(args.quick):
        r = study(prob)
        rows.append(r)
        print(f"{r.function:48s} n={r.n:6d} outside={r.n_outside}/{r.n_elements} median ratio={r.median_ratio:.3g} "
              f"worst excess={r.worst_excess:.3g} directional outside={r.dir_outside}/{r.dir_n}", flush=True)
    total_out = sum(r.n_outside for r in rows)
    total = sum(r.n_elements for r in rows)
    header = ["function", "params", "f evals (full mode)", "noise sigma", "step t", "elements outside their error bar",
              "median estimate / true error", "worst true error / estimate", "directions outside",
              "directional median ratio", "check passed"]
    table = common.md_table(header, [[
        r.function, r.n, r.evals, f"{r.noise:.2g}", f"{r.step:.2g}",
        f"{r.n_outside} of {r.n_elements} ({100 * r.frac_outside:.2f}%)" + (f", {r.kinks} kinks" if r.kinks else ""),
        f"{r.median_ratio:.3g}", f"{r.worst_excess:.3g}", f"{r.dir_outside} of {r.dir_n}", f"{r.dir_median_ratio:.3g}",
        "yes" if r.passed else "NO"] for r in rows])
    frac = total_out / max(total, 1)
    worst_fn = max(rows, key=lambda r: r.frac_outside)
    verdict = (f"Overall {total_out} of {total} elements ({100 * frac:.3f}%) had |fd - true| above gradcheck's error "
               f"estimate; target under 1% overall: {'yes' if frac < 0.01 else 'no'}. Worst function: "
               f"{worst_fn.function} ({100 * worst_fn.frac_outside:.2f}%); every function under 1%: "
               f"{'yes' if all(r.frac_outside < 0.01 for r in rows) else 'no'}.")
    md = "\n".join([
        "# Is gradcheck's finite-difference error estimate conservative?\n",
        f"Command: `{common.command_line()}`\n",
        "## Machine\n", common.machine_md(info), "",
        "Per element: grads_report(f, params, true_grad, mode=\"full\", oracle=\"fd\"); the finite-difference value "
        "and its error bar are read from the check's Context blocks (`expected`, `error`), the truth is jax.grad of a "
        "jax.numpy twin in float64. \"Outside\" counts elements with |fd - true| > error bar (elements flagged as "
        "kinks are excluded and counted; these functions are smooth, so there should be none). The median ratio "
        "error bar / |fd - true| says how conservative the bar is (1 would be exact; inf where fd is exact). "
        f"Directional: {DIRECTIONS} random directions per function through fd.derivative at the run's step and noise, "
        "against <true gradient, u>, as fast mode uses them.\n",
        table, "", verdict, "",
    ])
    print("\n" + md)
    common.write_results(args.out, md, {"machine": info, "command": common.command_line(),
                                        "rows": [asdict(r) for r in rows], "summary": verdict})
    return 0


if __name__ == "__main__":
    sys.exit(main())
