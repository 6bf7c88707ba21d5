"""`labqc sim serve`: the simulated 2614B and 4200A on loopback ports until interrupted.

    labqc sim serve --device bfo --seed 3 --time-scale 1 --faults "2614B=delay@5:10"

prints the VISA resource names to use (TCPIP0::127.0.0.1::PORT::SOCKET) and serves until
Ctrl-C or SIGTERM.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading

from labqc.instruments.sim.server import DEFAULT_PORT_2614B, DEFAULT_PORT_4200A


def register(subparsers) -> None:
    sim = subparsers.add_parser("sim", help="the simulated lab",
                                description="The simulated instruments.")
    sim_sub = sim.add_subparsers(dest="sim_command", metavar="SIM_COMMAND")
    sim.set_defaults(func=lambda args: (sim.print_help(), 2)[1])

    serve = sim_sub.add_parser(
        "serve", help="serve the simulated 2614B and 4200A on loopback TCP ports",
        description="Serve the simulated Keithley 2614B (raw socket, TSP) and 4200A-SCS "
                    "(KXCI Ethernet) on 127.0.0.1 until Ctrl-C.")
    serve.add_argument("--port-2614b", type=int, default=DEFAULT_PORT_2614B, metavar="PORT",
                       help=f"2614B raw-socket port (default {DEFAULT_PORT_2614B}; 0 picks a free one)")
    serve.add_argument("--port-4200a", type=int, default=DEFAULT_PORT_4200A, metavar="PORT",
                       help=f"4200A KXCI port (default {DEFAULT_PORT_4200A}; 0 picks a free one)")
    serve.add_argument("--device", default=None, metavar="PRESET",
                       help="simulated device preset (default: the lab's default)")
    serve.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default 0)")
    serve.add_argument("--time-scale", type=float, default=1.0, metavar="X",
                       help="wall seconds per simulated second: 1 real time (default), "
                            "0 as fast as possible")
    serve.add_argument("--faults", default="", metavar="SPEC",
                       help='faults to inject, e.g. "2614B=delay@5:10,drop@12|4200A=error@3:-286" '
                            "(kind@N[:value] fires at the Nth message; kinds: delay, drop, "
                            "garble, truncate, error, busy)")
    serve.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    from labqc.instruments.sim.lab import (DEFAULT_PRESET, RES_2614B_LAN, RES_4200A_LAN, SimulatedLab,
                                      parse_faults)
    from labqc.instruments.sim.server import LoopbackServer

    try:
        for name in ("port_2614b", "port_4200a"):
            port = getattr(args, name)
            if not 0 <= port <= 65535:
                raise ValueError(f"--{name.replace('_', '-')} must be a port number 0-65535, got {port}")
        faults = parse_faults(args.faults) if args.faults else {}
        lab = SimulatedLab(args.device or DEFAULT_PRESET, args.seed, args.time_scale, faults)
        for resource in (RES_2614B_LAN, RES_4200A_LAN):
            lab.emulator(resource)  # an instrument that cannot be built fails here, not mid-session
        server = LoopbackServer(lab, args.port_2614b, args.port_4200a)
    except OSError as exc:
        print(f"labqc sim serve: cannot listen on 127.0.0.1: {exc.strerror or exc}.", file=sys.stderr)
        return 2
    except (ValueError, ImportError) as exc:
        print(f"labqc sim serve: {exc}.".replace("..", "."), file=sys.stderr)
        return 2

    stop = _stop_on_signals()
    server.start()
    print(f"simulated lab: device {lab.preset}, seed {lab.seed}, time scale {lab.clock.time_scale:g}")
    for model, resource in server.resources.items():
        print(f"{model}: {resource}")
    print("serving on 127.0.0.1 until Ctrl-C", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    print("stopped", flush=True)
    return 0


def _stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or Ctrl-C (SIGINT), even where the shell that started the
    server ignores SIGINT for background jobs."""
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, frame: stop.set())
    return stop
