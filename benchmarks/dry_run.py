"""A rehearsal's cost: `labqc plan check` and `labqc plan run --dry-run` of the demo plan
(or another), wall seconds against the instrument time they stand for.

    python benchmarks/dry_run.py                          # sample_data/plans/demo.toml
    python benchmarks/dry_run.py my_plan.toml

The last line is JSON.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labqc.procedures.dry_run import dry_run_plan  # noqa: E402
from labqc.procedures.plan_check import check_plan  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plan", nargs="?", default=str(ROOT / "sample_data" / "plans" / "demo.toml"))
    args = parser.parse_args()

    t0 = time.perf_counter()
    report = check_plan(args.plan)
    check_s = time.perf_counter() - t0
    if not report.ok:
        raise SystemExit("\n".join(report.problems))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        dry = dry_run_plan(args.plan, Path(tmp) / "run", stream=None)
        dry_s = time.perf_counter() - t0
    print(f"check: {check_s:.2f} s for {len(report.estimates)} runs; dry run: {dry_s:.2f} s wall for "
          f"{dry.instrument_seconds:.1f} s of instrument time ({dry.result.status})")
    print(json.dumps({"plan": Path(args.plan).name, "runs": len(report.estimates),
                      "check_wall_s": round(check_s, 3), "dry_run_wall_s": round(dry_s, 3),
                      "estimated_instrument_s": round(report.seconds, 2),
                      "dry_run_instrument_s": round(dry.instrument_seconds, 2),
                      "estimated_rows": report.rows, "dry_run_rows": dry.rows,
                      "instrument_s_per_wall_s": round(dry.instrument_seconds / max(dry_s, 1e-9), 1),
                      "status": dry.result.status}))


if __name__ == "__main__":
    main()
