"""The `labqc` command line.

The core owns the entry point; the subcommands of each layer are listed by import path in
:mod:`labqc.commands` and loaded when the parser is built, so that this module never
imports the layers above it.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from importlib.metadata import entry_points

from labqc import __version__
from labqc.commands import COMMANDS


def _registrars():
    """(name, loader) for labqc's own subcommands, then those other packages add."""
    def loader(target: str):
        module, _, attr = target.partition(":")
        return lambda: getattr(importlib.import_module(module), attr)
    for name, target in sorted(COMMANDS.items()):
        yield name, loader(target)
    for ep in sorted(entry_points(group="labqc.commands"), key=lambda e: e.name):
        if ep.name not in COMMANDS:
            yield ep.name, ep.load


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labqc",
        description="Acquisition and analysis for quantum-conductance memristors.",
    )
    parser.add_argument("--version", action="version", version=f"labqc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, load in _registrars():
        try:
            register = load()
        except ImportError as exc:  # a layer that cannot load must not take the others down
            print(f"labqc: the '{name}' commands are unavailable ({exc})", file=sys.stderr)
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
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at exit where it cannot be caught
        return code
    except KeyboardInterrupt:
        print("labqc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `labqc list | head`: the reader has what it wanted
        _silence_stdout()
        return 1


def _silence_stdout() -> None:
    """Point stdout at the null device, so that the interpreter's flush at exit does not
    report the closed pipe again (the recipe of Python's signal documentation)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout is not a file (e.g. captured in a test)
        pass


if __name__ == "__main__":
    sys.exit(main())
