"""Looking at a submission folder from the grader's side: where the module is, what is there.

Only names are read here (never file contents), bounded in count and depth, because
the folder is the student's.
"""
from __future__ import annotations

import os

_SKIP = {"__pycache__", ".git", ".ipynb_checkpoints", "__MACOSX"}


def _walk(folder: str, max_depth: int = 6, max_entries: int = 2000):
    """Relative paths of files, shallowest first, reading at most ``max_entries`` directory entries
    in all (a submission may hold 60,000 files or a 3,000-deep chain of folders)."""
    seen = 0
    level = [""]
    for _ in range(max_depth + 1):
        below = []
        for rel in level:
            try:
                it = os.scandir(os.path.join(folder, rel) if rel else folder)
            except OSError:
                continue
            with it:
                entries = []
                for e in it:
                    seen += 1
                    if seen > max_entries:
                        break
                    entries.append(e)
            for e in sorted(entries, key=lambda e: e.name):
                path = os.path.join(rel, e.name) if rel else e.name
                try:
                    if e.is_dir(follow_symlinks=False):
                        if e.name not in _SKIP and not e.name.startswith("."):
                            below.append(path)
                    elif e.is_file(follow_symlinks=False):
                        yield path
                except OSError:
                    continue
            if seen > max_entries:
                return
        level = below
        if not level:
            return


def find_module(folder: str, module: str) -> tuple:
    """(dotted module, root) for the shallowest ``<last part of module>.py`` in folder.

    A file inside packages (folders with __init__.py) is imported as ``pkg.name`` with the
    folder above the top package as root, so the package's relative and absolute imports
    of its siblings work; otherwise its own folder is the root.  Not found: (module, "").
    """
    base = module.rsplit(".", 1)[-1] + ".py"
    rel = next((p for p in _walk(folder) if os.path.basename(p) == base), None)   # the shallowest
    if rel is None:
        return module, ""
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
    names = []
    for name in _walk(folder):
        names.append(name)
        if len(names) > limit:
            break
    if not names:
        return "The submission folder is empty."
    shown = ", ".join(n.replace(os.sep, "/") for n in names[:limit])
    more = " and more" if len(names) > limit else ""
    return f"The submission contains: {shown}{more}."
