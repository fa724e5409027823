"""Hostile: unbounded recursion."""
import sys


def forward(params, x):
    return forward(params, x)


def backward(params, x, t):
    sys.setrecursionlimit(10**6)
    return backward(params, x, t)


def input_jacobian(params, x):
    return input_jacobian(params, x)
