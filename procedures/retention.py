"""Retention: hold a constant read bias and sample G/G0 at fixed or logarithmic
intervals, after optionally putting the device into LRS (SET ramp) or HRS (RESET ramp).
"""
from __future__ import annotations

import math

import numpy as np

from labqc.instruments.smu import Sampling, Sweep
from labqc.procedures import derive
from labqc.procedures import parameters as shared
from labqc.procedures.base import LabqcProcedure, require, triangle
from labqc.procedures.parameters import Choice, Float, Integer
from labqc.procedures.derive import fmt


class HoldTrace:
    """What the summary needs of the hold, kept as the rows stream (memory stays flat
    however long the hold): samples, first and last time and G, extremes, readings per
    quantum level, compliance hits."""

    def __init__(self) -> None:
        self.samples = self.compliance_hits = 0
        self.t_first = self.t_last = self.g_first = self.g_last = math.nan
        self.g_min, self.g_max = math.inf, -math.inf
        self.levels: dict[float, int] = {}

    def append(self, rows: np.ndarray) -> None:
        """Take one chunk of hold rows (labqc.chunk)."""
        if not len(rows):
            return
        t, g = rows["Time (s)"], rows["G/G0"]
        if not self.samples:
            self.t_first, self.g_first = float(t[0]), float(g[0])
        self.samples += len(rows)
        self.t_last, self.g_last = float(t[-1]), float(g[-1])
        finite = g[np.isfinite(g)]
        if finite.size:
            self.g_min, self.g_max = min(self.g_min, float(finite.min())), max(self.g_max, float(finite.max()))
        for level, n in derive.level_counts(g).items():
            self.levels[level] = self.levels.get(level, 0) + n
        self.compliance_hits += int(np.count_nonzero(rows["Compliance"]))


class Retention(LabqcProcedure):
    """Constant-bias retention: G/G0 against time at a read voltage (Ag nanowire, BiFeO3).

    Default: SET ramp to 3 V at 400 uA, then 0.1 V for 1000 s read every 10 s (1 NPLC).

    Paper protocols:
        Ag nanowire (10^3 s at 0.1 V, LRS and HRS):
            labqc run Retention --sim ag-nanowire --duration 1000 --prepare set
            labqc run Retention --sim ag-nanowire --duration 1000 --prepare reset
        BiFeO3 (beyond 6x10^3 s, logarithmic spacing):
            labqc run Retention --duration 6000 --spacing log --first 1 --per-decade 10
    """

    read_voltage = shared.read_level(0.1, "constant read bias (paper: 0.1 V)")
    compliance = shared.compliance("Compliance", 1e-3, "current limit during the hold")
    duration = Float("Duration", units="s", default=1000.0, minimum=0.0, maximum=1e8,
                     help="length of the hold (papers: 10^3 to 10^4 s)")
    spacing = Choice("Spacing", choices=["linear", "log"], default="linear",
                     help="linear (every interval) or log (per_decade samples per decade from first)")
    interval = Float("Interval", units="s", default=10.0, minimum=0.0, maximum=1e8,
                     help="time between samples (linear)")
    first = Float("First sample", units="s", default=1.0, minimum=0.0, maximum=1e8,
                  help="first sample time (log)")
    per_decade = Integer("Samples per decade", default=10, minimum=0, maximum=10_000,
                         help="samples per decade (log)")
    prepare = Choice("Prepare", choices=["set", "reset", "none"], default="set",
                     help="set: SET ramp first (LRS); reset: RESET ramp first (HRS); none")
    prepare_voltage = shared.voltage("Prepare voltage", 3.0, "end of the preparing ramp (magnitude)")
    prepare_compliance = shared.compliance("Prepare compliance", 400e-6,
                                           "current limit of the preparing ramp")
    nplc = shared.nplc(1.0, "integration time per sample")

    def validate(self) -> None:
        super().validate()
        require(self.read_voltage != 0, "the read voltage must not be 0 V (G = I/V is undefined there)")
        require(self.compliance > 0, "the hold needs a current compliance > 0 A")
        require(self.duration > 0, f"the duration must be > 0 s, got {self.duration:g} s")
        if self.spacing == "linear":
            require(0 < self.interval <= self.duration,
                    f"the interval must be > 0 s and at most the duration, got {self.interval:g} s")
        else:
            require(0 < self.first < self.duration,
                    f"the first sample must be > 0 s and before the end, got {self.first:g} s")
            require(self.per_decade >= 1, "log spacing needs at least 1 sample per decade")
        if self.prepare != "none":
            require(self.prepare_voltage > 0, "the prepare voltage must be > 0 V")
            require(self.prepare_compliance > 0, "the preparing ramp needs a current compliance > 0 A")

    def sampling(self) -> Sampling:
        if self.spacing == "linear":
            return Sampling.linear(self.read_voltage, self.compliance, self.interval, self.duration, nplc=self.nplc)
        return Sampling.log(self.read_voltage, self.compliance, self.first, self.duration,
                            per_decade=self.per_decade, nplc=self.nplc)

    def prepare_sweep(self) -> Sweep | None:
        if self.prepare == "none":
            return None
        v = self.prepare_voltage if self.prepare == "set" else -self.prepare_voltage
        return Sweep(levels=triangle(v, 0.02), compliance=self.prepare_compliance, step_time=5e-3, nplc=0.01)

    def requests(self):
        prep = self.prepare_sweep()
        return ([prep] if prep else []) + [self.sampling()]

    def startup(self) -> None:
        self.hold = HoldTrace()

    def execute(self) -> None:
        if not hasattr(self, "hold"):
            self.startup()
        prep = self.prepare_sweep()
        if prep is not None:
            self.measure(prep, cycle=1, segment=self.prepare)
        self.measure(self.sampling(), cycle=1, segment="hold", into=self.hold, keep=False)

    def summary(self) -> dict:
        hold = getattr(self, "hold", None)
        if hold is None or not hold.samples:
            return {"samples": 0}
        # The hold began times[0] before its first sample.
        hold_start = hold.t_first - float(self.sampling().times[0])
        return {
            "samples": hold.samples,
            "hold start (s)": hold_start,
            "hold length (s)": hold.t_last - hold_start,
            "first G/G0": hold.g_first,
            "last G/G0": hold.g_last,
            "min G/G0": hold.g_min if math.isfinite(hold.g_min) else math.nan,
            "max G/G0": hold.g_max if math.isfinite(hold.g_max) else math.nan,
            "levels visited (G0)": [lv for lv, n in sorted(hold.levels.items()) if n >= 3],
            "compliance hits": hold.compliance_hits,
        }

    def summary_lines(self, summary: dict) -> list[str]:
        if not summary.get("samples"):
            return ["no samples were taken"]
        levels = derive.levels_text(summary["levels visited (G0)"])
        return [f"{summary['samples']} samples over {fmt(summary['hold length (s)'], unit='s')} at "
                f"{self.read_voltage:g} V: G {fmt(summary['first G/G0'])} -> {fmt(summary['last G/G0'], suffix=' G0')}",
                f"levels visited: {levels}"]
