"""Per-call cost of the simulated memristor for the small drives emulators send.

    python benchmarks/sim_small_drives.py [--quick]

An emulator calls ``Device.apply`` once per spot reading (a one-step Drive) and
``Device.rest`` for every stretch of output-off time, so these calls bound the
one-query-per-reading throughput of the simulated instruments. Figures (printed, and
as JSON on the final line), per preset, in microseconds per call:
- apply_1step_us: ``apply(Drive("V", [0.1], 1e-3, 1e-3, 1e-3))`` on a formed device
  at a read bias (the SMU's measure.i() with the output on);
- apply_2step_us: a two-step drive (hold, then the measured step), as a TSP spot
  measurement with a source delay sends it;
- apply_1step_i_us: a one-step current-source drive;
- rest_us: ``rest(1e-3)`` (output off between readings);
- large_drive_steps_per_s: one 10^6-step read-like drive, for comparison;
- drive_construction_us: building the one-step ``Drive`` itself (the emulator pays it too).
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from labqc.instruments.sim.device import Drive
from labqc.instruments.sim.presets import make_device


def per_call_us(fn, calls: int, repeats: int = 5) -> float:
    """CPU time per call, best of ``repeats`` runs of ``calls`` calls (CPU time and the
    best run, because the machine may be shared)."""
    fn()  # first call builds the state's tables
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        for _ in range(calls):
            fn()
        best = min(best, time.process_time() - t0)
    return 1e6 * best / calls


def large_rate(preset: str, steps: int) -> float:
    dev = make_device(preset, 0, n_channels=2)
    levels = 0.05 * np.abs(((np.arange(steps) / 500.0) % 2.0) - 1.0)
    t0 = time.process_time()
    dev.apply(Drive("V", levels, 1e-3, 1e-3, 1e-3))
    return steps / (time.process_time() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls")
    args = parser.parse_args()
    calls = 2000 if args.quick else 20000
    results: dict[str, float | int] = {"calls": calls}
    for preset in ("ag-nanowire", "bfo"):
        dev = make_device(preset, 0, n_channels=2)
        one = Drive("V", [0.1], 1e-3, 1e-3, 1e-3)
        two = Drive("V", [0.1, 0.1], [1e-3, 2e-3], 1e-3, 1e-3)
        cur = Drive("I", [1e-6], 1e-3, 1e-3, 1.0)
        key = preset.replace("-", "_")
        results[f"{key}_apply_1step_us"] = round(per_call_us(lambda: dev.apply(one), calls), 1)
        results[f"{key}_apply_2step_us"] = round(per_call_us(lambda: dev.apply(two), calls), 1)
        results[f"{key}_apply_1step_i_us"] = round(per_call_us(lambda: dev.apply(cur), calls), 1)
        results[f"{key}_rest_us"] = round(per_call_us(lambda: dev.rest(1e-3), calls), 1)
        results[f"{key}_large_drive_steps_per_s"] = round(large_rate(preset, 10**5 if args.quick else 10**6))
        r = {name[len(key) + 1:]: value for name, value in results.items() if name.startswith(key)}
        print(f"{preset}: apply 1 step {r['apply_1step_us']} us, 2 steps {r['apply_2step_us']} us, "
              f"1 step I-source {r['apply_1step_i_us']} us, rest {r['rest_us']} us; "
              f"one big drive {r['large_drive_steps_per_s']:,} steps/s")
    build = lambda: Drive("V", [0.1], 1e-3, 0.0, 1e-3)  # noqa: E731
    results["drive_construction_us"] = round(per_call_us(build, calls), 1)
    print(f"Drive(...) construction: {results['drive_construction_us']} us")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
