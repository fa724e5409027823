"""Command line: argument dispatch only; every subcommand lives in the library."""
from __future__ import annotations

import sys

_SUBCOMMANDS = {
    "demo": ("gradcheck.cli", "_demo", "run pytest --gradcheck and gradcheck audit on the bundled examples"),
    "audit": ("gradcheck.audit.cli", "main", "grade a folder of backprop submissions in a sandbox"),
    "vanishing": ("gradcheck.reference_nets.vanishing", "main",
                  "per-layer gradient norms with depth (Yoshida, \"A note on backprop\", section 6)"),
}


def _usage() -> str:
    lines = ["usage: gradcheck [--version] <command> [options]", "", "commands:"]
    for name, (_, _, about) in _SUBCOMMANDS.items():
        lines.append(f"  {name:<10} {about}")
    lines.append("")
    lines.append("Run 'gradcheck <command> --help' for a command's options.")
    return "\n".join(lines)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gradcheck")
    except PackageNotFoundError:   # running from a checkout that is not installed
        return "unknown (not installed)"


def _demo(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="gradcheck demo", description=(
        "Copy the bundled examples into a new folder, run pytest --gradcheck on a numpy layer library (one "
        "gradient wrong on purpose) and gradcheck audit on a class of five submissions, and say where the "
        "JSON report and the HTML class report are."))
    parser.add_argument("--out", metavar="DIR", help="an empty or new folder to work in (default: a new temporary folder)")
    args = parser.parse_args(argv)
    from gradcheck import demo

    return demo.run(args.out)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    if argv and argv[0] == "--version":
        print(f"gradcheck {_version()}")
        return 0
    if not argv:
        print(_usage(), file=sys.stderr)
        return 2
    name, rest = argv[0], argv[1:]
    if name not in _SUBCOMMANDS:
        print(f"gradcheck: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name, func_name, _ = _SUBCOMMANDS[name]
    import importlib

    module = importlib.import_module(module_name)
    try:
        return int(getattr(module, func_name)(rest) or 0)
    except OSError as exc:   # a file problem is the user's to fix: say which path, without a traceback
        where = exc.filename if exc.filename is not None else ""
        print(f"gradcheck {name}: {exc.strerror or exc}: {where}".rstrip(": "), file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
