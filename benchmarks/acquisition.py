"""Acquisition throughput of the drivers through the simulated lab (time scale 0).

    python benchmarks/acquisition.py [--points N] [--repeats K]

Each case drives a real driver through the in-process PyVISA backend against an emulated
instrument and reports software throughput (readings per wall second: at time scale 0
the instrument costs nothing, so this is labqc's own ceiling) and round trips per
reading (messages written / readings received: chunked binary reads, not one query per
point). Targets: <= 0.02 round trips per reading and >= 1e5 readings/s. The wall time
spent inside VISA calls (transport plus the emulated instrument executing) is measured
apart, so ``driver_readings_per_s`` is labqc's own share: on hardware the instrument's
time replaces the emulator's.

Layout: ``CASES`` is a list of ``(name, function)``; a function takes the parsed
arguments and returns a dict of figures. Add a section with its own cases for another
instrument (the 4200A part goes below the 2614B part). The final line is JSON: the
headline figures of the first case (``readings_per_s``, ``roundtrips_per_reading``)
and every case's figures under ``cases``.
"""
from __future__ import annotations

import argparse
import json
import time
from typing import Callable

import numpy as np

from labqc.instruments.keithley2614b import Keithley2614B
from labqc.instruments.keithley4200a import Keithley4200A
from labqc.instruments.sim.lab import RES_2614B_GPIB, RES_4200A_LAN, get_lab, sim_library
from labqc.instruments.smu import PulseTrain, Sweep

Case = Callable[[argparse.Namespace], dict]
CASES: list[tuple[str, Case]] = []


def case(name: str):
    def register(fn: Case) -> Case:
        CASES.append((name, fn))
        return fn
    return register


class TransportClock:
    """Wall time spent inside the VISA session's calls (transport + the emulated instrument),
    so the driver's own share can be told apart from the simulator's."""

    def __init__(self, connection) -> None:
        self.seconds = 0.0
        self.writes = 0  # messages sent: one round trip each (a query is a write and a read)
        for name in ("write", "read", "read_bytes", "clear"):
            setattr(connection, name, self._timed(getattr(connection, name), name == "write"))

    def _timed(self, call, is_write: bool):
        def timed(*args, **kwargs):
            self.writes += is_write
            t0 = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t0
        return timed


def timed_run(smu, request, repeats: int, connection=None) -> dict:
    """Run ``request`` ``repeats`` times; best wall time (the machine is shared: load only
    ever adds time), messages per run. ``connection``: the driver's VISA session."""
    transport = TransportClock(connection if connection is not None else smu.tsp.adapter.connection)
    walls, own, messages, readings, chunks = [], [], [], 0, 0
    for _ in range(repeats):
        m0, inside, t0 = transport.writes, transport.seconds, time.perf_counter()
        readings, chunks = 0, 0
        for chunk in smu.run(request):
            readings += len(chunk)
            chunks += 1
        walls.append(time.perf_counter() - t0)
        own.append(walls[-1] - (transport.seconds - inside))
        messages.append(transport.writes - m0)
    wall, driver = min(walls), min(own)
    return {"readings": readings, "chunks": chunks, "wall_s": round(wall, 4),
            "readings_per_s": round(readings / wall), "driver_s": round(driver, 4),
            "driver_readings_per_s": round(readings / driver), "roundtrips": messages[-1],
            "roundtrips_per_reading": round(messages[-1] / readings, 5)}


def open_2614b(seed: int) -> Keithley2614B:
    spec = sim_library("ohmic", seed=seed, time_scale=0)
    get_lab(spec).reset()
    return Keithley2614B(RES_2614B_GPIB, visa_library=spec)


# --- Keithley 2614B ----------------------------------------------------------------------
@case("2614B list sweep (bipolar loop)")
def k2614b_list_sweep(args) -> dict:
    """A 0 → +1 V → 0 → −1 V → 0 loop as one list sweep, 1 ms steps, 0.01 NPLC."""
    q = args.points // 4
    levels = np.r_[np.linspace(0, 1, q, endpoint=False), np.linspace(1, 0, q, endpoint=False),
                   np.linspace(0, -1, q, endpoint=False), np.linspace(-1, 0, args.points - 3 * q)]
    smu = open_2614b(seed=101)
    try:
        return timed_run(smu, Sweep(levels, compliance=1e-3, step_time=1e-3, nplc=0.01), args.repeats)
    finally:
        smu.close()


@case("2614B linear sweep")
def k2614b_linear_sweep(args) -> dict:
    smu = open_2614b(seed=102)
    try:
        return timed_run(smu, Sweep(np.linspace(-1, 1, args.points), compliance=1e-3, step_time=1e-3,
                                    nplc=0.01), args.repeats)
    finally:
        smu.close()


@case("2614B pulse train with reads")
def k2614b_pulses(args) -> dict:
    n = args.points // 2
    smu = open_2614b(seed=103)
    try:
        train = PulseTrain.uniform(1.5, n, width=1e-3, period=4e-3, compliance=1e-3, read_level=0.1,
                                   read_width=1e-3)
        return timed_run(smu, train, args.repeats)
    finally:
        smu.close()


# --- Keithley 4200A-SCS -------------------------------------------------------------------
def open_4200a(seed: int) -> Keithley4200A:
    spec = sim_library("ohmic", seed=seed, time_scale=0)
    get_lab(spec).reset()
    return Keithley4200A(RES_4200A_LAN, visa_library=spec)


@case("4200A list sweep over KXCI Ethernet")
def k4200a_list_sweep(args) -> dict:
    """A bipolar sine as a system-mode list sweep at the SMU's 2.5 ms minimum step (VL, at most 4096 points per test,
    longer lists chained), read back with DO while it runs."""
    smu = open_4200a(seed=201)
    try:
        levels = np.sin(np.linspace(0, 2 * np.pi, args.points))
        return timed_run(smu, Sweep(levels, compliance=1e-3, step_time=2.5e-3, nplc=0.01), args.repeats,
                         smu.kxci.adapter.connection)
    finally:
        smu.close()


@case("4200A PMU pulse train")
def k4200a_pulses(args) -> dict:
    """Identical pulses in standard pulse mode, spot-mean data paged 2048 points a call."""
    smu = open_4200a(seed=202)
    try:
        train = PulseTrain.uniform(1.5, min(args.points, 10_000), width=1e-4, period=4e-4, compliance=1e-2)
        return timed_run(smu, train, args.repeats, smu.kxci.adapter.connection)
    finally:
        smu.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=10_000, help="readings per run (default 10000)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per case; the fastest counts (default 5)")
    args = parser.parse_args(argv)
    results = []
    for name, fn in CASES:
        figures = {"case": name, **fn(args)}
        results.append(figures)
        print(f"{name:34s} {figures['readings']:6d} readings {figures['readings_per_s']:>9,d}/s end to end "
              f"{figures['driver_readings_per_s']:>10,d}/s in labqc  {figures['roundtrips_per_reading']:.4f} "
              f"round trips/reading ({figures['chunks']} chunks)")
    head = results[0]
    print(json.dumps({"readings_per_s": head["readings_per_s"],
                      "driver_readings_per_s": head["driver_readings_per_s"],
                      "roundtrips_per_reading": head["roundtrips_per_reading"],
                      "points": head["readings"], "cases": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
