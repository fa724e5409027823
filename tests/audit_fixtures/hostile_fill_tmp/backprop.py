"""Hostile: fills /tmp and /dev/shm with bytes, then with empty files, until refused (PROBE<...>PROBE).

Everything goes into one folder whose name the test chose (probe.json); the test removes it."""
import json
import os

cfg = json.load(open("probe.json"))


def _fill(folder):
    base = os.path.join(folder, cfg["name"])
    written = files = 0
    try:
        os.makedirs(base, exist_ok=True)
        with open(os.path.join(base, "big"), "wb") as f:
            chunk = b"x" * (1 << 20)
            while written < cfg["max_mb"] << 20:
                f.write(chunk)
                f.flush()
                written += len(chunk)
    except OSError:
        pass
    try:
        while files < cfg["max_files"]:
            open(os.path.join(base, f"f{files}"), "w").close()
            files += 1
    except OSError:
        pass
    return {"mb": written >> 20, "files": files}


REPORT = []  # fill once (the first call); later calls repeat the report


def forward(params, x):
    if not REPORT:
        REPORT.append(json.dumps({d: _fill(d) for d in ("/tmp", "/dev/shm")}))
    raise RuntimeError("PROBE<" + REPORT[0] + ">PROBE")


def backward(params, x, t):
    raise NotImplementedError


def input_jacobian(params, x):
    raise NotImplementedError
