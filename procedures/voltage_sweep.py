"""VoltageSweep: the bipolar I-V loop 0 -> +V_SET,max -> 0 -> -V_RESET,max -> 0, with a
separate compliance for the SET and the RESET branch, cycle after cycle.

Per cycle: V_SET (first current jump on the way up of the SET branch), V_RESET (first
current drop on the way out of the RESET branch), and the LRS/HRS read at the read
voltage after each branch.
"""
from __future__ import annotations

import math

import numpy as np

from labqc.instruments.smu import Sweep
from labqc.procedures import derive
from labqc.procedures.derive import fmt
from labqc.procedures import parameters as shared
from labqc.procedures.base import LabqcProcedure, ParameterError, require, triangle
from labqc.procedures.parameters import Choice, Float


class VoltageSweep(LabqcProcedure):
    """Bipolar voltage sweeps with separate SET and RESET compliance (Graphene/BiFeO3/FTO).

    Default: 3 cycles 0 -> +3 -> 0 -> -3 -> 0 V in 10 mV steps of 5 ms, SET compliance
    5 mA, RESET compliance 10 mA, LRS/HRS read at 0.1 V after each branch.

    Paper protocol (BiFeO3, 50 consecutive cycles, 1 mV steps, compliance 2/5/7/10 mA):
        labqc run VoltageSweep --step 1 --cycles 50 --set-compliance 5mA
    Ag nanowire slow sweeps that resolve the steps (SET ~2.6 mV/s, RESET ~4.5 mV/s):
        labqc run VoltageSweep --sim ag-nanowire --v-set 1 --v-reset 1 --step 1 --rate 2.6 --reset-rate 4.5 --set-compliance 400uA
    One branch only: ``--branches set`` or ``--branches reset``.
    The sweep rate is ``--rate`` (mV/s) when given, else step/step time; ``--reset-rate``
    sets the RESET branch's own rate.
    """

    v_set = shared.voltage("SET stop voltage", 3.0, "end of the SET branch (0 -> +V -> 0)")
    v_reset = shared.voltage("RESET stop voltage", 3.0,
                             "end of the RESET branch, as a magnitude (0 -> -V -> 0)")
    branches = Choice("Branches", choices=["both", "set", "reset"], default="both",
                      help="both (SET then RESET), set or reset only")
    step = shared.voltage_step("Voltage step", 10.0, "voltage step (paper: 1 mV)")
    rate = Float("Sweep rate", units="mV/s", default=0.0, minimum=0.0, maximum=1e6,
                 help="sweep rate; 0: use the step time")
    reset_rate = Float("RESET sweep rate", units="mV/s", default=0.0, minimum=0.0, maximum=1e6,
                       help="sweep rate of the RESET branch; 0: as the SET branch")
    step_time = shared.milliseconds("Step time", 5.0, "time per step when no rate is given")
    set_compliance = shared.compliance("SET compliance", 5e-3,
                                       "current limit on the SET branch (paper: 2, 5, 7, 10 mA)")
    reset_compliance = shared.compliance("RESET compliance", 10e-3, "current limit on the RESET branch")
    cycles = shared.cycles(3, "number of loops (paper: 50 consecutive, 100 per compliance)")
    read_voltage, read_compliance = shared.read(0.1, "HRS/LRS read after each branch")
    nplc = shared.nplc(0.1, "integration time per sweep point (0.1 resolves 0.5 G0 steps on the 10 mA range)")

    # ----------------------------------------------------------------- planning
    @property
    def seconds_per_step(self) -> float:
        """Seconds per step of the SET branch (and of the RESET branch without its own rate)."""
        if self.rate and self.rate > 0:
            return self.step / self.rate
        return self.step_time * 1e-3

    @property
    def reset_seconds_per_step(self) -> float:
        if self.reset_rate and self.reset_rate > 0:
            return self.step / self.reset_rate
        return self.seconds_per_step

    def validate(self) -> None:
        super().validate()
        require(self.step > 0, f"the voltage step must be > 0 mV, got {self.step:g} mV")
        require(self.cycles >= 1, f"the number of cycles must be at least 1, got {self.cycles}")
        require(self.seconds_per_step > 0, "give a sweep rate > 0 mV/s or a step time > 0 ms")
        if self.branches in ("both", "set"):
            require(self.v_set > 0, f"the SET stop voltage must be > 0 V, got {self.v_set:g} V")
            require(self.set_compliance > 0, "the SET branch needs a current compliance > 0 A")
            require(self.v_set * 1e3 >= self.step, "the voltage step is larger than the SET stop voltage")
        if self.branches in ("both", "reset"):
            require(self.v_reset > 0, f"the RESET stop voltage must be > 0 V, got {self.v_reset:g} V")
            require(self.reset_compliance > 0, "the RESET branch needs a current compliance > 0 A")
            require(self.v_reset * 1e3 >= self.step, "the voltage step is larger than the RESET stop voltage")
        require(self.read_voltage != 0, "the read voltage must not be 0 V (G = I/V is undefined there)")
        require(self.read_compliance > 0, "the read needs a current compliance > 0 A")

    def set_sweep(self) -> Sweep:
        return Sweep(levels=triangle(self.v_set, self.step * 1e-3), compliance=self.set_compliance,
                     step_time=self.seconds_per_step, nplc=self.nplc)

    def reset_sweep(self) -> Sweep:
        return Sweep(levels=triangle(-self.v_reset, self.step * 1e-3), compliance=self.reset_compliance,
                     step_time=self.reset_seconds_per_step, nplc=self.nplc)

    def requests(self):
        out = []
        if self.branches in ("both", "set"):
            out.append(self.set_sweep())
        if self.branches in ("both", "reset"):
            out.append(self.reset_sweep())
        out.append(self.read_request(self.read_voltage, self.read_compliance, 1.0))
        return out

    def estimated_duration(self) -> float:
        per_cycle = sum(r.duration for r in self.requests()[:-1])
        reads = len(self.requests()[:-1]) * 0.05
        return self.cycles * (per_cycle + reads)

    def estimated_rows(self) -> int:
        branches = self.requests()[:-1]  # each branch and the read after it, every cycle
        return self.cycles * sum(r.points + 1 for r in branches)

    # ----------------------------------------------------------------- running
    def startup(self) -> None:
        self.per_cycle: list[dict] = []

    def execute(self) -> None:
        if not hasattr(self, "per_cycle"):
            self.startup()
        for cycle in range(1, self.cycles + 1):
            row: dict = {"cycle": cycle, "complete": False}
            self.per_cycle.append(row)  # filled as it goes: a stopped run keeps its half cycle
            if self.branches in ("both", "set"):
                sweep = self.set_sweep()
                rows = self.measure(sweep, cycle=cycle, segment="set")
                half = derive.half_ramp(sweep.levels)
                row["V_SET (V)"] = derive.first_jump(
                    rows["Source (V|A)"][half], rows["Current (A)"][half],
                    up=True, compliance=rows["Compliance"][half])
                row["max G/G0 (SET)"] = float(np.nanmax(rows["G/G0"])) if len(rows) else math.nan
                row["max |I| (A)"] = float(np.nanmax(np.abs(rows["Current (A)"]))) if len(rows) else math.nan
                row["compliance hits (SET)"] = int(np.count_nonzero(rows["Compliance"]))
                lrs = self.read_point(self.read_voltage, self.read_compliance, cycle=cycle)
                row["LRS (Ohm)"] = derive.resistance(lrs["Voltage (V)"], lrs["Current (A)"])
                row["LRS G/G0"] = float(lrs["G/G0"])
            if self.branches in ("both", "reset"):
                sweep = self.reset_sweep()
                rows = self.measure(sweep, cycle=cycle, segment="reset")
                half = derive.half_ramp(sweep.levels)
                row["V_RESET (V)"] = derive.first_jump(
                    rows["Source (V|A)"][half], rows["Current (A)"][half], up=False)
                hrs = self.read_point(self.read_voltage, self.read_compliance, cycle=cycle)
                row["HRS (Ohm)"] = derive.resistance(hrs["Voltage (V)"], hrs["Current (A)"])
                row["HRS G/G0"] = float(hrs["G/G0"])
            row["complete"] = True

    # ----------------------------------------------------------------- results
    def summary(self) -> dict:
        cycles = getattr(self, "per_cycle", [])

        def median(key: str) -> float:
            return derive.nanmedian(c.get(key, math.nan) for c in cycles)

        return {
            "cycles done": sum(1 for c in cycles if c.get("complete")),
            "median V_SET (V)": median("V_SET (V)"),
            "median V_RESET (V)": median("V_RESET (V)"),
            "median LRS G/G0": median("LRS G/G0"),
            "median HRS G/G0": median("HRS G/G0"),
            "max G/G0 (SET)": derive.nanmax(c.get("max G/G0 (SET)", math.nan) for c in cycles),
            "per cycle": cycles,
        }

    def summary_lines(self, summary: dict) -> list[str]:
        return [
            f"cycles: {summary['cycles done']}, median V_SET {fmt(summary['median V_SET (V)'], suffix=' V')}, "
            f"median V_RESET {fmt(summary['median V_RESET (V)'], suffix=' V')}",
            f"LRS {fmt(summary['median LRS G/G0'], suffix=' G0')}, HRS {fmt(summary['median HRS G/G0'], suffix=' G0')} "
            f"(median reads at {self.read_voltage:g} V); highest G on SET {fmt(summary['max G/G0 (SET)'], suffix=' G0')}",
        ]


__all__ = ["VoltageSweep", "ParameterError"]
