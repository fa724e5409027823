"""Hostile: looks for the message hostile_tmp_writer left in /tmp and /dev/shm (PROBE<...>PROBE)."""
import json
import os

cfg = json.load(open("probe.json"))
seen = {}
for folder in ("/tmp", "/dev/shm"):
    try:
        with open(os.path.join(folder, cfg["name"])) as f:
            seen[folder] = f.read(200)
    except OSError:
        pass


def forward(params, x):
    raise RuntimeError("PROBE<" + json.dumps({"seen": seen}) + ">PROBE")


def backward(params, x, t):
    raise NotImplementedError


def input_jacobian(params, x):
    raise NotImplementedError
