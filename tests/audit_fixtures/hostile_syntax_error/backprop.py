"""Hostile (or just unfinished): not valid Python."""


def forward(params, x)
    return x
