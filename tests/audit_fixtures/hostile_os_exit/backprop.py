"""Hostile: os._exit(0) inside every function, so no answer ever comes back."""
import os


def forward(params, x):
    os._exit(0)


def backward(params, x, t):
    os._exit(0)


def input_jacobian(params, x):
    os._exit(1)
