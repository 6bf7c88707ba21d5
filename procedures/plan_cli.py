"""`labqc plan check FILE`, `labqc plan run FILE -o DIR`, `labqc plan resume DIR`, `labqc plan status DIR`.

    labqc plan check sample_data/plans/demo.toml -o runs/demo # problems, time, rows, disk, end
    labqc plan run sample_data/plans/demo.toml -o runs/demo   # validate all, then run
    labqc plan run tonight.toml --dry-run                     # rehearse it all on the simulator
    labqc plan resume runs/demo                               # after a crash, kill -9 included
    labqc plan status runs/demo                               # what is done, what is not

A plan with problems gets every problem listed, one sentence each, and exit code 2;
nothing is energised. `plan run` also refuses to start when the disk cannot hold what
the plan writes (``--ignore-disk`` overrides). Ctrl-C or SIGTERM stops the plan cleanly (outputs off, the step
cut short is run again on resume) with exit 130 or 143; a step whose policy stops the
plan exits 1.
"""
from __future__ import annotations

import argparse
import signal
import sys

from pathlib import Path

from labqc.plan import PlanError
from labqc.instruments.target import PRESETS
from labqc.procedures.dry_run import dry_run_plan, throwaway_directory
from labqc.procedures.plan_check import check_plan, disk_sentence, estimate, free_space, size_text
from labqc.procedures.cli import _Signals
from labqc.procedures.plan_runner import open_plan, plan_status, run_plan, start_plan
from labqc.procedures.runner import ABORTED, FINISHED


def register(subparsers: argparse._SubParsersAction) -> None:
    plan = subparsers.add_parser("plan", help="run plans: sequences of procedures, unattended",
                                 description="Run, resume and inspect run plans (TOML files).")
    sub = plan.add_subparsers(dest="plan_command", metavar="COMMAND", required=True)

    check = sub.add_parser("check", help="validate a plan and estimate its time, rows and disk space",
                           description="Validate a plan as `plan run` does, without running anything, and "
                                       "print per step and in total the instrument time, the rows and the disk "
                                       "space it will write, and when it would end if started now.")
    check.add_argument("file", help="the plan (TOML)")
    check.add_argument("-o", "--output", default=None, metavar="DIR",
                       help="the run directory it would write (checked, and where free space is measured)")
    check.add_argument("--open", dest="open_instruments", action="store_true",
                       help="also open each device's instrument and check every request with it (nothing is sourced)")
    check.set_defaults(func=cmd_check)

    run = sub.add_parser("run", help="validate a plan, then run it into a new run directory")
    run.add_argument("file", help="the plan (TOML)")
    run.add_argument("-o", "--output", default=None, metavar="DIR",
                     help="the run directory (new or empty); with --dry-run, default: a throwaway one")
    run.add_argument("--no-check", action="store_true",
                     help="skip opening each device's instrument to check every request first")
    run.add_argument("--ignore-disk", action="store_true",
                     help="start even when the free disk space is short of what the plan writes")
    run.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    rehearsal = run.add_argument_group("dry run")
    rehearsal.add_argument("--dry-run", action="store_true",
                           help="rehearse: every instrument replaced by the simulated one of its model, at time "
                                "scale 0; nothing real is opened")
    rehearsal.add_argument("--sim", choices=PRESETS, default=None, metavar="PRESET",
                           help=f"with --dry-run: the simulated device for every device ({', '.join(PRESETS)}; "
                                "default: each device's own sim_preset, else bfo)")
    rehearsal.add_argument("--seed", type=int, default=None, metavar="N",
                           help="with --dry-run: device i gets seed N + i (default: each device's own seed)")
    rehearsal.add_argument("--faults", default="", metavar="SPEC",
                           help='with --dry-run: faults for every simulated instrument of a model, as `labqc sim '
                                'serve --faults` reads them, e.g. "2614B=drop@200|4200A=error@40:-286"')
    run.add_argument("--catalog", default=None, metavar="PATH",
                     help="the run catalog (default: $LABQC_CATALOG, else catalog.sqlite in DIR)")
    run.set_defaults(func=cmd_run)

    resume = sub.add_parser("resume", help="go on with a plan from its first incomplete step")
    resume.add_argument("directory", help="the run directory")
    resume.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    resume.add_argument("--catalog", default=None, metavar="PATH",
                        help="the run catalog (default: $LABQC_CATALOG, else catalog.sqlite in DIR)")
    resume.set_defaults(func=cmd_resume)

    status = sub.add_parser("status", help="show which steps of a plan are done")
    status.add_argument("directory", help="the run directory")
    status.set_defaults(func=cmd_status)


def cmd_check(args: argparse.Namespace) -> int:
    report = check_plan(args.file, args.output, open_instruments=args.open_instruments)
    print("\n".join(report.lines()))
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if report.disk_short:
        print("  (`labqc plan run` refuses to start on this disk unless given --ignore-disk)", file=sys.stderr)
    if report.problems:
        print(f"labqc plan check: {PlanError(report.problems, args.file)}", file=sys.stderr)
        return 2
    print("the plan can run")
    return 0


def _start_problems(args: argparse.Namespace, directory: str | Path) -> list[str]:
    """What `plan check` says stops the plan, before anything is created: the plan, the
    run directory, and a disk too small (unless --ignore-disk)."""
    report = check_plan(args.file, directory, limits=False)
    problems = list(report.problems)
    if report.disk_short and not args.ignore_disk:
        problems.append(disk_sentence(report) + "; free some space, choose another disk, or give --ignore-disk")
    return problems


def cmd_run(args: argparse.Namespace) -> int:
    if args.dry_run:
        return cmd_dry_run(args)
    if args.output is None:
        print("labqc plan run: give the run directory with -o DIR (or rehearse with --dry-run)", file=sys.stderr)
        return 2
    problems = _start_problems(args, args.output)
    if problems:
        print(f"labqc plan run: {PlanError(problems, args.file)}", file=sys.stderr)
        return 2
    with _Signals() as signals:
        try:
            start_plan(args.file, args.output, check_instruments=not args.no_check)
        except PlanError as exc:
            print(f"labqc plan run: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("labqc plan run: interrupted before the first step", file=sys.stderr)
            return 128 + (signals.received or signal.SIGINT)
        return _go(args.output, signals, args.no_progress, args.catalog)


def cmd_dry_run(args: argparse.Namespace) -> int:
    """The plan on the simulated instruments (procedures/dry_run.py), with its report."""
    directory = Path(args.output) if args.output is not None else throwaway_directory()
    problems = _start_problems(args, directory)
    if problems:
        if args.output is None:
            directory.rmdir()  # the throwaway directory, still empty
        print(f"labqc plan run --dry-run: {PlanError(problems, args.file)}", file=sys.stderr)
        return 2
    with _Signals() as signals:
        try:
            report = dry_run_plan(args.file, directory, preset=args.sim, seed=args.seed, faults=args.faults,
                                  progress=not args.no_progress)
        except PlanError as exc:
            print(f"labqc plan run --dry-run: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("labqc plan run --dry-run: interrupted before the first step", file=sys.stderr)
            return 128 + (signals.received or signal.SIGINT)
    print("\n".join(report.lines()), file=sys.stdout if report.ok else sys.stderr)
    if report.ok:
        return 0
    if report.result.status == ABORTED:
        return 128 + (signals.received or signal.SIGINT)
    return 1


def cmd_resume(args: argparse.Namespace) -> int:
    _warn_disk_left(Path(args.directory))
    with _Signals() as signals:
        return _go(args.directory, signals, args.no_progress, args.catalog)


def _warn_disk_left(directory: Path) -> None:
    """Before a resume: a warning when the runs still to do may not fit on the disk (no
    refusal: a plan stopped by a full disk is resumed once space is made, whatever it takes)."""
    try:
        plan, journal = open_plan(directory)
    except PlanError:
        return  # _go says why in one sentence
    state = journal.state()
    left = sum(estimate(run).bytes for run in plan.runs if not state.run(run.id).done)
    free = free_space(directory)
    if free is not None and free < left:
        print(f"labqc plan resume: warning: the runs left write up to {size_text(left)} but only "
              f"{size_text(free)} is free at {directory}", file=sys.stderr)


def _go(directory: str, signals: _Signals, no_progress: bool, catalog: str | None = None) -> int:
    try:
        result = run_plan(directory, progress=not no_progress, catalog=catalog)
    except PlanError as exc:
        print(f"labqc plan: {exc}", file=sys.stderr)
        return 2
    cause = f"; stopped by {signal.Signals(signals.received).name}" if signals.received else ""
    print(f"{result.status}: {result.done} of {result.total} runs done in {result.directory}"
          + (f" ({result.message}{cause})" if result.status != FINISHED else ""),
          file=sys.stdout if result.status == FINISHED else sys.stderr)
    if result.status == FINISHED:
        return 0
    if result.status == ABORTED:
        return 128 + (signals.received or signal.SIGINT)
    return 1


def cmd_status(args: argparse.Namespace) -> int:
    try:
        lines = plan_status(args.directory)
    except PlanError as exc:
        print(f"labqc plan status: {exc}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0
