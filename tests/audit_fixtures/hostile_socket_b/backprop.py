"""Hostile, with hostile_socket_a: tries to reach the other submission's unix sockets (PROBE<...>PROBE)."""
import json
import socket
import time

cfg = json.load(open("probe.json"))


def _call():
    sent = []
    deadline = time.monotonic() + cfg["wait"]
    while time.monotonic() < deadline and not sent:
        for addr in (cfg["path"], "\0" + cfg["name"]):
            try:
                c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                c.connect(addr)
                c.sendall(cfg["secret"].encode())
                sent.append(repr(addr[:1]))
            except OSError:
                pass
        time.sleep(0.05)
    return {"sent": sent}


REPORT = []  # probe once (the first call); later calls repeat the report


def forward(params, x):
    if not REPORT:
        REPORT.append(json.dumps(_call()))
    raise RuntimeError("PROBE<" + REPORT[0] + ">PROBE")


def backward(params, x, t):
    raise NotImplementedError


def input_jacobian(params, x):
    raise NotImplementedError
