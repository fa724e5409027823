"""Hostile: tries to overwrite a neighbour's files and to plant a fake results.json.

It aims ONLY at the canaries the test listed in probe.json (all inside the test's own tmp_path)
and reports what it managed (PROBE<...>PROBE).  Nothing else is touched, whoever runs it."""
import json

FAKE = json.dumps({"score": 100, "tests": []})
PWN = "def forward(params, x):\n    raise SystemExit('pwned')\n"
try:
    cfg = json.load(open("probe.json"))
except OSError:  # run without the test's canaries: do nothing at all
    cfg = {"targets": []}
attempts = []
for path in cfg["targets"]:
    try:
        with open(path, "w") as f:
            f.write(FAKE if path.endswith(".json") else PWN)
        attempts.append(path)
    except OSError:
        pass


def forward(params, x):
    raise RuntimeError("PROBE<" + json.dumps({"wrote": attempts}) + ">PROBE")


def backward(params, x, t):
    raise RuntimeError("nothing here")


def input_jacobian(params, x):
    raise RuntimeError("nothing here")
