"""`labqc runs`: the run catalog from the command line.

    labqc runs list --device NW1 --device NW2 --procedure CurrentSweep --since 2026-12-01
    labqc runs list --status running --json          # a JSON array, one object per run
    labqc runs show 17                               # every column, parameters and summary
    labqc runs import results/ runs/                 # index files already on disk (twice adds nothing)
    labqc runs verify                                # files missing or changed, runs left running

The catalog is --catalog PATH (a file, or a folder holding catalog.sqlite), else
$LABQC_CATALOG, else results/catalog.sqlite. The filters (shared with `labqc analyze`) are
ANDed; a repeated filter matches any of its values; names match without regard to case.
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from labqc.catalog import STATUSES, Catalog, CatalogError, catalog_path, iso, parse_time

#: What `runs list --json` gives for each run (at least these; see LIST_FIELDS).
JSON_FIELDS = ("id", "sample", "device", "operator", "note", "procedure", "status", "rows", "file",
               "started", "finished", "sha256", "instrument", "plan", "error")


def register(subparsers: argparse._SubParsersAction) -> None:
    runs = subparsers.add_parser("runs", help="the run catalog: list, show, import, verify",
                                 description="List, show, import and verify the runs in the run catalog.")
    sub = runs.add_subparsers(dest="runs_command", metavar="COMMAND", required=True)

    lst = sub.add_parser("list", help="list runs, filtered")
    add_catalog_option(lst)
    add_filters(lst)
    lst.add_argument("--json", action="store_true", help="a JSON array of runs instead of a table")
    lst.set_defaults(func=cmd_list)

    show = sub.add_parser("show", help="every recorded detail of one run")
    add_catalog_option(show)
    show.add_argument("id", type=int, help="the run's id (see labqc runs list)")
    show.add_argument("--json", action="store_true", help="as one JSON object")
    show.set_defaults(func=cmd_show)

    imp = sub.add_parser("import", help="index results files and plan folders already on disk")
    add_catalog_option(imp)
    imp.add_argument("directory", nargs="+", help="folders searched for results files (*.csv)")
    imp.set_defaults(func=cmd_import)

    ver = sub.add_parser("verify", help="check the catalog against the files (exit 1 if anything is off)")
    add_catalog_option(ver)
    ver.set_defaults(func=cmd_verify)


def add_catalog_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--catalog", default=None, metavar="PATH",
                        help="the run catalog (default: $LABQC_CATALOG, else results/catalog.sqlite)")


def add_filters(parser: argparse.ArgumentParser) -> None:
    """The run filters of `labqc runs list` and `labqc analyze`."""
    g = parser.add_argument_group("which runs (from the run catalog)")
    g.add_argument("--sample", action="append", default=[], metavar="NAME", help="this sample (repeatable)")
    g.add_argument("--device", action="append", default=[], metavar="NAME", help="this device (repeatable)")
    g.add_argument("--procedure", action="append", default=[], metavar="NAME",
                   help="this procedure, e.g. CurrentSweep (repeatable)")
    g.add_argument("--status", action="append", default=[], choices=STATUSES, help="this status (repeatable)")
    g.add_argument("--since", type=_time(False), default=None, metavar="DATE",
                   help="started at or after (YYYY-MM-DD or YYYY-MM-DDTHH:MM, local time)")
    g.add_argument("--until", type=_time(True), default=None, metavar="DATE",
                   help="started at or before (a bare date includes that whole day)")


def has_filters(args: argparse.Namespace) -> bool:
    return any(getattr(args, k, None) for k in ("sample", "device", "procedure", "status", "since", "until"))


def select(cat: Catalog, args: argparse.Namespace) -> list[dict]:
    """The runs the filters in ``args`` select, oldest first."""
    return cat.runs(sample=args.sample, device=args.device, procedure=args.procedure, status=args.status,
                    since=args.since, until=args.until)


def open_catalog(args: argparse.Namespace, *, create: bool = False) -> Catalog:
    return Catalog(catalog_path(args.catalog), create=create)


def _time(end_of_day: bool):
    def parse(text: str) -> float:
        try:
            return parse_time(text, end_of_day=end_of_day)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return parse


# ---------------------------------------------------------------------- commands
def cmd_list(args: argparse.Namespace) -> int:
    try:
        with open_catalog(args) as cat:
            runs = select(cat, args)
    except CatalogError as exc:
        return _fail("list", exc)
    if args.json:
        print(json.dumps([as_json(r) for r in runs], indent=1))
        return 0
    if not runs:
        print("no runs match", file=sys.stderr)
        return 0
    print(f"{'id':>6}  {'started':<16}  {'sample':<10} {'device':<8} {'procedure':<13} {'status':<8} "
          f"{'rows':>9}  file")
    for r in runs:
        print(f"{r['id']:>6}  {_local(r['started']):<16}  {r['sample'][:10]:<10} {r['device'][:8]:<8} "
              f"{r['procedure'][:13]:<13} {r['status']:<8} {r['rows']:>9,}  {r['file']}")
    print(f"{len(runs)} run{'s' if len(runs) != 1 else ''}", file=sys.stderr)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    try:
        with open_catalog(args) as cat:
            run = cat.get(args.id)
    except CatalogError as exc:
        return _fail("show", exc)
    if run is None:
        print(f"labqc runs show: there is no run {args.id} in the catalog", file=sys.stderr)
        return 1
    record = {**as_json(run), "parameters": run["parameters"], "summary": run["summary"],
              "host": run["host"], "pid": run["pid"]}
    if args.json:
        print(json.dumps(record, indent=1))
        return 0
    for key in ("id", "procedure", "status", "sample", "device", "operator", "note", "started", "finished",
                "rows", "path", "sha256", "instrument", "plan", "error"):
        if record.get(key) not in ("", None):
            print(f"{key + ':':<12}{record[key]}")
    for title in ("parameters", "summary"):
        block = record[title]
        if block:
            print(f"{title}:")
            for k, v in block.items():
                text = json.dumps(v) if isinstance(v, (list, dict)) else _shown(v)
                print(f"  {k}: {text if len(str(text)) < 200 else str(text)[:197] + '...'}")
    return 0


def _shown(value: Any) -> Any:
    """A stored parameter or figure as labqc shows values: "0.0001 A" (the results file's
    header) as 100 µA, a float to 6 digits."""
    from labqc.quantity import BASE_UNITS, format_quantity

    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str):
        number, _, unit = value.partition(" ")
        if unit in BASE_UNITS:
            try:
                return format_quantity(float(number), unit)
            except ValueError:
                pass
    return value


def cmd_import(args: argparse.Namespace) -> int:
    try:
        with open_catalog(args, create=True) as cat:
            total = [0, 0, 0]
            for directory in args.directory:
                from labqc.catalog_files import import_directory  # here: it imports pandas

                report = import_directory(cat, directory)
                total = [total[0] + report.added, total[1] + report.known, total[2] + report.skipped]
            path = cat.path
    except CatalogError as exc:
        return _fail("import", exc)
    print(f"imported {total[0]} run{'s' if total[0] != 1 else ''} into {path} ({total[1]} already catalogued, "
          f"{total[2]} .csv files that are not results files)")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    try:
        with open_catalog(args) as cat:
            from labqc.catalog_files import verify  # here: it imports pandas

            findings = verify(cat)
            n = cat.count()
    except CatalogError as exc:
        return _fail("verify", exc)
    for f in findings:
        print(f.text)
    if findings:
        kinds: dict[str, int] = {}
        for f in findings:
            kinds[f.kind] = kinds.get(f.kind, 0) + 1
        print(f"{len(findings)} of {n} runs need attention: "
              + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())), file=sys.stderr)
        return 1
    print(f"catalog OK: {n} runs, every file present and unchanged, none left running")
    return 0


# ---------------------------------------------------------------------- helpers
def as_json(run: dict) -> dict[str, Any]:
    out = {k: run.get(k) for k in JSON_FIELDS}
    out["path"] = run.get("path")  # the file as this computer reaches it (file may be relative to the catalog)
    out["started"], out["finished"] = iso(run.get("started")), iso(run.get("finished"))
    return out


def _local(t: float | None) -> str:
    return "" if t is None else datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M")


def _fail(command: str, exc: Exception) -> int:
    print(f"labqc runs {command}: {exc}", file=sys.stderr)
    return 1


__all__ = ["register", "add_filters", "add_catalog_option", "has_filters", "select", "open_catalog",
           "as_json", "JSON_FIELDS"]
