"""`labqc list` and `labqc run`: the procedures from the command line.

    labqc list                                   # every procedure, its parameters, units, defaults
    labqc run VoltageSweep --sim bfo             # on the built-in simulated 2614B
    labqc run VoltageSweep --set-compliance 5mA --cycles 10 -o sweep.csv
    labqc run PulseTrain --resource GPIB0::17::INSTR --sim bfo   # the simulated 4200A
    labqc run Retention --resource GPIB0::26::INSTR              # a 2614B on the bench

Each procedure parameter is an option (``--set-compliance`` or ``--set_compliance``);
values may carry an SI prefix and the unit (``5mA``, ``400u``, ``1.5V``). A bad value gets
one sentence and exit code 2. Progress and an ETA in instrument time go to stderr, the
summary to stdout. Ctrl-C or SIGTERM aborts cleanly: outputs off, file closed, exit 130
(SIGINT) or 143 (SIGTERM), within 9 s whatever the connection does (a second signal ends at
once); a failed run exits 1, 3 if its connection dropped (output off after reconnecting),
4 if the output could not be confirmed off, 5 if a program-to-level or search finished
without reaching its target. ``--check`` prints whether the reads resolve 0.5 G0 steps and
runs nothing; a run prints a warning line for each read that does not.
"""
from __future__ import annotations

import argparse
import signal
import sys
import time
from typing import Any

from labqc.instruments.errors import CapabilityError, InstrumentError
from labqc.procedures import PROCEDURES, get_procedure
from labqc.quantity import format_quantity, parse_quantity
from labqc.procedures.base import (BooleanParameter, IntegerParameter, LabqcProcedure,
                             ListParameter, ParameterError, Progress, RUN_METADATA, parameter_specs)
from labqc.procedures.parameters import help_of
from labqc.procedures.spec import build, parse_value  # noqa: F401  (parse_value: long imported from here)
from labqc.instruments.target import MAX_TIME_SCALE, PRESETS, Target, TargetError
from labqc.procedures.signals import EXIT_CONNECTION_LOST, EXIT_OUTPUT_UNKNOWN, RunSignals
from labqc.procedures.runner import FINISHED, ABORTED, RunResult, run_procedure

#: Exit status of a finished program-to-level or search that did not reach its target.
EXIT_NOT_REACHED = 5




# ------------------------------------------------------------------------ registration
def register(subparsers: argparse._SubParsersAction) -> None:
    lst = subparsers.add_parser("list", help="show the measurement procedures and their parameters",
                                description="Show each procedure with its parameters, units and defaults.")
    lst.add_argument("procedure", nargs="?", help="show only this one")
    lst.set_defaults(func=cmd_list)

    run = subparsers.add_parser("run", help="run one measurement procedure",
                                description="Run one procedure on the simulator (default) or an instrument.")
    procs = run.add_subparsers(dest="procedure_name", metavar="PROCEDURE", required=True,
                               action=_ProcedureNames)
    for name, cls in PROCEDURES.items():
        sp = procs.add_parser(name, help=_first_line(cls), description=cls.__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
        _add_common(sp)
        for attr, param in parameter_specs(cls):
            flags = [f"--{attr.replace('_', '-')}"] + ([f"--{attr}"] if "_" in attr else [])
            sp.add_argument(*flags, dest=f"param_{attr}", default=None, metavar=_metavar(param),
                            help=f"{help_of(param)} (default: {_default_text(param)})")
        sp.set_defaults(func=cmd_run, procedure_class=cls)


class _Names(dict):
    """Subcommand name -> parser, looked up by procedure name in any case and in kebab or
    snake form (``voltage-sweep``, ``voltagesweep``, ``VOLTAGE_SWEEP`` are VoltageSweep)."""

    def _key(self, name: object) -> object:
        if isinstance(name, str) and not dict.__contains__(self, name):
            try:
                return get_procedure(name).__name__
            except KeyError:
                pass
        return name

    def __contains__(self, name: object) -> bool:
        return dict.__contains__(self, self._key(name))

    def __getitem__(self, name: object):
        return dict.__getitem__(self, self._key(name))


class _ProcedureNames(argparse._SubParsersAction):
    """The procedure subcommands, each accepted under any spelling :class:`_Names` knows."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._name_parser_map = self.choices = _Names()


def _add_common(sp: argparse.ArgumentParser) -> None:
    g = sp.add_argument_group("instrument and output")
    g.add_argument("--resource", default="", metavar="VISA",
                   help="VISA resource of the instrument (default: the built-in simulated 2614B)")
    g.add_argument("--model", default=None, choices=("2614B", "4200A"),
                   help="the instrument at --resource, when asking it (*IDN?) is not wanted (a --dry-run "
                        "needs it where the resource does not tell)")
    g.add_argument("--sim", dest="sim_preset", default="", choices=PRESETS, metavar="PRESET",
                   help=f"simulated device ({', '.join(PRESETS)}); with --resource, that resource "
                        "in the simulated lab (default with no resource: bfo)")
    g.add_argument("--seed", default="0", metavar="N", help="seed of the simulated device (default: 0)")
    g.add_argument("--time-scale", "--time_scale", dest="time_scale", default="0", metavar="X",
                   help="simulator only: wall seconds per instrument second (default: 0, as fast as possible)")
    g.add_argument("-o", "--output", default=None, metavar="FILE",
                   help="results file (default: results/<Procedure>-<date>-<time>.csv)")
    g.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    g.add_argument("--check", action="store_true",
                   help="print whether the reads resolve 0.5 G0 steps (range, NPLC, read voltage) and run nothing")
    g.add_argument("--dry-run", action="store_true",
                   help="rehearse on the simulated instrument of the same model, at time scale 0, into a "
                        "throwaway file unless -o; nothing real is opened")
    g.add_argument("--catalog", default=None, metavar="PATH",
                   help="the run catalog to record the run in (default: $LABQC_CATALOG, else "
                        "catalog.sqlite beside the results file)")


def _first_line(cls: type) -> str:
    return (cls.__doc__ or cls.__name__).strip().splitlines()[0]


def _metavar(param: Any) -> str:
    if isinstance(param, ListParameter):
        return "{" + ",".join(map(str, param.choices)) + "}"
    if isinstance(param, BooleanParameter):
        return "{true,false}"
    return getattr(param, "units", None) or ("N" if isinstance(param, IntegerParameter) else "X")


def _default_text(param: Any) -> str:
    """The default as a user would type it: ``5 mA``, not ``0.005 A``."""
    value = param.value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return format_quantity(value, getattr(param, "units", None))
    text = str(param)
    return text if text != "" else "empty"


# ------------------------------------------------------------------------ labqc list
def cmd_list(args: argparse.Namespace) -> int:
    names = list(PROCEDURES)
    if args.procedure:
        try:
            names = [get_procedure(args.procedure).__name__]
        except KeyError as exc:
            print(f"labqc list: {exc.args[0]}", file=sys.stderr)
            return 2
    for name in names:
        cls = PROCEDURES[name]
        print(f"{name}: {_first_line(cls)}")
        for attr, param in parameter_specs(cls):
            if attr in RUN_METADATA:
                continue
            option = f"--{attr.replace('_', '-')}"
            choices = f" (one of {', '.join(map(str, param.choices))})" if isinstance(param, ListParameter) else ""
            print(f"  {option:<22} {_default_text(param):>10}  {param.name}: {help_of(param)}{choices}")
        print()
    print("Every procedure also takes --resource VISA, --sim PRESET, --seed N, --time-scale X, "
          "--r-series OHM and -o FILE, and record --sample, --device, --operator and --note with the run.")
    return 0


# ------------------------------------------------------------------------ labqc run
#: Ctrl-C/SIGTERM: the run cleans up, a watchdog bounds it, a second signal ends at once.
_Signals = RunSignals


class ProgressBar:
    """Progress and ETA in instrument seconds on stderr: redrawn in place on a terminal,
    a line per tenth of the run otherwise."""

    def __init__(self, stream=None, width: int = 30) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self._last_draw = 0.0
        self._last_tenth = -1

    def __call__(self, topic: str, payload: Any) -> None:
        if topic != "progress":
            return
        p: Progress = payload
        if self.tty:
            now = time.monotonic()
            if now - self._last_draw < 0.1 and p.fraction < 1.0:
                return
            self._last_draw = now
            self.stream.write("\r" + self.line(p))
        else:
            tenth = int(p.fraction * 10)
            if tenth <= self._last_tenth:
                return
            self._last_tenth = tenth
            self.stream.write(self.line(p) + "\n")
        self.stream.flush()

    def line(self, p: Progress) -> str:
        filled = int(round(p.fraction * self.width))
        return (f"[{'#' * filled}{'.' * (self.width - filled)}] {100 * p.fraction:5.1f}%  "
                f"{p.elapsed:,.1f} of ~{p.total:,.1f} s instrument time, ETA {p.eta:,.1f} s")

    def finish(self) -> None:
        if self.tty and self._last_draw:
            self.stream.write("\n")
            self.stream.flush()


def build_procedure(cls: type[LabqcProcedure], args: argparse.Namespace) -> LabqcProcedure:
    """The procedure with every option given on the command line (labqc.procedures.spec);
    ParameterError (one sentence) for a value that cannot be used."""
    given = {attr: getattr(args, f"param_{attr}") for attr, _ in parameter_specs(cls)
             if getattr(args, f"param_{attr}", None) is not None}
    return build(cls, given, label=lambda attr, _: f"--{attr.replace('_', '-')}")


def build_target(args: argparse.Namespace) -> Target:
    """Where ``labqc run`` measures: --resource, --sim, --seed, --time-scale; ParameterError
    (one sentence) for a value that cannot be used."""
    try:
        seed = parse_quantity(str(args.seed))
        if not seed.is_integer() or seed < 0:
            raise ValueError("must be a whole number >= 0")
    except ValueError as exc:
        raise ParameterError(f"--seed {args.seed!r} {exc}") from None
    try:
        scale = parse_quantity(str(args.time_scale))
        if not 0 <= scale <= MAX_TIME_SCALE:
            raise ValueError(f"must be from 0 to {MAX_TIME_SCALE:g}")
    except ValueError as exc:
        raise ParameterError(f"--time-scale {args.time_scale!r} {exc}") from None
    try:
        return Target(args.resource, args.sim_preset, int(seed), scale, model=getattr(args, "model", None))
    except TargetError as exc:
        raise ParameterError(str(exc)) from None


def cmd_run(args: argparse.Namespace) -> int:
    cls = args.procedure_class
    prog = f"labqc run {cls.__name__}"
    bar = None if args.no_progress else ProgressBar()
    with _Signals() as signals:
        try:
            proc = build_procedure(cls, args)
            target = build_target(args)
            if getattr(args, "check", False):  # the resolution advice, nothing opened
                return _check(proc, target, prog)
            resolution = _resolution_warnings(proc, target)
            if getattr(args, "dry_run", False):  # the stand-in and a throwaway file (procedures/dry_run.py)
                from labqc.procedures.dry_run import prepare_dry_run
                target, args.output = prepare_dry_run(proc, target, args.output)
            # a rehearsal (--dry-run) is not recorded unless a catalog is named
            catalog = getattr(args, "catalog", None) or not getattr(args, "dry_run", False)
            result = run_procedure(proc, args.output, target=target, listeners=[bar] if bar else [],
                                   catalog=catalog)
        except (ParameterError, CapabilityError) as exc:
            print(f"{prog}: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:  # before the run started: nothing was energised
            print(f"{prog}: interrupted before the run started", file=sys.stderr)
            return _signal_exit(signals.received)
        except (InstrumentError, OSError, ValueError) as exc:  # could not open the instrument
            print(f"{prog}: {exc}", file=sys.stderr)
            return 1
        except Exception as exc:  # e.g. a VISA error opening the resource: nothing ran
            print(f"{prog}: could not open {args.resource or 'the simulator'}: {type(exc).__name__}: {exc}",
                  file=sys.stderr)
            return 1
        finally:
            if bar:
                bar.finish()
    _report(proc, result)
    for line in resolution:  # after the run opened the instrument, so a failure to open stays one sentence
        print(f"warning: {line}", file=sys.stderr)
    if result.status == FINISHED:
        # a program-to-level or a search that did not reach its target (summary "reached")
        return EXIT_NOT_REACHED if result.summary.get("reached") is False else 0
    if not result.output_off:
        return EXIT_OUTPUT_UNKNOWN
    if result.status == ABORTED:
        return _signal_exit(signals.received)
    return EXIT_CONNECTION_LOST if result.connection_lost else 1


def _check(proc: LabqcProcedure, target: Target, prog: str) -> int:
    """``--check``: validate and print the resolution advice of every read; run nothing."""
    from labqc.procedures.resolution_check import model_of, resolution_advice

    proc.validate()
    advice = resolution_advice(proc, model_of(target))
    print(f"{prog} --check ({model_of(target)}): nothing was run")
    for a in advice:
        print(f"  {a.sentence()}")
    if not advice:
        print("  no read at a known voltage to judge (current-sourced or no reads)")
    return 0


def _resolution_warnings(proc: LabqcProcedure, target: Target) -> list[str]:
    """One line per read setting that does not resolve 0.5 G0 (the run goes on)."""
    from labqc.procedures.resolution_check import model_of, warning_lines

    try:
        proc.validate()
        return warning_lines(proc, model_of(target))
    except (ParameterError, ValueError):
        return []  # the run itself refuses bad parameters with its own sentence


def _signal_exit(signum: int | None) -> int:
    return 128 + (signum or signal.SIGINT)


def _report(proc: LabqcProcedure, result: RunResult) -> None:
    out = sys.stdout if result.status == FINISHED else sys.stderr
    hits = result.compliance_hits
    head = (f"{result.procedure} {result.status}: {result.rows} rows, {hits} reading{'' if hits == 1 else 's'} "
            f"in compliance, {result.instrument_seconds:,.1f} s of instrument time")
    print(head, file=out)
    if result.error:
        print(f"  {result.error}", file=out)
    for warning in result.warnings:
        print(f"  warning: {warning}", file=sys.stderr)
    print(f"  instrument: {result.instrument}", file=out)
    try:
        lines = proc.summary_lines(result.summary)
    except Exception as exc:  # never let a summary line hide where the data is
        lines = [f"(no summary: {type(exc).__name__}: {exc})"]
    for line in lines:
        print(f"  {line}", file=out)
    print(f"  data:    {result.path}", file=out)
    if result.catalog_id is not None:
        print(f"  catalog: run {result.catalog_id}", file=out)
    if result.summary_path:
        print(f"  summary: {result.summary_path}", file=out)
    out.flush()
