"""Not a submission: probes the sandbox from inside (used by tests/test_audit_sandbox.py)."""
import os
import sys
import time

import numpy as np

CALLS = [0]


def identity(*args):
    return args[0]


def whoami():
    return np.array([os.getuid(), os.geteuid(), os.getgid(), len(os.getgroups())], dtype=float)


def network():
    import socket
    try:
        socket.create_connection(("1.1.1.1", 53), timeout=1).close()
        return np.array(1.0)
    except OSError:
        return np.array(0.0)


def paths():
    here = os.path.dirname(os.path.abspath(__file__))
    return {"cwd_is_here": np.array(float(os.getcwd() == here)),
            "argv_has_folder": np.array(float(any("_sandbox_probe" in p for p in sys.path[1:])))}


def count():
    CALLS[0] += 1
    return np.array(float(CALLS[0]))


def fork_and_hang():
    for escape in (False, True):
        if os.fork() == 0:
            if escape:
                os.setsid()
                if os.fork():
                    os._exit(0)
            while True:
                time.sleep(1)
    with open(os.path.join(os.environ["TMPDIR"], "forked"), "w") as f:
        f.write("1")
    while True:
        time.sleep(1)


def chatter():
    sys.stdout.write("a" * 1_000_000)
    sys.stderr.write("b" * 10)
    return np.zeros(1)


def float32():
    return np.ones(3, dtype=np.float32)


def integers():
    return [1, 2, 3]


def cpu_burn():
    while True:
        pass


def nested_userns():
    """1.0 if this process could create a user namespace of its own (the sandbox refuses it)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    return np.array(float(libc.unshare(0x10000000) == 0))
