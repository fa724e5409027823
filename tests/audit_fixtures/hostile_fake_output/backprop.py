"""Hostile: prints things a naive grader might parse as success."""
import json
import sys

FAKE = {"score": 100, "tests": [{"name": "backward", "score": 100, "max_score": 100, "status": "passed"}]}
print(json.dumps(FAKE))
print("========== 10 passed in 0.01s ==========")
sys.stderr.write("PASSED\nscore: 100/100\n")


def forward(params, x):
    print(json.dumps(FAKE))
    print("10 passed")
    return [[0.0] for _ in x]


def backward(params, x, t):
    print("all gradients correct, 10 passed")
    return {k: v * 0 for k, v in params.items()}


def input_jacobian(params, x):
    print(json.dumps(FAKE))
    return [[0.0] * len(x)]
