"""Hostile: tries to import the grader's reference (reference_nets, gradcheck) by four routes.

Reports which routes worked in the exception text (PROBE<...>PROBE); touches nothing.
"""
import json
import sys

worked = []
for name in ("reference_nets", "gradcheck"):
    try:
        eval(f"__import__({name!r})")
        worked.append(f"eval:{name}")
    except Exception:  # noqa: BLE001
        pass
    try:
        exec(compile(f"import {name}", "/usr/lib/x.py", "exec"), {})
        worked.append(f"exec:{name}")
    except Exception:  # noqa: BLE001
        pass
    try:
        import pkgutil

        pkgutil.resolve_name(name)
        worked.append(f"resolve_name:{name}")
    except Exception:  # noqa: BLE001
        pass
    saved = list(sys.meta_path)
    try:
        sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "ImportGuard"]
        __import__(name)
        worked.append(f"meta_path:{name}")
    except Exception:  # noqa: BLE001
        pass
    finally:
        sys.meta_path[:] = saved


def forward(params, x):
    raise RuntimeError("PROBE<" + json.dumps({"imported": worked}) + ">PROBE")


def backward(params, x, t):
    raise NotImplementedError


def input_jacobian(params, x):
    raise NotImplementedError
