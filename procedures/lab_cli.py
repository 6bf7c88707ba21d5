"""`labqc station serve` and `labqc lab ...`: several stations, one lab, over PyLECO.

    labqc lab coordinator                                   # PyLECO's coordinator, on 127.0.0.1:12300
    labqc station serve --name probe2 --sim bfo --trust alice
    labqc station serve --name probe3 --resource GPIB0::26::INSTR --coordinator 127.0.0.1:12300
    labqc lab status [--json]                               # idle / running / offline, queue, run
    labqc lab --as alice submit probe2 tonight.toml
    labqc lab --as alice run probe2 VoltageSweep --param cycles=2 --param set_compliance=5mA
    labqc lab --as alice abort probe2
    labqc lab runs --station probe2 --procedure SetReset --json

Nothing listens on anything but 127.0.0.1 unless `--listen-lan` says so (README, "Several
stations"); a station listens nowhere, it connects to the coordinator.
"""
from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from labqc.runs_cli import add_filters

DATA_PORT = 11100  # as labqc.procedures.station_stream (not imported here: zmq only when needed)

DEFAULT_PORT = 12300
#: Seconds without a heartbeat before the coordinator asks a component; it drops it after
#: three times that. PyLECO's default is 15 s: a killed station's name would stay taken ~45 s.
EXPIRY_S = 2.0


class _Presets:
    """The simulator's preset names, imported only when argparse looks (numpy and the device
    models cost ~0.1 s that `labqc lab status` has no use for)."""

    def _names(self) -> list[str]:
        from labqc.instruments.target import PRESETS

        return list(PRESETS)

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __iter__(self):
        return iter(self._names())


def register(subparsers: argparse._SubParsersAction) -> None:
    station = subparsers.add_parser("station", help="serve one probe station to the lab (a PyLECO actor)")
    sub = station.add_subparsers(dest="station_command", metavar="COMMAND", required=True)
    serve = sub.add_parser("serve", help="run plans queued by the lab's directors, one at a time")
    serve.add_argument("--name", required=True, help="the station's name at the coordinator")
    where = serve.add_mutually_exclusive_group(required=True)
    where.add_argument("--resource", metavar="VISA", help="the station's instrument")
    where.add_argument("--sim", choices=_Presets(), metavar="PRESET",
                       help="a simulated instrument with this device (%(choices)s)")
    serve.add_argument("--coordinator", default=f"127.0.0.1:{DEFAULT_PORT}", metavar="HOST:PORT",
                       help=f"where `labqc lab coordinator` runs (default: 127.0.0.1:{DEFAULT_PORT})")
    serve.add_argument("--trust", nargs="+", default=[], metavar="DIRECTOR",
                       help="directors allowed to submit, run and abort (everyone else: status and runs only)")
    serve.add_argument("--data-port", type=int, default=DATA_PORT, metavar="PORT",
                       help=f"the coordinator's data proxy, where live chunks go (default: {DATA_PORT})")
    serve.add_argument("--home", default=None, metavar="DIR",
                       help="the station's queue, plan folders and catalog (default: stations/NAME)")
    serve.set_defaults(func=cmd_serve)

    lab = subparsers.add_parser("lab", help="the lab's stations: status, submit, run, abort, runs",
                                description="The lab's probe stations, reached through PyLECO's coordinator: their "
                                "status, queues and runs (`labqc lab coordinator` runs the coordinator itself).")
    lab.add_argument("--coordinator", default=f"127.0.0.1:{DEFAULT_PORT}", metavar="HOST:PORT",
                     help=f"where `labqc lab coordinator` runs (default: 127.0.0.1:{DEFAULT_PORT})")
    lab.add_argument("--as", dest="name", default=None, metavar="NAME",
                     help="this director's name (stations trust by name; default: labqc-USER)")
    lab.add_argument("--lab", default=None, metavar="DIR",
                     help="the central run list and known stations (default: $LABQC_LAB, else ~/.labqc/lab)")
    sub = lab.add_subparsers(dest="lab_command", metavar="COMMAND", required=True)
    coord = sub.add_parser("coordinator", help="run PyLECO's coordinator (127.0.0.1 unless --listen-lan)")
    coord.add_argument("--port", type=int, default=DEFAULT_PORT)
    coord.add_argument("--data-port", type=int, default=DATA_PORT, metavar="PORT",
                       help=f"the data proxy: stations publish to PORT, watchers listen on PORT-1 (default: {DATA_PORT})")
    coord.add_argument("--listen-lan", action="store_true",
                       help="listen on every network interface (prints what that exposes)")
    coord.set_defaults(func=cmd_coordinator)
    status = sub.add_parser("status", help="every station: idle, running or offline, queue, current run")
    status.add_argument("--json", action="store_true")
    status.add_argument("--station", action="append", default=[], help="also this station (repeatable)")
    status.set_defaults(func=cmd_status)
    submit = sub.add_parser("submit", help="queue a plan (TOML, as `labqc plan run` reads) on a station")
    submit.add_argument("station")
    submit.add_argument("plan", help="the plan file")
    submit.set_defaults(func=cmd_submit)
    run = sub.add_parser("run", help="queue one run of a procedure on a station")
    run.add_argument("station")
    run.add_argument("procedure")
    run.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                     help="a procedure parameter, e.g. cycles=2 or set_compliance=5mA (repeatable)")
    run.set_defaults(func=cmd_run)
    abort = sub.add_parser("abort", help="stop a station's running plan (outputs off) and empty its queue")
    abort.add_argument("station")
    abort.set_defaults(func=cmd_abort)
    runs = sub.add_parser("runs", help="every station's runs, as `labqc runs list` with a station field")
    runs.add_argument("--station", action="append", default=[], metavar="NAME", help="this station (repeatable)")
    add_filters(runs)
    runs.add_argument("--json", action="store_true")
    runs.set_defaults(func=cmd_runs)


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise SystemExit(f"labqc: the coordinator must be HOST:PORT, e.g. 127.0.0.1:{DEFAULT_PORT}, not {text!r}")
    return host, int(port)


# ---------------------------------------------------------------------- station
def cmd_serve(args: argparse.Namespace) -> int:
    from labqc.procedures.station import Station, StationError
    from labqc.procedures.station_actor import serve
    from labqc.procedures.station_stream import ChunkPublisher

    host, port = _address(args.coordinator)
    try:
        station = Station(args.name, args.home or Path("stations") / args.name, resource=args.resource or "",
                          preset=args.sim or "")
    except (StationError, OSError, ValueError) as exc:
        print(f"labqc station serve: {exc}", file=sys.stderr)
        return 2
    print(f"station {args.name}: {len(station.queue)} plans in its queue at {station.home}; coordinator "
          f"{host}:{port}; trusted: {', '.join(args.trust) or 'nobody (read-only)'}", file=sys.stderr, flush=True)
    publisher = ChunkPublisher(args.name, host, args.data_port, describe=station.current_run)
    station.listeners.append(publisher)
    try:
        serve(station, host=host, port=port, trust=args.trust)
    finally:
        publisher.close()
    return 0


# ---------------------------------------------------------------------- coordinator
def cmd_coordinator(args: argparse.Namespace) -> int:
    from pyleco.coordinators.coordinator import Coordinator
    from pyleco.utils.coordinator_utils import ZmqMultiSocket

    host = "*" if args.listen_lan else "127.0.0.1"

    class _Bound(ZmqMultiSocket):  # PyLECO binds every interface ("*"); here only what was asked
        def bind(self, host_: str = "*", port: int | str = DEFAULT_PORT) -> None:
            super().bind(host=host, port=port)

    if args.listen_lan:
        print(f"labqc lab coordinator: listening on EVERY network interface, port {args.port}: anyone who can "
              "reach this computer can see every station's status and run list, sign in under any free name "
              "(a trusted director's name too, while that director is away) and then submit, run and abort; "
              "there is no password or encryption; and it streams the live chunks of every run (data ports "
              f"{args.data_port} and {args.data_port - 1}) to anyone who listens. Use it only on a closed lab "
              "network.", file=sys.stderr)
    else:
        print(f"labqc lab coordinator: on 127.0.0.1:{args.port}, live chunks on {args.data_port}/{args.data_port - 1} "
              "(this computer only; reach it from elsewhere through an SSH tunnel, see README)", file=sys.stderr)
    try:
        coordinator = Coordinator(namespace="labqc", host="127.0.0.1" if not args.listen_lan else None,
                                  port=args.port, cleaning_interval=1.0, expiration_time=EXPIRY_S,
                                  multi_socket=_Bound())
    except Exception as exc:  # zmq.ZMQError: the port is taken
        print(f"labqc lab coordinator: cannot listen on port {args.port}: {exc}", file=sys.stderr)
        return 1
    from labqc.procedures.station_actor import on_signals
    from labqc.procedures.station_stream import start_proxy
    from pyleco.utils.events import SimpleEvent

    try:
        start_proxy("*" if args.listen_lan else "127.0.0.1", args.data_port)
    except Exception as exc:  # zmq.ZMQError: a port is taken
        print(f"labqc lab coordinator: cannot listen on ports {args.data_port} and {args.data_port - 1} for live "
              f"chunks: {exc}", file=sys.stderr)
        coordinator.close()
        return 1

    stop = SimpleEvent()
    on_signals(stop)
    print("ready", flush=True)
    with coordinator:
        try:
            coordinator.routing(stop_event=stop)
        except KeyboardInterrupt:
            pass
    return 0


# ---------------------------------------------------------------------- director
def _director(args: argparse.Namespace):
    from labqc.procedures.station_director import LabDirector

    host, port = _address(args.coordinator)
    return LabDirector(args.name or f"labqc-{getpass.getuser()}", host, port, lab=args.lab)


def _run(args: argparse.Namespace, work) -> int:
    from labqc.procedures.station_director import LabError

    try:
        with _director(args) as lab:
            return work(lab)
    except LabError as exc:
        print(f"labqc lab {args.lab_command}: {exc}", file=sys.stderr)
        return 1


def cmd_status(args: argparse.Namespace) -> int:
    def work(lab) -> int:
        stations = lab.status(args.station)
        if args.json:
            print(json.dumps(stations, indent=1))
            return 0
        if not stations:
            print("no stations known or signed in", file=sys.stderr)
        for s in stations:
            current = s.get("current") or {}
            doing = (f"{current.get('plan')}: {current.get('run')} {100 * (current.get('progress') or 0):.0f} %, "
                     f"ETA ~{current.get('eta_instrument_s', 0):.0f} s instrument time" if current else "")
            queue = "" if s.get("queue") is None else f"{s['queue']} queued"
            print(f"{s['name']:<16} {s['state']:<8} {queue:<10} {doing}".rstrip())
        return 0
    return _run(args, work)


def cmd_submit(args: argparse.Namespace) -> int:
    try:
        text = Path(args.plan).read_text(encoding="utf-8")
    except OSError as exc:
        print(f"labqc lab submit: cannot read the plan {args.plan}: {exc.strerror or exc}", file=sys.stderr)
        return 2

    def work(lab) -> int:
        entry = lab.call(args.station, "submit_plan", text=text, source=Path(args.plan).name)
        print(f"queued on {args.station} as #{entry['id']}: plan {entry['plan']!r}, {entry['runs']} runs")
        return 0
    return _run(args, work)


def cmd_run(args: argparse.Namespace) -> int:
    params = {}
    for item in args.param:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            print(f"labqc lab run: a parameter is NAME=VALUE, e.g. cycles=2, not {item!r}", file=sys.stderr)
            return 2
        params[key.strip().replace("-", "_")] = value.strip()

    def work(lab) -> int:
        entry = lab.call(args.station, "run_procedure", procedure=args.procedure, parameters=params)
        print(f"queued on {args.station} as #{entry['id']}: {entry['plan']}")
        return 0
    return _run(args, work)


def cmd_abort(args: argparse.Namespace) -> int:
    def work(lab) -> int:
        done = lab.call(args.station, "abort")
        print(f"{args.station}: " + ("running plan stopped, outputs off" if done["aborted"] else "nothing was running")
              + f"; {done['cancelled']} queued plans cancelled")
        return 0
    return _run(args, work)


def cmd_runs(args: argparse.Namespace) -> int:
    from labqc.procedures.station_director import LAB_DB, CentralRuns, LabError, lab_dir

    def work(lab) -> int:
        unreachable = lab.pull_runs(args.station)
        for name in unreachable:
            print(f"labqc lab runs: warning: station {name} is offline; its runs as last pulled", file=sys.stderr)
        return _print_runs(args, lab.central)

    try:
        with _director(args) as lab:
            return work(lab)
    except LabError as exc:
        saved = lab_dir(args.lab) / LAB_DB
        if not saved.is_file():
            print(f"labqc lab runs: {exc}", file=sys.stderr)
            return 1
        # The central list is a copy on this computer: it can be read without the coordinator.
        print(f"labqc lab runs: warning: {exc}; every station's runs as last pulled", file=sys.stderr)
        central = CentralRuns(saved)
        try:
            return _print_runs(args, central)
        finally:
            central.close()


def _print_runs(args: argparse.Namespace, central) -> int:
    rows = central.runs(station=args.station, sample=args.sample, device=args.device,
                        procedure=args.procedure, status=args.status, since=args.since, until=args.until)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for r in rows:
        print(f"{r['station'][:12]:<12} {r['id']:>5}  {(r['started'] or '')[:16]:<16}  {r['device'][:8]:<8} "
              f"{r['procedure'][:13]:<13} {r['status']:<8} {r['rows']:>9,}  {r['file']}")
    print(f"{len(rows)} run{'s' if len(rows) != 1 else ''}", file=sys.stderr)
    return 0
