"""`labqc gui` is registered through the entry point and checks its options."""
import argparse

import pytest

from labqc.gui import cli


def parser():
    p = argparse.ArgumentParser(prog="labqc")
    cli.register(p.add_subparsers(dest="command"))
    return p


def test_gui_subcommand_options():
    args = parser().parse_args(["gui", "--sim", "ag-nanowire", "--seed", "4"])
    assert args.func is cli.cmd_gui and args.preset == "ag-nanowire" and args.seed == 4
    args = parser().parse_args(["gui", "--resource", "GPIB0::26::INSTR"])
    assert args.preset is None and args.resource == "GPIB0::26::INSTR"


def test_unknown_preset_and_negative_seed_are_refused(capsys):
    with pytest.raises(SystemExit) as exc:
        parser().parse_args(["gui", "--sim", "nope"])
    assert exc.value.code == 2
    args = parser().parse_args(["gui", "--seed", "-1"])
    assert cli.cmd_gui(args) == 2
    assert "--seed" in capsys.readouterr().err


def test_labqc_main_lists_gui(capsys):
    from labqc.cli import main

    with pytest.raises(SystemExit):
        main(["gui", "--help"])
    assert "--sim" in capsys.readouterr().out
