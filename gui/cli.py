"""`labqc gui`: open the dashboard (on the simulator unless a resource is given).

    labqc gui                          # simulated 2614B with a bfo device
    labqc gui --sim ag-nanowire --seed 3
    labqc gui --resource GPIB0::26::INSTR
"""
from __future__ import annotations

import argparse
import sys

from labqc.instruments.target import PRESETS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("gui", help="open the live dashboard",
                              description="The labqc dashboard: run procedures, watch G/G0 live.")
    p.add_argument("--sim", dest="preset", default=None, choices=PRESETS, metavar="PRESET",
                   help=f"simulated device ({', '.join(PRESETS)}; default: bfo); with --resource, "
                        "that resource in the simulated lab")
    p.add_argument("--seed", type=int, default=None, metavar="N",
                   help="seed of the simulated device (default: the last used, else 0)")
    p.add_argument("--resource", default=None, metavar="VISA",
                   help="VISA resource of the instrument; without --sim a real one (default: the simulator)")
    p.add_argument("--watch", default=None, metavar="STATION",
                   help="watch a lab station's live run, read-only (see `labqc station serve`)")
    p.add_argument("--coordinator", default="127.0.0.1", metavar="HOST",
                   help="with --watch: the computer running `labqc lab coordinator` (default: 127.0.0.1)")
    p.add_argument("--data-port", type=int, default=11100, metavar="PORT",
                   help="with --watch: the coordinator's --data-port (default: 11100)")
    p.set_defaults(func=cmd_gui)


def cmd_gui(args: argparse.Namespace) -> int:
    if args.seed is not None and args.seed < 0:
        print("labqc gui: --seed must be >= 0", file=sys.stderr)
        return 2
    if args.watch:
        from labqc.gui.watch import main as watch  # gui/watch.py

        return watch(args.watch, args.coordinator, args.data_port - 1)
    from labqc.gui.app import main  # Qt is imported only when the dashboard is opened

    # --resource alone means hardware; --sim (or no resource) means the simulated lab.
    # Options not given take the dashboard's remembered settings (labqc.gui.settings).
    return main(preset=args.preset, seed=args.seed, resource=args.resource)


__all__ = ["register"]
