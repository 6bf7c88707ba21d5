"""The `labqc` command line.

The core owns the entry point; each layer adds its own subcommands through the
``labqc.commands`` entry-point group (see pyproject.toml), so that this module never
imports the layers above it. A registrar is ``register(subparsers) -> None``: it adds
one or more subparsers and sets ``func`` on each, a callable ``func(args) -> int``.
"""
from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points

from labqc import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labqc",
        description="Acquisition and analysis for quantum-conductance memristors.",
    )
    parser.add_argument("--version", action="version", version=f"labqc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for ep in sorted(entry_points(group="labqc.commands"), key=lambda e: e.name):
        try:
            register = ep.load()
        except ImportError as exc:  # a layer that cannot load must not take the others down
            print(f"labqc: the '{ep.name}' commands are unavailable ({exc})", file=sys.stderr)
            continue
        register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("labqc: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
