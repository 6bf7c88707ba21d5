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

from labqc import __version__
from labqc.commands import ALSO, COMMANDS


def _loader(target: str):
    module, _, attr = target.partition(":")
    return lambda: getattr(importlib.import_module(module), attr)


def _registrars(argv: list[str] | None = None):
    """(name, loader) for labqc's own subcommands, then those other packages add. Only the
    command named in ``argv`` when it is one of labqc's own: importing every layer costs
    seconds (PyMeasure pulls in IPython), a command such as `labqc lab status` milliseconds."""
    command = next((a for a in argv or () if not a.startswith("-")), None)
    name = ALSO.get(command, command)
    if name in COMMANDS:
        yield name, _loader(COMMANDS[name])
        return
    for name, target in sorted(COMMANDS.items()):
        yield name, _loader(target)
    from importlib.metadata import entry_points  # ~15 ms, only when every command is wanted

    for ep in sorted(entry_points(group="labqc.commands"), key=lambda e: e.name):
        if ep.name not in COMMANDS:
            yield ep.name, ep.load


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser for ``argv``: with only its command's subparsers when it names one of
    labqc's own, else (no command, `--help`, an unknown one) with every command's."""
    parser = argparse.ArgumentParser(
        prog="labqc",
        description="Acquisition and analysis for quantum-conductance memristors.",
    )
    parser.add_argument("--version", action="version", version=f"labqc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, load in _registrars(argv):
        try:
            register = load()
        except ImportError as exc:  # a layer that cannot load must not take the others down
            print(f"labqc: the '{name}' commands are unavailable ({exc})", file=sys.stderr)
            continue
        register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
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
