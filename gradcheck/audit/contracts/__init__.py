"""Built-in assignments, each a module that builds an ``Assignment`` with the public API.

The registry maps a name (``--assignment layers``) to a function returning the
Assignment.  ``register`` adds one in this process; an installed package adds one for the
command line with an entry point in the group ``gradcheck.audit_assignments``
(``my_course = "my_course.grading:build"``).
"""
from __future__ import annotations

import importlib

_BUILTINS = {"mlp": "mlp", "layers": "layers", "network": "network", "slides": "slides"}
_REGISTRY: dict = {}


def register(name: str, build) -> None:
    """Make ``build()`` (returning an Assignment) available as ``--assignment name``."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"a built-in assignment name must be an identifier, got {name!r}")
    _REGISTRY[name] = build


GROUP = "gradcheck.audit_assignments"


def _installed() -> dict:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=GROUP)}


def names() -> list:
    return sorted(set(_BUILTINS) | set(_REGISTRY) | set(_installed()))


def build(name: str):
    """The built-in Assignment called ``name``; KeyError when there is none."""
    if name in _REGISTRY:
        return _REGISTRY[name]()
    installed = _installed()
    if name not in _BUILTINS and name in installed:
        return installed[name].load()()
    if name not in _BUILTINS:
        raise KeyError(name)
    return importlib.import_module(f"{__name__}.{_BUILTINS[name]}").build()
