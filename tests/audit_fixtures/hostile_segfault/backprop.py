"""Hostile: segfaults through ctypes."""
import ctypes


def forward(params, x):
    return ctypes.string_at(0)


def backward(params, x, t):
    ctypes.memset(0, 1, 1000)


def input_jacobian(params, x):
    import faulthandler
    faulthandler._sigsegv()
