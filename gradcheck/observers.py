"""Callbacks told about every finished check.

The pytest plugin registers one to record checks made anywhere in a test,
through its fixture or by calling the library directly.
"""
from __future__ import annotations

_observers: list = []


def add_observer(callback) -> None:
    """callback(function_name, report) after every check_* / assert_* call."""
    if callback not in _observers:
        _observers.append(callback)


def remove_observer(callback) -> None:
    if callback in _observers:
        _observers.remove(callback)


def notify(function: str, report) -> None:
    for callback in list(_observers):
        callback(function, report)
