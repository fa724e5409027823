"""Command line: argument dispatch only; every subcommand lives in the library."""
from __future__ import annotations

import sys

_SUBCOMMANDS = {
    "vanishing": ("reference_nets.vanishing", "main", "per-layer gradient norms with depth (document 001, section 6)"),
    "audit": ("gradcheck.audit.cli", "main", "grade a folder of backprop submissions in a sandbox"),
}


def _usage() -> str:
    lines = ["usage: gradcheck <command> [options]", "", "commands:"]
    for name, (_, _, about) in _SUBCOMMANDS.items():
        lines.append(f"  {name:<10} {about}")
    lines.append("")
    lines.append("Run 'gradcheck <command> --help' for a command's options.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in _SUBCOMMANDS:
        print(f"gradcheck: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name, func_name, _ = _SUBCOMMANDS[name]
    import importlib

    module = importlib.import_module(module_name)
    return int(getattr(module, func_name)(rest) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
