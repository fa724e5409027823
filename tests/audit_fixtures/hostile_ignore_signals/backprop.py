"""Hostile: ignores SIGTERM, SIGALRM, SIGINT and SIGHUP, then sleeps in every call."""
import signal
import time

for s in (signal.SIGTERM, signal.SIGALRM, signal.SIGINT, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)


def forward(params, x):
    while True:
        time.sleep(0.05)


backward = forward
input_jacobian = forward
