"""Looking at a submission folder from the grader's side: where the module is, what is there.

Only names are read here (never file contents), bounded in count and depth, because
the folder is the student's.
"""
from __future__ import annotations

import os

_SKIP = {"__pycache__", ".git", ".ipynb_checkpoints", "__MACOSX"}


def _walk(folder: str, max_depth: int = 6, max_entries: int = 5000):
    seen = 0
    for root, dirs, files in os.walk(folder, followlinks=False):
        depth = os.path.relpath(root, folder).count(os.sep) + (os.path.relpath(root, folder) != ".")
        dirs[:] = sorted(d for d in dirs if d not in _SKIP and not d.startswith(".")) if depth < max_depth else []
        for f in sorted(files):
            seen += 1
            if seen > max_entries:
                return
            yield os.path.relpath(os.path.join(root, f), folder)


def find_module(folder: str, module: str) -> tuple:
    """(dotted module, root) for the shallowest ``<last part of module>.py`` in folder.

    A file inside packages (folders with __init__.py) is imported as ``pkg.name`` with the
    folder above the top package as root, so the package's relative and absolute imports
    of its siblings work; otherwise its own folder is the root.  Not found: (module, "").
    """
    base = module.rsplit(".", 1)[-1] + ".py"
    hits = [p for p in _walk(folder) if os.path.basename(p) == base]
    if not hits:
        return module, ""
    rel = min(hits, key=lambda p: (p.count(os.sep), p))
    parts = rel[:-3].split(os.sep)
    # climb while the folder is a package
    top = len(parts) - 1
    while top > 0 and os.path.isfile(os.path.join(folder, *parts[:top], "__init__.py")):
        top -= 1
    if not all(p.isidentifier() for p in parts[top:]):
        return module, ""
    return ".".join(parts[top:]), os.path.join(*parts[:top]) if top else ""


def listing(folder: str, limit: int = 15) -> str:
    """What the submission contains, for "there is no layers.py" messages."""
    names = list(_walk(folder, max_entries=limit + 1))
    if not names:
        return "The submission folder is empty."
    shown = ", ".join(n.replace(os.sep, "/") for n in names[:limit])
    more = " and more" if len(names) > limit else ""
    return f"The submission contains: {shown}{more}."
