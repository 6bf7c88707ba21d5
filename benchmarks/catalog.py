"""Run catalog and pooled analysis at scale; the last line printed is JSON.

    python benchmarks/catalog.py                   # 10^5 catalogued runs, 10^3 pooled files
    python benchmarks/catalog.py --files 100       # a quicker pooling run
    python benchmarks/catalog.py --keep /tmp/pool  # keep (and reuse) the generated files

Targets (issue 14): with 10^5 runs in the catalog a filtered list takes < 50 ms and
registering a run (start + completion) adds < 5 ms to it; pooling 10^3 results files of
5000 rows (5·10^6 rows) takes < 60 s with a peak RSS < 500 MB. The files are synthetic
current-sweep-like traces (labqc.synthetic: quantised plateaus, white noise, a series
resistance per device) written as real results files; the pooling runs as a user would run
it, `python -m labqc analyze --catalog ... --procedure CurrentSweep --no-figures`, in its own
process, whose peak RSS the operating system reports.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labqc.catalog import Catalog  # noqa: E402
from labqc.catalog_files import RunRecorder  # noqa: E402
from labqc.results import COLUMNS, header_text  # noqa: E402
from labqc.units import G0  # noqa: E402

DEVICES = 100  # in the 10^5-run catalog
ROWS, CYCLES = 5000, 5
V_READ = 0.1  # V, the bias of the synthetic traces
T0 = 1.7e9  # POSIX s, the first catalogued run; one every 5 minutes after it
RUN_S = 0.05  # s, the shortest run the registration overlaps (a one-cycle SetReset takes longer)


# ---------------------------------------------------------------------- the catalog
def fill_catalog(path: Path, n: int) -> None:
    rng = np.random.default_rng(1)
    t0 = T0
    procs = ["CurrentSweep", "VoltageSweep", "SetReset", "PulseTrain", "Endurance"]
    with Catalog(path) as cat:
        batch = []
        for k in range(n):
            batch.append(dict(file=path.parent / f"runs/{k:06d}.csv", sample=f"W{k % 7}",
                              device=f"NW{int(rng.integers(DEVICES))}", procedure=procs[k % len(procs)],
                              started=t0 + k * 300.0, finished=t0 + k * 300.0 + 120, status="finished",
                              rows=int(rng.integers(100, 10000)), parameters={"Cycles": "2", "Compliance": "0.0001 A"},
                              summary={"cycles done": 2, "median LRS G/G0": 2.9}, sha256="0" * 64))
            if len(batch) == 10_000:
                cat.register_many(batch)
                batch = []
        cat.register_many(batch)


def time_list(path: Path, n: int, repeats: int = 20) -> dict:
    since = T0 + n * 300.0 / 2  # the second half of the runs
    filters = dict(device=["NW3", "NW17"], procedure=["CurrentSweep"], since=since)
    open_query, query = [], []
    with Catalog(path, create=False) as cat:
        for _ in range(repeats):
            t = time.perf_counter()
            rows = cat.runs(**filters)
            query.append(time.perf_counter() - t)
    for _ in range(repeats):  # as `labqc runs list` does it: open, query, close
        t = time.perf_counter()
        with Catalog(path, create=False) as cat:
            cat.runs(**filters)
        open_query.append(time.perf_counter() - t)
    return {"rows_returned": len(rows), "query_ms_median": 1e3 * statistics.median(query),
            "open_query_ms_median": 1e3 * statistics.median(open_query), "open_query_ms_max": 1e3 * max(open_query)}


def time_register(path: Path, work: Path, repeats: int = 30) -> dict:
    from labqc.procedures.current_sweep import CurrentSweep

    proc = CurrentSweep()
    proc.device = "NW1"
    csv = work / "register.csv"
    write_results(csv, *trace(0, 0.0, 1000, 2))
    starts, finishes = [], []
    for k in range(repeats):
        recorder = RunRecorder(path)
        target = work / f"reg{k}.csv"
        shutil.copy(csv, target)
        t = time.perf_counter()
        recorder.start(proc, target)
        starts.append(time.perf_counter() - t)
        time.sleep(RUN_S)  # the run measures meanwhile
        result = SimpleNamespace(status="finished", path=target, rows=1000, summary={"cycles done": 2}, error="")
        t = time.perf_counter()
        recorder.finish(result)
        finishes.append(time.perf_counter() - t)
        assert not recorder.problem, recorder.problem
    # Time the run waits for the catalog: start() and finish(), the registration being
    # written meanwhile; the first run of a process also opens the catalog (its WAL files).
    return {"first_run_ms": 1e3 * (starts[0] + finishes[0]), "start_ms_median": 1e3 * statistics.median(starts), "finish_ms_median": 1e3 * statistics.median(finishes),
            "total_ms_median": float(1e3 * statistics.median(np.add(starts, finishes)))}


# ---------------------------------------------------------------------- pooled files
def trace(seed: int, r_series: float, rows: int = ROWS, cycles: int = CYCLES) -> tuple[np.ndarray, np.ndarray]:
    """G/G0 (measured, with R_s) and the cycle of each sample: exactly ``rows`` samples."""
    from labqc.synthetic import TraceSpec, make_trace

    spec = TraceSpec(seed=seed, n_cycles=cycles, plateaus_per_cycle=(4, 8), dwell_median=rows / cycles / 7,
                     max_half_quanta=16, white=0.03, r_series=r_series)
    tr = make_trace(spec)
    cycle = np.searchsorted(tr.cycle_starts, np.arange(tr.g.size), side="right")
    reps = -(-rows // tr.g.size)
    return np.tile(tr.g, reps)[:rows], np.tile(cycle, reps)[:rows]


def write_results(path: Path, g: np.ndarray, cycle: np.ndarray) -> None:
    from labqc.procedures.current_sweep import CurrentSweep

    n = g.size
    i = g * G0 * V_READ
    cols = [np.arange(n) * 0.01, i, np.full(n, V_READ), i, g * G0, g, g, np.zeros(n, bool), cycle]
    body = np.column_stack([c.astype(float) for c in cols])
    lines = [",".join(f"{v:.6g}" for v in row[:7]) + f",False,{int(row[8])},forward,-1" for row in body]
    with open(path, "w", encoding="utf-8") as f:
        f.write(header_text(CurrentSweep()) + ",".join(COLUMNS) + "\n" + "\n".join(lines) + "\n")


def make_files(folder: Path, n: int, cat_path: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rs = np.random.default_rng(7).uniform(150, 450, 10)  # ten devices, each its own R_s
    records = []
    for k in range(n):
        path = folder / f"sweep-{k:04d}.csv"
        if not path.exists():
            write_results(path, *trace(k, float(rs[k % 10])))
        records.append(dict(file=path, device=f"D{k % 10}", procedure="CurrentSweep", status="finished",
                            rows=ROWS, started=1.7e9 + k))
    with Catalog(cat_path) as cat:
        cat.register_many(records)


def time_pooled(cat_path: Path) -> dict:
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "labqc", "analyze", "--catalog", str(cat_path), "--procedure",
                           "CurrentSweep", "--no-figures"], cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(f"pooled analysis failed: {done.stderr.strip()}")
    return {"seconds": wall, "peak_rss_mb": _children_peak_rss_mb(), "first_line": done.stdout.splitlines()[0]}


def _children_peak_rss_mb() -> float | None:
    try:
        import resource
    except ImportError:  # Windows: no getrusage
        return None
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return peak / 1024.0 if sys.platform != "darwin" else peak / 2**20  # kB on Linux, bytes on macOS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=100_000, help="runs in the catalog (default 10^5)")
    ap.add_argument("--files", type=int, default=1000, help="results files pooled (default 10^3)")
    ap.add_argument("--keep", type=Path, default=None, help="folder for the generated files (kept, reused)")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="labqc-catalog-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        big = work / "big" / "catalog.sqlite"
        if big.exists():
            big.unlink()
        t = time.perf_counter()
        fill_catalog(big, args.runs)
        fill_s = time.perf_counter() - t
        listing = time_list(big, args.runs)
        register = time_register(big, work)
        print(f"catalog of {args.runs} runs filled in {fill_s:.1f} s; filtered list {listing['open_query_ms_median']:.1f} ms "
              f"(query alone {listing['query_ms_median']:.1f} ms, {listing['rows_returned']} runs); register "
              f"{register['start_ms_median']:.1f} + complete {register['finish_ms_median']:.1f} ms", file=sys.stderr)
        pool_cat = work / "pool" / "catalog.sqlite"
        if pool_cat.exists():
            pool_cat.unlink()
        t = time.perf_counter()
        make_files(work / "pool" / "files", args.files, pool_cat)
        print(f"{args.files} files ready in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        pooled = time_pooled(pool_cat)
        print(f"pooled: {pooled['first_line']} in {pooled['seconds']:.1f} s, peak RSS {pooled['peak_rss_mb']} MB",
              file=sys.stderr)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    rss = pooled["peak_rss_mb"]
    print(json.dumps({
        "catalog_runs": args.runs, "filtered_list": listing, "register": register,
        "pooled": {"files": args.files, "rows": args.files * ROWS, **pooled},
        "targets": {"filtered_list_ms": 50, "register_ms": 5, "pooled_s_per_1000_files": 60, "peak_rss_mb": 500},
        "meets_targets": {
            "filtered_list": listing["open_query_ms_median"] < 50,
            "register": register["total_ms_median"] < 5,
            "pooled_time": pooled["seconds"] * 1000 / args.files < 60,
            "pooled_rss": rss is not None and rss < 500,
        },
    }))


if __name__ == "__main__":
    main()
