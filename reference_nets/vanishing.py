"""Vanishing gradients (Yoshida, "A note on backprop", section 6), measured on random deep nets.

∂E/∂w of the first layer carries a product of one φ'(v) per layer above it.  The logistic's
φ' is at most 1/4, so with the standard init (W ~ N(0, 1/n_in)) its gradients shrink
geometrically towards the input; relu's φ' is 0 or 1, so its gradients shrink far less.
Run ``python -m gradcheck vanishing --plot docs/vanishing.png`` to see it.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from ._activations import ACTIVATIONS
from ._matrix import backprop
from ._spec import NetSpec, init_params

PLOT_HINT = "install the plot extra: pip install 'gradcheck[plot]'"


def layer_gradient_norms(depth: int, width: int, activation: str, *, seed: int = 0, batch: int = 64):
    """Frobenius norms of ∂E/∂W_l for l = 1..depth (input side first).

    The net has ``depth`` weight layers of ``width`` units, ``activation`` everywhere, the
    standard init of ``init_params``, x ~ N(0, 1), and E = Σ y (Yoshida section 5.3,
    the target that adds nothing of its own to the comparison).
    """
    if depth < 1 or width < 1 or batch < 1:
        raise ValueError(f"depth, width and batch must be >= 1, got {depth}, {width}, {batch}")
    spec = NetSpec(sizes=(width,) * (depth + 1), activations=activation, bias=True, target="output")
    params = init_params(spec, seed=seed)
    x = np.random.default_rng([seed, 1]).normal(size=(batch, width))
    grads = backprop(spec, params, x).grads
    return np.array([np.linalg.norm(grads[f"W{l}"]) for l in range(1, depth + 1)])


def _activation_list(text: str) -> list:
    names = [a.strip() for a in text.split(",") if a.strip()]
    bad = [a for a in names if a not in ACTIVATIONS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"unknown activation(s) {bad}; allowed: {', '.join(ACTIVATIONS)}")
    return names


def _table(norms: dict) -> str:
    names = list(norms)
    depth = len(next(iter(norms.values())))
    lines = [f"{'layer':<10}" + "".join(f"{n:>12}" for n in names)]
    for l in range(depth):
        lines.append(f"{l + 1:<10}" + "".join(f"{norms[n][l]:>12.3e}" for n in names))
    lines.append(f"{'first/last':<10}" + "".join(f"{norms[n][0] / norms[n][-1]:>12.2e}" for n in names))
    return "\n".join(lines)


def _plot(norms: dict, path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6), dpi=100)
    for name, values in norms.items():
        ax.semilogy(np.arange(1, len(values) + 1), values, marker="o", markersize=3, label=name)
    ax.set_xlabel("layer (1 = next to the input)")
    ax.set_ylabel("‖∂E/∂W‖")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None) -> int:
    """``gradcheck vanishing``: print per-layer gradient norms, optionally plot them."""
    parser = argparse.ArgumentParser(prog="gradcheck vanishing",
                                     description="Per-layer weight-gradient norms of a random deep net "
                                                 "(Yoshida, \"A note on backprop\", section 6).")
    parser.add_argument("--depth", type=int, default=12, help="number of weight layers (default 12)")
    parser.add_argument("--width", type=int, default=32, help="units per layer (default 32)")
    parser.add_argument("--activations", type=_activation_list, default=["logistic", "tanh", "relu"],
                        help="comma-separated activations to compare (default logistic,tanh,relu)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--batch", type=int, default=64, help="samples per batch (default 64)")
    parser.add_argument("--plot", metavar="PATH", help="also write a PNG of norm vs layer (needs matplotlib)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.depth < 1 or args.width < 1 or args.batch < 1:
        parser.error("--depth, --width and --batch must be at least 1")

    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print(f"gradcheck vanishing: --plot needs matplotlib; {PLOT_HINT}", file=sys.stderr)
            return 1

    norms = {a: layer_gradient_norms(args.depth, args.width, a, seed=args.seed, batch=args.batch)
             for a in args.activations}
    print(f"‖∂E/∂W_l‖ for depth {args.depth}, width {args.width}, seed {args.seed}, E = Σ y, W ~ N(0, 1/n_in)")
    print(_table(norms))
    if args.plot:
        _plot(norms, args.plot, f"gradient norm by layer (depth {args.depth}, width {args.width})")
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
