"""Hostile: leaves a message in /tmp and /dev/shm for the next submission (file names from probe.json,
chosen by the test, which removes them).  Reports what it wrote (PROBE<...>PROBE)."""
import json
import os

cfg = json.load(open("probe.json"))
wrote = []
for folder in ("/tmp", "/dev/shm"):
    try:
        with open(os.path.join(folder, cfg["name"]), "w") as f:
            f.write(cfg["secret"])
        wrote.append(folder)
    except OSError:
        pass


def forward(params, x):
    raise RuntimeError("PROBE<" + json.dumps({"wrote": wrote}) + ">PROBE")


def backward(params, x, t):
    raise NotImplementedError


def input_jacobian(params, x):
    raise NotImplementedError
