"""Hostile: forks children that outlive the call, including one that escapes into its own session."""
import os
import signal
import time

MARK = "gradcheck-fixture-fork-sleeper"


def _sleeper(escape):
    if escape:
        os.setsid()
        if os.fork():
            os._exit(0)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        time.sleep(1)


for i in range(3):
    if os.fork() == 0:
        _sleeper(escape=(i == 2))


def forward(params, x):
    if os.fork() == 0:
        _sleeper(escape=True)
    return [[0.5] * 1 for _ in x]


def backward(params, x, t):
    return {k: v * 0 for k, v in params.items()}


def input_jacobian(params, x):
    return None
