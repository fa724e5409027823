"""Hostile: a daemon that clears the subreaper flag, calls setsid and double-forks, to outlive the grader.

It only renames itself (the name comes from probe.json) and sleeps; the test looks for that
name in /proc after killing the grader.  forward() then waits long enough to be killed mid-call."""
import ctypes
import json
import os
import time

cfg = json.load(open("probe.json"))
PR_SET_NAME, PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 15, 1, 36

if os.fork() == 0:
    libc = ctypes.CDLL(None)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
    os.setsid()
    if os.fork() == 0:
        libc.prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0)
        libc.prctl(PR_SET_NAME, cfg["name"].encode(), 0, 0, 0)
        t_end = time.monotonic() + 60
        while time.monotonic() < t_end:
            time.sleep(0.1)
    os._exit(0)


def forward(params, x):
    time.sleep(30)


def backward(params, x, t):
    raise NotImplementedError


def input_jacobian(params, x):
    raise NotImplementedError
