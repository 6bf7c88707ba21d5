"""``labqc selftest``: check a new instrument (or the simulator) with a known resistor.

    labqc selftest --resource GPIB0::26::INSTR --load 10k      # a 2614B, 10 kOhm on its terminals
    labqc selftest --resource TCPIP0::10.0.0.5::1225::SOCKET --load 10k
    labqc selftest --sim ohmic                                 # the simulated 2614B and its 10 kOhm
    labqc selftest --sim ohmic --resource GPIB0::17::INSTR     # the simulated 4200A

Prints a table (pass, fail or skip, with the measured and expected value), writes a JSON
report (``--report FILE``, default ``selftest-<date>-<time>.json``) and exits 1 when a
check failed, 2 when the arguments are wrong, 0 otherwise.
"""
from __future__ import annotations

import argparse
import sys
import time

from labqc.instruments.connect import MODELS, SIM_2614B, open_smu


def register(subparsers) -> None:
    p = subparsers.add_parser("selftest", help="check an instrument against a known resistor",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--resource", default="", metavar="VISA",
                   help="VISA resource of the instrument (default with --sim: the simulated 2614B)")
    p.add_argument("--load", default=None, metavar="OHMS",
                   help="the resistor on the terminals, e.g. 10k (default 10k; with --sim, the preset's)")
    p.add_argument("--model", default=None, choices=MODELS, help="skip asking the instrument what it is")
    p.add_argument("--sim", dest="sim_preset", default="", metavar="PRESET",
                   help="run on the simulated lab with this device (ohmic: a 10 kOhm resistor)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the simulated device")
    p.add_argument("--report", default=None, metavar="FILE", help="where to write the JSON report")
    p.set_defaults(func=cmd_selftest)


def _ohms(text: str) -> float:
    from labqc.quantity import parse_quantity

    try:
        return parse_quantity(text, "Ohm")
    except ValueError as exc:
        raise ValueError(f"--load {text!r} {exc}") from None


def cmd_selftest(args: argparse.Namespace) -> int:
    from labqc.instruments import selftest

    prog = "labqc selftest"
    if not args.resource and not args.sim_preset:
        print(f"{prog}: name the instrument with --resource VISA, or --sim PRESET for the simulator",
              file=sys.stderr)
        return 2
    try:
        load = _ohms(args.load) if args.load else _sim_load(args.sim_preset)
        selftest.Levels.for_load(load)
    except ValueError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    library = None
    if args.sim_preset:
        from labqc.instruments.sim.lab import sim_library

        try:
            library = sim_library(args.sim_preset, args.seed)
        except ValueError as exc:
            print(f"{prog}: {exc}", file=sys.stderr)
            return 2
    resource = args.resource or SIM_2614B
    try:
        smu = open_smu(resource, visa_library=library, model=args.model)
    except Exception as exc:  # cannot reach it: one sentence, nothing energised
        print(f"{prog}: could not open {resource}: {exc}", file=sys.stderr)
        return 1
    try:
        checks = selftest.run_checks(smu, load)
        data = selftest.report(checks, smu, resource, load)
    finally:
        smu.close()
    print(f"{smu.identity.strip()} at {resource}, load {load:g} ohm")
    print(selftest.table(checks))
    path = args.report or time.strftime("selftest-%Y%m%d-%H%M%S.json")
    selftest.write_report(data, path)
    print(f"report: {path}")
    return 0 if data["passed"] else 1


def _sim_load(preset: str) -> float:
    """The default load: the ohmic preset's resistance, else 10 kOhm."""
    if preset == "ohmic":
        from labqc.instruments.sim.presets import make_device

        return float(make_device("ohmic").resistance)
    return 10e3
