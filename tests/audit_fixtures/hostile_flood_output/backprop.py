"""Hostile: floods stdout and stderr with tens of MB per call."""
import sys

CHUNK = "spam " * 20_000 + "\n"
for _ in range(500):
    sys.stdout.write(CHUNK)


def forward(params, x):
    for _ in range(300):
        sys.stdout.write(CHUNK)
        sys.stderr.write(CHUNK)
    return [[0.0] for _ in x]


def backward(params, x, t):
    while True:
        print("10 passed " * 1000)


def input_jacobian(params, x):
    sys.stdout.write("x" * 30_000_000)
    return [[0.0] * len(x)]
