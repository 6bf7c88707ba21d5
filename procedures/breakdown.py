"""Breakdown: a slow voltage ramp that stops the instant the current drops (a nanogap forms).

The Ag nanowire paper makes its nanogap this way: a ~17 mV/s ramp until the current drops,
e.g. at 5.17 V. The drop is decided where the reading is made (on the 2614B in its own
script, instruments/tsp_search.py), so the output goes off within the instrument's own
reaction time, not a host round trip later.
"""
from __future__ import annotations

import numpy as np

from labqc.instruments.search import Search, Stop
from labqc.procedures.base import require
from labqc.procedures import parameters as shared
from labqc.procedures.parameters import Float
from labqc.procedures.derive import fmt
from labqc.procedures.search_base import SearchProcedure, require_ramp


class Breakdown(SearchProcedure):
    """Slow voltage ramp that stops when the current drops (nanogap formation).

    Default: 0 -> 6 V at 17 mV/s (1.7 mV steps of 100 ms), 50 mA limit, stop when |I| falls
    below 50 % of its largest value (after it has exceeded 100 uA). The Ag nanowire paper:
        labqc run Breakdown --sim ag-nanowire-fresh
    """

    v_stop = shared.voltage("End of the ramp", 6.0, "highest voltage the ramp may reach (its sign is the polarity)",
                            signed=True)
    step = shared.voltage_step("Voltage step", 1.7, "voltage step of the ramp (1.7 mV every 100 ms is the paper's ~17 mV/s)")
    step_time = shared.milliseconds("Step time", 100.0, "time per step", maximum=30000.0)
    compliance = shared.compliance("Compliance", 50e-3, "current limit (set before the output turns on)")
    drop = Float("Drop fraction", default=0.5, minimum=0.0, maximum=1.0,
                 help='stop when |I| falls below this fraction of its largest value')
    min_current = Float("Minimum current", units="A", default=100e-6, minimum=0.0, maximum=10.0,
                        help='the drop counts only once |I| has exceeded this (an intact wire conducts)')
    nplc = shared.nplc(1.0, "integration time per step")
    read_voltage = shared.read_level(0.1, "read after the ramp, to tell the gap's conductance (0: none)")


    def validate(self) -> None:
        super().validate()
        require_ramp(self.v_stop, self.step, self.step_time)
        require(self.compliance > 0, "the ramp needs a current compliance > 0 A")
        require(0 < self.drop < 1, f"the drop fraction must lie between 0 and 1, got {self.drop:g}")
        require(self.min_current < self.compliance,
                f"the minimum current {fmt(self.min_current, unit='A')} must be below the compliance "
                f"{fmt(self.compliance, unit='A')}, "
                "or the drop could never be seen")

    def ramp(self) -> Search:
        step = self.step * 1e-3 * (1 if self.v_stop > 0 else -1)
        return Search(start=step, stop=self.v_stop, step=step, compliance=self.compliance,
                      until=Stop("i_drop", self.drop, self.min_current), step_time=self.step_time * 1e-3,
                      nplc=self.nplc)

    def requests(self):
        out = [self.ramp()]
        if self.read_voltage:
            out.append(self.read_request(self.read_voltage, self.compliance, 1.0))
        return out

    def execute(self) -> None:
        outcome, rows = self.search(self.ramp(), segment="ramp")
        self.outcome = outcome
        self.i_max = float(np.max(np.abs(rows["Current (A)"]))) if len(rows) else float("nan")
        self.gap = None
        if self.read_voltage:
            self.gap = float(self.read_point(self.read_voltage, self.compliance)["G/G0"])

    def summary(self) -> dict:
        o = getattr(self, "outcome", None)
        return {"reached": bool(o and o.met), "breakdown voltage (V)": o.level if o else None,
                "largest current (A)": getattr(self, "i_max", None), "levels done": o.levels_done if o else 0,
                "G/G0 after": getattr(self, "gap", None), **self.latency_summary(),
                "searches": getattr(self, "searches", [])}

    def summary_lines(self, summary: dict) -> list[str]:
        if not summary["reached"]:
            return [f"no breakdown up to {self.v_stop:g} V (largest |I| {fmt(summary['largest current (A)'], unit='A')})",
                    self.latency_line(summary)]
        return [f"breakdown at {fmt(summary['breakdown voltage (V)'], unit='V')} (largest |I| "
                f"{fmt(summary['largest current (A)'], unit='A')}), G after {fmt(summary['G/G0 after'], suffix=' G0')}",
                self.latency_line(summary)]


__all__ = ["Breakdown"]
