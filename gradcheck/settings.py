"""Process-wide defaults a test session may change (the pytest plugin's --gradcheck-mode)."""
from __future__ import annotations

from gradcheck.context import MODES
from gradcheck.errors import GradcheckUsageError

_default = {"mode": "auto"}


def set_default_mode(mode: str) -> str:
    """Make ``mode`` ('auto', 'fast' or 'full') the default of every check that passes mode=None.

    Returns the previous default, so a caller can restore it.
    """
    if mode not in MODES:
        raise GradcheckUsageError(f"set_default_mode({mode!r}); choose one of {', '.join(map(repr, MODES))}")
    previous = _default["mode"]
    _default["mode"] = mode
    return previous


def default_mode() -> str:
    """The mode used when a check passes mode=None."""
    return _default["mode"]
