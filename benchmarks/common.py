"""Shared by the benchmarks: the MLPs with hand-written numpy backprop (and a jax.numpy twin),
the machine description and markdown tables.

Every tool in bench_peers.py checks the *same* numpy loss and the *same* hand-written
gradient, so the comparison is about the checkers, not about the code being checked.

Net: hidden layers with activation ``act`` (sigmoid, tanh or relu), a linear output
layer, loss E = 0.5/B * sum((y - T)**2) over a fixed batch (X, T) of B samples.
Parameters are a dict {"W1", "b1", ..., "WL", "bL"} with v_l = h_{l-1} @ W_l + b_l.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field

# BLAS and OpenMP pinned to one thread, before numpy is first imported (OpenBLAS reads this
# once, when it loads). On this shared 2-core machine multithreaded OpenBLAS made one
# 120k-parameter forward pass swing between 0.15 ms and 20 ms; one thread gives stable,
# comparable timings for every tool.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def single_threaded_blas() -> None:
    """Kept for the scripts: the pinning itself happens when this module is imported."""
    if "numpy" in sys.modules and os.environ.get("OPENBLAS_NUM_THREADS") != "1":
        raise RuntimeError("import benchmarks/common.py before numpy, or set OPENBLAS_NUM_THREADS=1")

# name -> layer sizes; the parameter counts are about 100, 11.5k, 120k and 1M
SIZES = {
    "100": [10, 8, 3],
    "11.5k": [10, 100, 100, 3],
    "120k": [100, 300, 300, 10],
    "1M": [784, 1000, 200, 10],
}


def n_params(sizes) -> int:
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def _act(name, v, xp):
    if name == "sigmoid":
        return 1.0 / (1.0 + xp.exp(-v))
    if name == "tanh":
        return xp.tanh(v)
    if name == "relu":
        return xp.maximum(v, 0)
    raise ValueError(name)


def _dact(name, v, h):
    """phi'(v), given v and h = phi(v); relu'(0) = 0 as every framework does."""
    if name == "sigmoid":
        return h * (1 - h)
    if name == "tanh":
        return 1 - h * h
    if name == "relu":
        return (v > 0).astype(v.dtype)
    raise ValueError(name)


@dataclass
class Net:
    sizes: list
    act: str = "sigmoid"
    batch: int = 16
    dtype: type = np.float64
    seed: int = 0
    X: np.ndarray = field(init=False)
    T: np.ndarray = field(init=False)

    def __post_init__(self):
        rng = np.random.default_rng(self.seed)
        self.X = rng.standard_normal((self.batch, self.sizes[0])).astype(self.dtype)
        self.T = rng.standard_normal((self.batch, self.sizes[-1])).astype(self.dtype)
        self._rng = rng

    @property
    def n_layers(self) -> int:
        return len(self.sizes) - 1

    @property
    def n_params(self) -> int:
        return n_params(self.sizes)

    def init_params(self) -> dict:
        """W ~ N(0, 1/fan_in), b ~ N(0, 0.1^2), in the net's dtype."""
        p = {}
        for l, (a, b) in enumerate(zip(self.sizes[:-1], self.sizes[1:]), start=1):
            p[f"W{l}"] = (self._rng.standard_normal((a, b)) / np.sqrt(a)).astype(self.dtype)
            p[f"b{l}"] = (0.1 * self._rng.standard_normal(b)).astype(self.dtype)
        return p

    def put_on_kink(self, params: dict, fraction: float = 0.5) -> dict:
        """Set b1 so that sample 0's first-layer pre-activation is exactly 0 for some hidden units.

        v = X @ W1 + b1 is then computed as a + (-a) = 0 exactly (same product, same BLAS call),
        so the loss has kinks along every direction that moves W1[:, j] or b1[j] for those j.
        """
        p = dict(params)
        a = (self.X @ p["W1"])[0]
        k = max(1, int(fraction * a.size))
        b1 = p["b1"].copy()
        b1[:k] = -a[:k]
        p["b1"] = b1
        v = self.X @ p["W1"] + p["b1"]
        assert np.all(v[0, :k] == 0), "the kink must be exact"
        return p

    # -- the numpy loss and its hand-written backprop --------------------------------
    def _forward(self, params):
        h = self.X
        vs, hs = [], [h]
        for l in range(1, self.n_layers + 1):
            W = np.asarray(params[f"W{l}"], dtype=self.dtype)
            b = np.asarray(params[f"b{l}"], dtype=self.dtype)
            v = h @ W + b
            h = _act(self.act, v, np) if l < self.n_layers else v
            vs.append(v)
            hs.append(h)
        return vs, hs

    def loss(self, params) -> float:
        """E(params): params may be float64 copies; the arithmetic is in the net's dtype."""
        y = self._forward(params)[1][-1]
        r = y - self.T
        return self.dtype(0.5 / self.batch) * np.sum(r * r, dtype=self.dtype)

    def grad(self, params) -> dict:
        """Hand-written backprop, in the net's dtype."""
        vs, hs = self._forward(params)
        d = (hs[-1] - self.T) / self.dtype(self.batch)        # dE/dv_L (linear output)
        g = {}
        for l in range(self.n_layers, 0, -1):
            g[f"W{l}"] = hs[l - 1].T @ d
            g[f"b{l}"] = d.sum(axis=0)
            if l > 1:
                W = np.asarray(params[f"W{l}"], dtype=self.dtype)
                d = (d @ W.T) * _dact(self.act, vs[l - 2], hs[l - 1])
        return {k: g[k] for k in sorted(g, key=_order)}

    # -- the jax.numpy twin (for true gradients by autodiff) ----------------------------
    def loss_jnp(self, params):
        import jax.numpy as jnp

        h = jnp.asarray(self.X)
        for l in range(1, self.n_layers + 1):
            v = h @ params[f"W{l}"] + params[f"b{l}"]
            h = _act(self.act, v, jnp) if l < self.n_layers else v
        r = h - jnp.asarray(self.T)
        return 0.5 / self.batch * jnp.sum(r * r)


def _order(key: str):
    return int(key[1:]), key[0] != "W"


def wrong_element(grads: dict, block: str = "W1", quantile: float = 0.1):
    """Index of a small-magnitude element of grads[block]: the one at the given quantile of |g|."""
    g = np.abs(grads[block]).ravel()
    nz = np.flatnonzero(g > 0)
    target = np.quantile(g[nz], quantile)
    flat = nz[np.argmin(np.abs(g[nz] - target))]
    return np.unravel_index(flat, grads[block].shape)


def with_error(grads: dict, block: str, index, factor: float = 1.01) -> dict:
    """A copy of grads with one element multiplied by factor (1.01: 1% off)."""
    out = {k: v.copy() for k, v in grads.items()}
    out[block][index] *= factor
    return out


# -- the machine and the tables ---------------------------------------------------------
def machine() -> dict:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "BLAS threads": _blas_threads(),
    }
    for mod in ("jax", "torch", "numdifftools"):
        try:
            info[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001
            info[mod] = "not installed"
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        git = lambda *a: subprocess.run(["git", *a], cwd=here, capture_output=True, text=True, check=True).stdout.strip()  # noqa: E731
        dirty = git("status", "--porcelain", "--", "../gradcheck")
        info["gradcheck commit"] = git("rev-parse", "--short", "HEAD") + (" (+ uncommitted changes in gradcheck/)" if dirty else "")
    except Exception:  # noqa: BLE001
        pass
    return info


def _blas_threads() -> str:
    try:
        from threadpoolctl import threadpool_info

        return ", ".join(f"{p['internal_api']} {p['num_threads']}" for p in threadpool_info()) or "unknown"
    except ImportError:
        return os.environ.get("OPENBLAS_NUM_THREADS", "default") + " (OPENBLAS_NUM_THREADS)"


def machine_md(info: dict) -> str:
    return "\n".join(f"- {k}: {v}" for k, v in info.items())


def md_table(header: list, rows: list) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def command_line() -> str:
    return "python " + " ".join([os.path.relpath(sys.argv[0])] + sys.argv[1:])


def write_results(stem: str, md: str, data: dict) -> None:
    """benchmarks/results/<stem>.md (the markdown) and <stem>.json (``data``; what json cannot write, as str)."""
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, stem + ".md"), "w") as fh:
        fh.write(md)
    with open(os.path.join(RESULTS, stem + ".json"), "w") as fh:
        json.dump(data, fh, indent=1, default=str)
