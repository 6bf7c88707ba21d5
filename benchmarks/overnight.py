"""Overnight-scale runs on the simulator at time scale 0: a 10^4-cycle endurance run
(pulse SET/RESET with a read after each, 4 rows per cycle), a 10^4 s retention run (one
read per second, so one row per chunk: the stream's per-chunk cost) and a potentiation/
depression pulse train (2.5·10^4 pulses each way, the 2614B's most, a read after each:
long enough that its RSS slope is not allocator noise), each written to its results file
as it goes.

Reported per run: wall and CPU time, rows per second, peak RSS, and RSS sampled as the run
grows with its slope (MB per 10^4 rows over the second half of the run; flat means
memory does not grow with the run). Targets: retention <= 10 s wall, every slope
<= 0.5 MB per 10^4 rows, peak RSS <= 200 MB for endurance and retention (the pulse
train, last, runs on its own peak: the simulated instrument holds its whole program).

    python benchmarks/overnight.py                 # full size
    python benchmarks/overnight.py --cycles 1000   # quicker look

The last line is JSON.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from labqc.procedures import Endurance, PulseTrain, Retention  # noqa: E402
from labqc.procedures.runner import Target, run_procedure  # noqa: E402


def rss_mb() -> float:
    """Resident set size now, from /proc (ru_maxrss is only the peak)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class RssSampler:
    """A run listener: (rows so far, RSS) every ``every`` wall seconds."""

    def __init__(self, every: float = 0.02) -> None:
        self.every = every
        self.rows = 0
        self.samples: list[tuple[int, float]] = []
        self._last = 0.0

    def __call__(self, topic, payload) -> None:
        if topic != "batch":
            return
        self.rows += len(payload)
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            self.samples.append((self.rows, rss_mb()))

    def slope_mb_per_10k_rows(self) -> float:
        half = self.samples[len(self.samples) // 2:]
        if len(half) < 3:
            return float("nan")
        rows, mb = np.array(half, dtype=float).T
        if np.ptp(rows) == 0:
            return float("nan")
        return float(np.polyfit(rows, mb, 1)[0] * 1e4)


def measure(name: str, proc, directory: Path, target: Target) -> dict:
    sampler = RssSampler()
    rss0 = rss_mb()
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    result = run_procedure(proc, directory / f"{name}.csv", target=target, listeners=[sampler])
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    out = {
        "status": result.status,
        "rows": result.rows,
        "instrument_s": round(result.instrument_seconds, 1),
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "rows_per_s": round(result.rows / wall, 1) if wall > 0 else None,
        "rss_start_mb": round(rss0, 1),
        "rss_end_mb": round(rss_mb(), 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "rss_slope_mb_per_10k_rows": round(sampler.slope_mb_per_10k_rows(), 3),
        "rss_samples": len(sampler.samples),
        "file_mb": round((directory / f"{name}.csv").stat().st_size / 1e6, 2),
    }
    if result.error:
        out["error"] = result.error
    return out


def _no_nan(value):
    """NaN (a slope from too few samples) as null: the last line is strict JSON."""
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    return None if isinstance(value, float) and value != value else value


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cycles", type=int, default=10_000, help="endurance cycles (default 10^4)")
    ap.add_argument("--duration", type=float, default=10_000.0, help="retention seconds (default 10^4)")
    ap.add_argument("--interval", type=float, default=1.0, help="retention sampling interval, s")
    ap.add_argument("--pulses", type=int, default=25_000, help="pulse-train pulses per phase (default 2.5·10^4, the 2614B's limit)")
    args = ap.parse_args(argv)
    report: dict = {"benchmark": "overnight", "python": sys.version.split()[0]}
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        endurance = Endurance(method="pulse", cycles=args.cycles,
                              set_voltage=1.5, reset_voltage=-1.5, set_compliance=5e-3,
                              pulse_width=5.0, stuck_cycles=0)
        r = measure("endurance", endurance, directory, Target(preset="bfo", seed=11))
        r["cycles"] = args.cycles
        r["cycles_per_s"] = round(args.cycles / r["wall_s"], 1) if r["wall_s"] else None
        print(f"endurance: {args.cycles} cycles, {r['rows']} rows in {r['wall_s']} s wall "
              f"({r['rows_per_s']} rows/s, {r['cycles_per_s']} cycles/s), peak RSS {r['peak_rss_mb']} MB, "
              f"slope {r['rss_slope_mb_per_10k_rows']} MB/10^4 rows", file=sys.stderr)
        report["endurance"] = r
        retention = Retention(duration=args.duration, interval=args.interval,
                              prepare="set")
        r = measure("retention", retention, directory, Target(preset="bfo", seed=12))
        print(f"retention: {args.duration:g} s, {r['rows']} rows in {r['wall_s']} s wall "
              f"({r['rows_per_s']} rows/s), peak RSS {r['peak_rss_mb']} MB, "
              f"slope {r['rss_slope_mb_per_10k_rows']} MB/10^4 rows", file=sys.stderr)
        report["retention"] = r
        report["peak_rss_mb"] = round(peak_rss_mb(), 1)  # endurance and retention
        train = PulseTrain(mode="ltp-ltd", count=args.pulses, prepare=False)
        r = measure("pulse_train", train, directory, Target(preset="bfo", seed=13))
        print(f"pulse train: {2 * args.pulses} pulses, {r['rows']} rows in {r['wall_s']} s wall "
              f"({r['rows_per_s']} rows/s), peak RSS {r['peak_rss_mb']} MB, "
              f"slope {r['rss_slope_mb_per_10k_rows']} MB/10^4 rows", file=sys.stderr)
        report["pulse_train"] = r
    slopes = [report[k]["rss_slope_mb_per_10k_rows"] for k in ("endurance", "retention", "pulse_train")]
    report["target_peak_rss_mb"] = 200
    report["target_retention_wall_s"] = 10
    report["target_rss_slope_mb_per_10k_rows"] = 0.5
    report["within_target"] = bool(report["peak_rss_mb"] <= 200 and report["retention"]["wall_s"] <= 10
                                   and all(s <= 0.5 for s in slopes if s == s))
    print(json.dumps(_no_nan(report)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
