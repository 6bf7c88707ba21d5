"""CurrentSweep: source current, measure voltage (Ag nanowires). G = I/V rises in steps
as the filament gains atoms one at a time; a reverse branch and a RESET voltage sweep
between cycles are optional.
"""
from __future__ import annotations

import math

import numpy as np

from labqc.instruments.smu import Sweep
from labqc.procedures import derive
from labqc.procedures import parameters as shared
from labqc.procedures.base import LabqcProcedure, ramp, require, triangle
from labqc.procedures.parameters import Flag, Float
from labqc.procedures.derive import fmt


class CurrentSweep(LabqcProcedure):
    """Current sweeps 0 -> I_max (-> 0) with a voltage limit; G/G0 climbs in quantum steps.

    Default: 2 cycles 0 -> 20 uA at 90 nA/s in 100 nA steps (about 220 s of instrument
    time per branch), voltage limit 2 V, reverse branch on, a RESET sweep 0 -> -1 V -> 0
    (1 mA limit) between cycles, read at 0.1 V after each branch.

    Paper protocol (Ag nanowire, 0-20 uA at ~90 nA/s; 116 SET cycles on 5 devices):
        labqc run CurrentSweep --sim ag-nanowire --i-step 10 --cycles 116
    """

    i_max = shared.compliance("Maximum current", 20e-6, "end of the current ramp (paper: 20 uA)")
    i_step = Float("Current step", units="nA", default=100.0, minimum=0.0, maximum=1e9, help="current step")
    rate = Float("Sweep rate", units="nA/s", default=90.0, minimum=0.0, maximum=1e12,
                 help="current ramp rate (paper: ~90 nA/s)")
    v_limit = shared.voltage("Voltage limit", 2.0, "voltage compliance while sourcing current")
    reverse = Flag("Reverse branch", default=True, help="also sweep back I_max -> 0")
    reset = Flag("RESET between cycles", default=True, help="RESET voltage sweep 0 -> V -> 0 between cycles")
    reset_voltage = shared.voltage("RESET voltage", -1.0,
                                   "end of the RESET voltage sweep (signed)", signed=True)
    reset_compliance = shared.compliance("RESET compliance", 1e-3, "current limit of the RESET sweep")
    reset_step = shared.voltage_step("RESET step", 10.0, "voltage step of the RESET sweep")
    reset_step_time = shared.milliseconds("RESET step time", 5.0, "time per step of the RESET sweep")
    cycles = shared.cycles(2, "number of current sweeps")
    read_voltage, read_compliance = shared.read(0.1, "read after each branch")
    nplc = shared.nplc(1.0, "integration time per point")

    def validate(self) -> None:
        super().validate()
        require(self.i_max > 0, f"the maximum current must be > 0 A, got {self.i_max:g} A")
        require(self.i_step > 0, f"the current step must be > 0 nA, got {self.i_step:g} nA")
        require(self.i_step * 1e-9 <= self.i_max, "the current step is larger than the maximum current")
        require(self.rate > 0, f"the sweep rate must be > 0 nA/s, got {self.rate:g} nA/s")
        require(self.v_limit > 0, "a current sweep needs a voltage limit > 0 V")
        require(self.cycles >= 1, f"the number of cycles must be at least 1, got {self.cycles}")
        if self.reset and self.cycles > 1:
            require(self.reset_voltage != 0, "the RESET voltage must not be 0 V")
            require(self.reset_step > 0, "the RESET step must be > 0 mV")
            require(self.reset_step_time > 0, "the RESET step time must be > 0 ms")
            require(self.reset_compliance > 0, "the RESET sweep needs a current compliance > 0 A")
        require(self.read_voltage != 0, "the read voltage must not be 0 V (G = I/V is undefined there)")
        require(self.read_compliance > 0, "the read needs a current compliance > 0 A")

    @property
    def seconds_per_step(self) -> float:
        return self.i_step / self.rate

    def forward_sweep(self) -> Sweep:
        return Sweep(levels=ramp(self.i_max, self.i_step * 1e-9), compliance=self.v_limit, source="I",
                     step_time=self.seconds_per_step, nplc=self.nplc)

    def reverse_sweep(self) -> Sweep:
        up = np.concatenate([[0.0], ramp(self.i_max, self.i_step * 1e-9)])
        return Sweep(levels=up[-2::-1], compliance=self.v_limit, source="I",
                     step_time=self.seconds_per_step, nplc=self.nplc)

    def reset_sweep(self) -> Sweep:
        return Sweep(levels=triangle(self.reset_voltage, self.reset_step * 1e-3),
                     compliance=self.reset_compliance, step_time=self.reset_step_time * 1e-3,
                     nplc=min(self.nplc, 0.1))

    def requests(self):
        out = [self.forward_sweep()]
        if self.reverse:
            out.append(self.reverse_sweep())
        if self.reset and self.cycles > 1:
            out.append(self.reset_sweep())
        out.append(self.read_request(self.read_voltage, self.read_compliance, 1.0))
        return out

    def estimated_duration(self) -> float:
        per = self.forward_sweep().duration + (self.reverse_sweep().duration if self.reverse else 0.0)
        resets = self.reset_sweep().duration * (self.cycles - 1) if self.reset else 0.0
        return self.cycles * (per + 0.1) + resets

    def estimated_rows(self) -> int:
        per = self.forward_sweep().points + (self.reverse_sweep().points if self.reverse else 0) + 1
        resets = (self.reset_sweep().points + 1) * (self.cycles - 1) if self.reset else 0
        return self.cycles * per + resets

    def startup(self) -> None:
        self.per_cycle: list[dict] = []

    def execute(self) -> None:
        if not hasattr(self, "per_cycle"):
            self.startup()
        for cycle in range(1, self.cycles + 1):
            rows = self.measure(self.forward_sweep(), cycle=cycle, segment="forward")
            g = rows["G/G0"]
            row = {
                "cycle": cycle,
                "G/G0 at I_max": float(g[-1]) if len(g) else math.nan,
                "max G/G0": derive.nanmax(g),
                "levels visited (G0)": derive.levels_visited(g),
                "steps up": derive.count_steps(g),
                "voltage-limit hits": int(np.count_nonzero(rows["Compliance"])),
                "complete": False,
            }
            self.per_cycle.append(row)  # filled as it goes: a stopped run keeps its forward branch
            if self.reverse:
                self.measure(self.reverse_sweep(), cycle=cycle, segment="reverse")
            read = self.read_point(self.read_voltage, self.read_compliance, cycle=cycle)
            row["read G/G0"] = float(read["G/G0"])
            if self.reset and cycle < self.cycles:
                self.measure(self.reset_sweep(), cycle=cycle, segment="reset")
                after = self.read_point(self.read_voltage, self.read_compliance, cycle=cycle)
                row["G/G0 after RESET"] = float(after["G/G0"])
            row["complete"] = True

    def summary(self) -> dict:
        cycles = getattr(self, "per_cycle", [])
        levels = sorted({lv for c in cycles for lv in c["levels visited (G0)"]})
        return {
            "cycles done": sum(1 for c in cycles if c.get("complete")),
            "levels visited (G0)": levels,
            "max G/G0": derive.nanmax(c["max G/G0"] for c in cycles),
            "median steps up per sweep": derive.nanmedian(c["steps up"] for c in cycles),
            "per cycle": cycles,
        }

    def summary_lines(self, summary: dict) -> list[str]:
        levels = derive.levels_text(summary["levels visited (G0)"])
        return [f"cycles: {summary['cycles done']}, highest G {fmt(summary['max G/G0'], suffix=' G0')}, "
                f"median {fmt(summary['median steps up per sweep'])} steps up per sweep",
                f"levels visited: {levels}"]
