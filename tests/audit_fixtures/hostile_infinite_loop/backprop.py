"""Hostile: backward() never returns."""


def forward(params, x):
    raise NotImplementedError("todo")


def backward(params, x, t):
    while True:
        pass


def input_jacobian(params, x):
    raise NotImplementedError
