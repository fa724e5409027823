"""Hostile: ignores SIGTERM, SIGALRM, SIGINT and SIGHUP, then sleeps in forward() (one timeout is enough)."""
import signal
import time

for s in (signal.SIGTERM, signal.SIGALRM, signal.SIGINT, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)


def forward(params, x):
    while True:
        time.sleep(0.05)


def backward(params, x, t):
    raise NotImplementedError


def input_jacobian(params, x):
    raise NotImplementedError
