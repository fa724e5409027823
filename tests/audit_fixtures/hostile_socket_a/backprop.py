"""Hostile, with hostile_socket_b: two submissions graded at the same time try to talk through a unix
socket at a file path (inside the test's tmp_path) and an abstract one (name from probe.json)."""
import json
import socket
import time

cfg = json.load(open("probe.json"))


def _serve():
    got = []
    servers = []
    for addr in (cfg["path"], "\0" + cfg["name"]):
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(addr)
            s.listen(1)
            s.settimeout(0.1)
            servers.append(s)
        except OSError:
            pass
    deadline = time.monotonic() + cfg["wait"]
    while time.monotonic() < deadline and servers:
        for s in servers:
            try:
                c, _ = s.accept()
                got.append(c.recv(100).decode())
            except OSError:
                pass
    return {"listening": len(servers), "heard": got}


REPORT = []  # probe once (the first call); later calls repeat the report


def forward(params, x):
    if not REPORT:
        REPORT.append(json.dumps(_serve()))
    raise RuntimeError("PROBE<" + REPORT[0] + ">PROBE")


def backward(params, x, t):
    raise NotImplementedError


def input_jacobian(params, x):
    raise NotImplementedError
