"""Hostile: floods stdout and stderr with megabytes per call (far past the 16 KB kept)."""
import sys

CHUNK = "spam " * 20_000 + "\n"
for _ in range(20):
    sys.stdout.write(CHUNK)


def forward(params, x):
    for _ in range(20):
        sys.stdout.write(CHUNK)
        sys.stderr.write(CHUNK)
    return [[0.0] for _ in x]


def backward(params, x, t):
    for _ in range(2000):
        print("10 passed " * 1000)


def input_jacobian(params, x):
    sys.stdout.write("x" * 3_000_000)
    return [[0.0] * len(x)]
