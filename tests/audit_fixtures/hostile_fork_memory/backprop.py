"""Hostile: forks children that each fill most of --memory, to hold several times the limit at once.

Each child that got its memory reports one byte on a pipe; the total held at once goes into
the exception text (PROBE<...>PROBE), unless the whole tree is killed first.
"""
import json
import os
import time

cfg = json.load(open("probe.json"))


def _hog():
    r, w = os.pipe()
    kids = []
    for _ in range(cfg["forks"]):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            try:
                block = bytearray(cfg["each_mb"] << 20)
                for i in range(0, len(block), 4096):
                    block[i] = 1
                os.write(w, b"1")
                time.sleep(1.5)
            finally:
                os._exit(0)
        kids.append(pid)
    os.close(w)
    held = 0
    deadline = time.monotonic() + 1.5
    os.set_blocking(r, False)
    while time.monotonic() < deadline and held < len(kids):
        try:
            held += len(os.read(r, 100))
        except BlockingIOError:
            time.sleep(0.05)
    alive = 0  # children that got their memory and are still alive: held at the same time
    for pid in kids:
        try:
            alive += os.waitpid(pid, os.WNOHANG) == (0, 0)
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        except OSError:
            pass
    return {"forked": len(kids), "reported": held, "held_mb": min(held, alive) * cfg["each_mb"]}


REPORT = []  # probe once (the first call); later calls repeat the report


def forward(params, x):
    if not REPORT:
        REPORT.append(json.dumps(_hog()))
    raise RuntimeError("PROBE<" + REPORT[0] + ">PROBE")


def backward(params, x, t):
    raise NotImplementedError


def input_jacobian(params, x):
    raise NotImplementedError
