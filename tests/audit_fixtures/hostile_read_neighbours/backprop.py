"""Hostile: tries to read what belongs to others: a neighbour's folder and private copy, OUT, the
assignment file, the grader's environment and command line (through /proc).

Only the paths the test wrote into probe.json are looked at (all inside the test's tmp_path),
plus /proc; what it finds goes into the exception text (PROBE<...>PROBE).  Writes nothing.
"""
import glob
import json
import os


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read(4000).decode("utf-8", "replace")
    except OSError:
        return None


def _probe():
    cfg = json.load(open("probe.json"))
    found = {}
    for label, path in cfg["read"].items():
        text = _read(path)
        if text is not None:
            found[label] = text[:200]
    try:
        found["out_listing"] = os.listdir(cfg["out"])
    except OSError:
        pass
    copies = glob.glob(os.path.join(cfg["tmpdir"], "gradcheck-grader-*", "sandbox-*", "*", "backprop.py"))
    for p in copies:
        text = _read(p)
        if text and "hostile_read_neighbours" not in text:
            found["private_copy"] = text[:200]
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        env = _read(f"/proc/{pid}/environ")
        if env and cfg["secret"] in env:
            found["grader_environ"] = cfg["secret"]
        cmd = _read(f"/proc/{pid}/cmdline")
        if cmd and cfg["out"] in cmd.replace("\0", " "):
            found["grader_argv"] = cmd.replace("\0", " ")[:200]
    return found


REPORT = []  # probe once (the first call); later calls repeat the report


def forward(params, x):
    if not REPORT:
        REPORT.append(json.dumps(_probe()))
    raise RuntimeError("PROBE<" + REPORT[0] + ">PROBE")


def backward(params, x, t):
    raise NotImplementedError


def input_jacobian(params, x):
    raise NotImplementedError
