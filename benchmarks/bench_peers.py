#!/usr/bin/env python
"""gradcheck against its peers on hand-written MLP backprop.

    python benchmarks/bench_peers.py [--quick] [--sizes 100 11.5k 120k 1M]

Every tool checks the same numpy loss and the same hand-written numpy gradient
(benchmarks/common.py). For each network size and tool: wall time (median of a few
repeats when a run is cheap), evaluations of f and calls of the gradient (counted by
wrapping both), peak memory, and the verdict on four cases:

  (a) the correct float64 gradient                  -> should pass
  (b) one small-magnitude W1 element 1% off         -> should fail
  (c) a correct float32 gradient (float32 params and arithmetic) -> should pass
  (d) a ReLU net on a kink, hand-written relu'(0)=0 -> should pass (a valid subgradient)

Writes benchmarks/results/peers.md and peers.json (or --out NAME.md/.json).
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

common.single_threaded_blas()

import argparse  # noqa: E402
import json  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import tracemalloc  # noqa: E402
import warnings  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402

import numpy as np  # noqa: E402

from common import SIZES, Net, wrong_element, with_error  # noqa: E402

SKIP_SECONDS = 60.0     # skip a peer whose estimated run time is above this
ABORT_SECONDS = 180.0   # stop a run whose estimate was too optimistic
CHEAP_SECONDS = 2.0     # runs faster than this are repeated (median of REPEATS)
REPEATS = 3
MEMORY_MAX_SECONDS = 10.0  # memory is measured in a separate run, only when it is at most this long

CASES = {
    "a": "correct float64 gradient",
    "b": "one W1 element 1% off",
    "c": "correct float32 gradient",
    "d": "ReLU on a kink, relu'(0)=0",
}
SHOULD_PASS = {"a": True, "b": False, "c": True, "d": True}


# -- the four cases -----------------------------------------------------------------------
@dataclass
class Case:
    key: str
    net: Net
    params: dict
    grad: object          # grad(params) -> dict: the hand-written gradient under test
    note: str = ""


def make_case(key: str, sizes) -> Case:
    if key in ("a", "b"):
        net = Net(sizes, "sigmoid")
        params = net.init_params()
        if key == "a":
            return Case(key, net, params, net.grad)
        idx = wrong_element(net.grad(params))
        g0 = net.grad(params)["W1"][idx]
        return Case(key, net, params, lambda p: with_error(net.grad(p), "W1", idx),
                    note=f"W1{list(map(int, idx))} = {g0:.3g} (10th percentile of |dW1|) times 1.01")
    if key == "c":
        net = Net(sizes, "sigmoid", dtype=np.float32)
        return Case(key, net, net.init_params(), net.grad)
    if key == "d":
        net = Net(sizes, "relu")
        params = net.put_on_kink(net.init_params())
        return Case(key, net, params, net.grad, note="b1 set so that half of sample 0's first-layer pre-activations are exactly 0")
    raise ValueError(key)


# -- counting and budgets ------------------------------------------------------------------
class OverBudget(Exception):
    pass


class Counted:
    """fn with a call counter; raises OverBudget once the run has taken longer than `budget` seconds."""

    def __init__(self, fn, budget=None):
        self.fn, self.calls, self.budget = fn, 0, budget
        self.start = time.perf_counter()

    def __call__(self, *args):
        out = self.fn(*args)
        self.calls += 1
        if self.budget is not None and time.perf_counter() - self.start > self.budget:
            raise OverBudget
        return out


# -- the tools -------------------------------------------------------------------------------
def _flat(tree, names):
    return np.concatenate([np.asarray(tree[n], dtype=np.float64).ravel() for n in names])


def _unflat(x, params, names):
    out, k = {}, 0
    for n in names:
        size = params[n].size
        out[n] = x[k:k + size].reshape(params[n].shape)
        k += size
    return out


def tool_gradcheck(mode):
    def run(params, f, grad):
        import gradcheck

        return gradcheck.grads_report(f, params, grad, mode=mode).passed
    return run


def tool_torch(fast_mode, dropin=False):
    """torch.autograd.gradcheck on a custom autograd.Function wrapping f and the gradient (or the drop-in on it)."""
    def run(params, f, grad):
        import torch

        if dropin:
            from gradcheck.compat.torch import gradcheck as check
        else:
            import sys as _sys

            import torch.autograd.gradcheck  # noqa: F401
            check = _sys.modules["torch.autograd.gradcheck"].gradcheck

        torch.manual_seed(0)
        names = list(params)

        class HandWritten(torch.autograd.Function):
            @staticmethod
            def forward(ctx, *tensors):
                p = {n: t.detach().numpy().copy() for n, t in zip(names, tensors)}
                ctx.p = p
                return torch.tensor(float(f(p)), dtype=tensors[0].dtype)

            @staticmethod
            def backward(ctx, gout):
                g = grad(ctx.p)
                return tuple(gout * torch.from_numpy(np.ascontiguousarray(g[n])) for n in names)

        inputs = tuple(torch.tensor(params[n], requires_grad=True) for n in names)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about float32 inputs (case c)
            return bool(check(HandWritten.apply, inputs, fast_mode=fast_mode, raise_exception=False))
    return run


def tool_jax(dropin=False):
    """jax.test_util.check_grads on a custom_vjp calling the numpy code (or the drop-in on it)."""
    def run(params, f, grad):
        return _run_jax(params, f, grad, dropin)
    return run


def _run_jax(params, f, grad, dropin):
    import jax
    import jax.numpy as jnp

    if dropin:
        from gradcheck.compat.jax import check_grads
    else:
        from jax.test_util import check_grads

    names = list(params)
    dtype = params[names[0]].dtype
    shapes = tuple(jax.ShapeDtypeStruct(params[n].shape, dtype) for n in names)

    def f_np(*arrays):
        return np.asarray(f(dict(zip(names, map(np.asarray, arrays)))), dtype=dtype)

    def grad_np(*arrays):
        g = grad(dict(zip(names, map(np.asarray, arrays))))
        return tuple(np.asarray(g[n], dtype=dtype) for n in names)

    @jax.custom_vjp
    def loss(*arrays):
        return jax.pure_callback(f_np, jax.ShapeDtypeStruct((), dtype), *arrays)

    def fwd(*arrays):
        return loss(*arrays), arrays

    def bwd(res, ct):
        return tuple(ct * g for g in jax.pure_callback(grad_np, shapes, *res))

    loss.defvjp(fwd, bwd)
    # x64 globally for the float64 cases: the jax.enable_x64 context is thread-local, and
    # pure_callback results are converted on another thread (float64 -> float32 there
    # made about one run in ten fail with "Incorrect output dtype").
    was = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", dtype == np.float64)
    try:
        args = tuple(jnp.asarray(params[n]) for n in names)
        check_grads(loss, args, order=1, modes=["rev"])
        return True
    except AssertionError:
        return False
    finally:
        jax.config.update("jax_enable_x64", was)


def tool_classic(params, f, grad, h=1e-5, threshold=1e-7):
    """The CS231n-style loop: central differences one coordinate at a time, relative error per element."""
    analytic = grad(params)
    x = {k: v.copy() for k, v in params.items()}
    worst = 0.0
    for name, arr in x.items():
        for ix in np.ndindex(arr.shape):
            old = arr[ix]
            arr[ix] = old + h
            fp = float(f(x))
            arr[ix] = old - h
            fm = float(f(x))
            arr[ix] = old
            num = (fp - fm) / (2 * h)
            a = float(analytic[name][ix])
            den = max(abs(a), abs(num))
            worst = max(worst, abs(a - num) / den if den > 0 else 0.0)
    return worst < threshold


def tool_numdifftools(params, f, grad):
    """nd.Gradient (central differences, Richardson extrapolation, adaptive steps), np.allclose defaults."""
    import numdifftools as nd

    names = list(params)
    numeric = nd.Gradient(lambda x: float(f(_unflat(x, params, names))))(_flat(params, names))
    return bool(np.allclose(_flat(grad(params), names), numeric))


@dataclass
class Tool:
    name: str
    run: object
    evals: object            # evals(n) -> rough number of f evaluations, for the skip estimate
    copies: float = 1.0      # full copies of the parameters per evaluation (estimate)
    scales: bool = True      # evaluations grow with n: re-estimate them from the smaller sizes
    dropin: bool = False     # gradcheck.compat: gradcheck's verdicts behind a peer's signature


TOOLS = [
    Tool("gradcheck (default)", tool_gradcheck(None), lambda n: 30, 3, scales=False),
    Tool("gradcheck mode=\"full\"", tool_gradcheck("full"), lambda n: 4 * n + 30, 3),
    Tool("torch.autograd.gradcheck", tool_torch(False), lambda n: 2 * n + 2, 1),
    # fast_mode re-runs the slow mode when it fails, so its cost is re-measured per case too
    Tool("torch gradcheck fast_mode=True", tool_torch(True), lambda n: 14, 1),
    Tool("gradcheck.compat.torch.gradcheck", tool_torch(False, dropin=True), lambda n: 60, 3, scales=False,
         dropin=True),
    Tool("jax.test_util.check_grads", tool_jax(), lambda n: 4, 1),
    Tool("gradcheck.compat.jax.check_grads", tool_jax(dropin=True), lambda n: 60, 3, scales=False, dropin=True),
    Tool("classic loop (h=1e-5, rel<1e-7)", tool_classic, lambda n: 2 * n, 0),
    Tool("numdifftools nd.Gradient", tool_numdifftools, lambda n: 30 * n, 1),
]


# -- measuring ------------------------------------------------------------------------------
@dataclass
class Result:
    tool: str
    size: str
    n_params: int
    case: str
    verdict: str = ""
    passed: bool | None = None
    time: float | None = None
    times: list = field(default_factory=list)
    f_evals: int | None = None
    grad_calls: int | None = None
    tracemalloc_peak_mib: float | None = None
    rss_peak_delta_mib: float | None = None
    estimate_s: float | None = None
    note: str = ""


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class RssPeak:
    """Peak resident memory above the level at entry, sampled every millisecond by a thread."""

    def __enter__(self):
        self.base = self.peak = _rss_bytes()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._watch, daemon=True)
        self._t.start()
        return self

    def _watch(self):
        while not self._stop.wait(0.001):
            self.peak = max(self.peak, _rss_bytes())

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, _rss_bytes())
        self.delta = self.peak - self.base


def _f_cost(case: Case) -> tuple[float, float]:
    """(seconds per evaluation of f, seconds per copy of all parameters)."""
    ts = []
    for _ in range(7):  # the minimum: a busy neighbour must not make a cheap tool look expensive
        t = time.perf_counter()
        case.net.loss(case.params)
        ts.append(time.perf_counter() - t)
    flat = np.concatenate([v.ravel() for v in case.params.values()]).astype(np.float64)
    t = time.perf_counter()
    for _ in range(3):
        flat.copy()
    return float(np.min(ts)), (time.perf_counter() - t) / 3


class Estimator:
    """Run-time estimates: evaluations needed (per parameter, as measured on the smaller sizes)
    times f's cost plus the tool's own overhead per evaluation (also measured)."""

    def __init__(self):
        self.evals_per_param = {}   # (tool, case) -> f evals / n
        self.overhead = {}          # tool -> seconds per evaluation on top of f

    def estimate(self, tool: Tool, case: Case) -> float:
        n = case.net.n_params
        ratio = self.evals_per_param.get((tool.name, case.key))
        need = ratio * n if (tool.scales and ratio is not None) else tool.evals(n)
        t_f, t_copy = _f_cost(case)
        self._t_f = t_f
        return need * (t_f + tool.copies * t_copy + self.overhead.get(tool.name, 0.0))

    def learn(self, tool: Tool, case: Case, evals: int, seconds: float) -> None:
        self.evals_per_param[(tool.name, case.key)] = evals / case.net.n_params
        if evals > 1000:
            self.overhead[tool.name] = max(0.0, seconds / evals - self._t_f)


def measure(tool: Tool, case: Case, size: str, repeats: int, skip_seconds: float, estimator: Estimator) -> Result:
    res = Result(tool.name, size, case.net.n_params, case.key, note=case.note)
    est = estimator.estimate(tool, case)
    res.estimate_s = est
    if est > skip_seconds:
        res.verdict = f"skipped (est. {est:.0f} s)"
        return res
    times = []
    for rep in range(repeats):
        f = Counted(case.net.loss, budget=ABORT_SECONDS)
        g = Counted(case.grad)
        t = time.perf_counter()
        try:
            passed = tool.run(case.params, f, g)
        except OverBudget:
            res.verdict = f"aborted after {ABORT_SECONDS:.0f} s (est. was {est:.0f} s)"
            return res
        except Exception as exc:  # noqa: BLE001 - a peer that crashes is a result too
            res.verdict = f"error ({type(exc).__name__}, run {rep + 1})"
            res.note = "".join(traceback.format_exception(exc))[-3000:]
            return res
        times.append(time.perf_counter() - t)
        if rep == 0:
            res.passed, res.f_evals, res.grad_calls = passed, f.calls, g.calls
            estimator.learn(tool, case, f.calls, times[0])
        if times[0] > CHEAP_SECONDS:
            break
    res.times = times
    res.time = float(np.median(times))
    right = res.passed == SHOULD_PASS[case.key]
    res.verdict = "right" if right else ("WRONG (false fail)" if SHOULD_PASS[case.key] else "WRONG (miss)")
    return res


def measure_memory(tool: Tool, case: Case, res: Result) -> None:
    """tracemalloc peak (Python and numpy allocations; not torch's or XLA's own buffers) and sampled RSS."""
    if res.time is None or res.time > MEMORY_MAX_SECONDS:
        return
    f, g = Counted(case.net.loss), Counted(case.grad)
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        with RssPeak() as rss:
            tool.run(case.params, f, g)
        res.tracemalloc_peak_mib = tracemalloc.get_traced_memory()[1] / 2**20
        res.rss_peak_delta_mib = rss.delta / 2**20
    finally:
        tracemalloc.stop()


def gradcheck_overhead_memory(sizes) -> tuple[float, float]:
    """(tracemalloc peak of grads_report with a precomputed gradient, the parameters' bytes), in bytes."""
    import gradcheck

    net = Net(sizes, "sigmoid")
    params = net.init_params()
    grads = net.grad(params)
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        gradcheck.grads_report(net.loss, params, grads)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, sum(v.nbytes for v in params.values())


# -- the report ------------------------------------------------------------------------------
def _fmt_time(t):
    if t is None:
        return "-"
    return f"{t * 1e3:.1f} ms" if t < 1 else f"{t:.2f} s"


def _fmt_mib(x):
    return "-" if x is None else f"{x:.1f}"


def size_table(results: list, size: str) -> str:
    header = ["tool", "time (a)", "f evals (a)", "grad calls (a)", "tracemalloc peak MiB (a)", "RSS peak delta MiB (a)"]
    header += [f"({k}) {v}" for k, v in CASES.items()]
    rows = []
    for tool in TOOLS:
        rs = {r.case: r for r in results if r.tool == tool.name and r.size == size}
        if not rs:
            continue
        a = rs.get("a")
        row = [tool.name, _fmt_time(a.time), a.f_evals if a.f_evals is not None else "-",
               a.grad_calls if a.grad_calls is not None else "-", _fmt_mib(a.tracemalloc_peak_mib),
               _fmt_mib(a.rss_peak_delta_mib)]
        for k in CASES:
            r = rs.get(k)
            if r is None:
                row.append("-")
            elif r.time is None:
                row.append(r.verdict)
            else:
                row.append(f"{r.verdict} ({_fmt_time(r.time)}, {r.f_evals} ev)")
        rows.append(row)
    return common.md_table(header, rows)


def summary(results: list, mem: dict) -> list[str]:
    """The headline facts, measured: speed against torch, verdicts, cost of a pass, memory."""
    lines = []
    by = {(r.tool, r.size, r.case): r for r in results}
    gc, tf = TOOLS[0].name, TOOLS[2].name
    if any(r.size == "11.5k" for r in results):
        g, t = by.get((gc, "11.5k", "a")), by.get((tf, "11.5k", "a"))
        if g and t and g.time and t.time:
            lines.append(f"- ~11.5k params, case (a): {gc} {_fmt_time(g.time)}, {tf} {_fmt_time(t.time)} "
                         f"({t.time / g.time:.0f}x)")
        verdicts = [f"({k}) {by[(gc, '11.5k', k)].verdict}" for k in CASES if (gc, "11.5k", k) in by]
        if verdicts:
            lines.append(f"- ~11.5k params, {gc} verdicts: {', '.join(verdicts)}")
        peers = []
        for tool in [t for t in TOOLS[2:] if not t.dropin]:
            vs = [(k, by[(tool.name, "11.5k", k)].verdict) for k in CASES if (tool.name, "11.5k", k) in by]
            wrong = [k for k, v in vs if v.startswith("WRONG")]
            measured = [k for k, v in vs if v == "right" or v.startswith("WRONG")]
            if measured:
                peers.append(f"{tool.name}: {'wrong on ' + ','.join(wrong) if wrong else 'right on'} "
                             f"{'' if wrong else ','.join(measured)}".strip())
        if peers:
            lines.append("- ~11.5k params, the peers: " + "; ".join(peers))
        for tool in [t for t in TOOLS if t.dropin]:
            vs = [f"({k}) {by[(tool.name, '11.5k', k)].verdict}" for k in CASES if (tool.name, "11.5k", k) in by]
            if vs:
                lines.append(f"- ~11.5k params, drop-in {tool.name} (the original's call, gradcheck's verdicts): "
                             + ", ".join(vs))
    for keys, what in ((("a", "c"), "smooth f, (a) and (c)"), (("d",), "at a kink, (d)")):
        passes = [(r.size, r.case, r.f_evals, r.grad_calls) for r in results
                  if r.tool == gc and r.case in keys and r.passed]
        if passes:
            lines.append(f"- cost of a pass of {gc}, {what}: "
                         + ", ".join(f"{s} ({k}): {e} evals + {c} grad" for s, k, e, c in passes))
    timed = [by.get((gc, "1M", k)) for k in CASES]
    timed = [r for r in timed if r and r.passed and r.time is not None]
    if timed:
        lines.append("- 1M params, passes of " + gc + ": " + "; ".join(f"({r.case}) {_fmt_time(r.time)}" for r in timed))
    if "1M" in mem:
        peak, nbytes = mem["1M"]
        lines.append(f"- 1M params, tracemalloc peak of grads_report with a precomputed gradient: "
                     f"{peak / 2**20:.1f} MiB = {peak / nbytes:.1f}x the {nbytes / 2**20:.1f} MiB of parameters")
    return lines


def render(info: dict, command: str, results: list, mem: dict, sizes: list, repeats: int, skip: float) -> tuple[str, list]:
    """The markdown report and the summary lines."""
    md = ["# gradcheck vs peers on hand-written MLP backprop\n",
          f"Command: `{command}`\n", "## Machine\n", common.machine_md(info), ""]
    md.append(
        "Every tool checks the same numpy loss and hand-written numpy backprop (benchmarks/common.py): sigmoid MLP, "
        "linear output, squared error averaged over a batch of 16. Times are wall-clock medians of "
        f"{repeats} runs for runs under {CHEAP_SECONDS:.0f} s (one run otherwise), single-threaded BLAS; "
        "the machine is shared, so treat them as +-30%. f evals and grad calls are counted by wrapping f and the "
        "gradient; every tool gets the gradient as a function, so its call is inside the time. Memory is measured "
        "in a separate run of case (a) when that run is under "
        f"{MEMORY_MAX_SECONDS:.0f} s: tracemalloc peak counts Python and numpy "
        "allocations only (not torch's or XLA's own buffers); RSS peak delta is resident memory sampled every ms "
        "above its level at the start of the call (memory freed earlier and reused does not show). "
        f"A peer is skipped when f's cost times the evaluations it needs (both measured on the smaller sizes) "
        f"exceeds {skip:.0f} s. "
        "Verdicts: (a), (c), (d) should pass, (b) should fail; a cell shows the verdict, time and f evaluations.\n")
    md.append("Peers: torch.autograd.gradcheck wraps f and the gradient in a torch.autograd.Function (default eps, "
              "atol=1e-5, rtol=1e-3); jax.test_util.check_grads(order=1, modes=['rev']) runs a jax.custom_vjp whose "
              "forward and backward call the numpy code through jax.pure_callback; the classic loop is the CS231n "
              "one (h=1e-5 central differences, fail if any |a-n|/max(|a|,|n|) >= 1e-7); numdifftools is "
              "nd.Gradient with its defaults, compared with np.allclose defaults (rtol=1e-5, atol=1e-8). "
              "The drop-ins (gradcheck.compat.torch.gradcheck, gradcheck.compat.jax.check_grads) are called exactly "
              "like the original in the row above them, on the same wrapped function: their verdicts are "
              "gradcheck's. For the torch rows, case (b) is a custom autograd.Function with a 1% error in one "
              "element of its backward.\n")
    for size in sizes:
        cases_note = [r.note for r in results if r.size == size and r.case == "b"][:1]
        md.append(f"## {size} parameters: layers {SIZES[size]} ({Net(SIZES[size]).n_params} parameters)\n")
        if cases_note:
            md.append(f"Case (b): {cases_note[0]}.\n")
        md.append(size_table(results, size) + "\n")
    tl = summary(results, mem)
    md.append("## Summary\n")
    md.append("\n".join(tl) + "\n")
    return "\n".join(md), tl


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="sizes 100 and 11.5k, one run each, 20 s skip limit")
    ap.add_argument("--sizes", nargs="+", choices=list(SIZES), help="network sizes (default: all)")
    ap.add_argument("--out", help="results file stem in benchmarks/results (default: peers, or peers-quick with --quick)")
    ap.add_argument("--render", metavar="JSON", help="only re-render the markdown from a results JSON file")
    ap.add_argument("--tools", nargs="+", metavar="TEXT",
                    help="run only the tools whose name contains one of these (e.g. torch jax); default: all")
    args = ap.parse_args(argv)
    if args.render:
        with open(args.render) as fh:
            data = json.load(fh)
        results = [Result(**r) for r in data["results"]]
        mem = {k: (v["peak_bytes"], v["param_bytes"]) for k, v in data["gradcheck_overhead_memory"].items()}
        sizes = [s for s in SIZES if any(r.size == s for r in results)]
        text, tl = render(data["machine"], data["command"], results, mem, sizes, data.get("repeats", REPEATS),
                          data.get("skip_seconds", SKIP_SECONDS))
        data.pop("targets", None)
        data["summary"] = tl
        common.write_results(args.out or "peers", text, data)
        print(text)
        return 0
    sizes = args.sizes or (["100", "11.5k"] if args.quick else list(SIZES))
    repeats = 1 if args.quick else REPEATS
    skip = 20.0 if args.quick else SKIP_SECONDS

    import jax  # noqa: F401 - import everything before timing anything
    import numdifftools  # noqa: F401
    import torch

    torch.set_num_threads(1)
    info = common.machine()
    print(common.machine_md(info), flush=True)
    results, mem, estimator = [], {}, Estimator()
    for size in sizes:
        cases = {k: make_case(k, SIZES[size]) for k in CASES}
        n = cases["a"].net.n_params
        print(f"\n## {size}: layers {SIZES[size]}, {n} parameters, batch {cases['a'].net.batch}", flush=True)
        for tool in TOOLS:
            if args.tools and not any(t in tool.name for t in args.tools):
                continue
            for k, case in cases.items():
                r = measure(tool, case, size, repeats, skip, estimator)
                if k == "a":
                    measure_memory(tool, case, r)
                results.append(r)
                print(f"  {tool.name:34s} ({k}) {r.verdict:28s} {_fmt_time(r.time):>10s}  evals={r.f_evals}", flush=True)
        if size == "1M" or "1M" not in sizes and size == sizes[-1]:
            mem[size] = gradcheck_overhead_memory(SIZES[size])
    command = common.command_line()
    text, tl = render(info, command, results, mem, sizes, repeats, skip)
    print("\n" + text)
    common.write_results(args.out or ("peers-quick" if args.quick else "peers"), text, {
        "machine": info, "command": command, "repeats": repeats, "skip_seconds": skip,
        "results": [asdict(r) for r in results],
        "gradcheck_overhead_memory": {k: {"peak_bytes": v[0], "param_bytes": v[1]} for k, v in mem.items()},
        "summary": tl})
    return 0


if __name__ == "__main__":
    sys.exit(main())
