"""The subcommands of ``labqc``: where each one is registered.

The command line lives in the core, but its subcommands belong to the layers above it.
They are named here as import paths, loaded only when the command line is built, so that
no module of the core imports a layer above it. A registrar is
``register(subparsers) -> None``: it adds one or more subparsers and sets ``func`` on each,
a callable ``func(args) -> int``. Other packages add theirs through the ``labqc.commands``
entry-point group.
"""
from __future__ import annotations

COMMANDS: dict[str, str] = {
    "analyze": "labqc.analyze_cli:register",
    "sim": "labqc.instruments.sim.cli:register",
    "selftest": "labqc.instruments.selftest_cli:register",
    "procedures": "labqc.procedures.cli:register",
    "plan": "labqc.procedures.plan_cli:register",
    "gui": "labqc.gui.cli:register",
    "runs": "labqc.runs_cli:register",
    "lab": "labqc.procedures.lab_cli:register",  # also `labqc station`
}

#: Subcommands a registrar adds under another name than its own: the command line loads only
#: the registrar of the command named (see labqc.cli), so it must know where these live.
ALSO: dict[str, str] = {"station": "lab", "list": "procedures", "run": "procedures"}
