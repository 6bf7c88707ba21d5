"""Forming: a current-limited voltage ramp on a fresh device that stops when it forms.

The compliance is set before the output turns on (every request's is). The ramp stops at
the first reading whose conductance reaches the target, or (``stop=jump``) rises by the
stated fraction from one reading to the next; the decision is the instrument's where it
can make it (instruments/search.py).
"""
from __future__ import annotations

from labqc.instruments.search import Search, Stop
from labqc.procedures import parameters as shared
from labqc.procedures.base import require
from labqc.procedures.derive import fmt
from labqc.procedures.parameters import Choice, Float
from labqc.procedures.search_base import SearchProcedure, require_ramp
from labqc.units import G0


class Forming(SearchProcedure):
    """Current-limited forming ramp that stops at a target conductance or a jump.

    Default: 0 -> 6 V in 20 mV steps of 10 ms at 100 uA, stop at 1 G0 (ArC ONE FormFinder,
    Switchbox_GUI forming with a current limit); the simulated fresh BFO stack forms near 4 V:
        labqc run Forming --sim bfo-fresh
    """

    v_stop = shared.voltage("End of the ramp", 6.0, "highest voltage the ramp may reach (its sign is the polarity)",
                            signed=True)
    step = shared.voltage_step("Voltage step", 20.0, "voltage step of the ramp")
    step_time = shared.milliseconds("Step time", 10.0, "time per step", maximum=30000.0)
    compliance = shared.compliance("Compliance", 100e-6, "current limit of the ramp (set before the output turns on)")
    stop = Choice("Stop on", choices=["target", "jump"], default="target",
                  help="target: G reaches the target; jump: G rises by the fraction from one reading to the next")
    target = Float("Target level", units="G0", default=1.0, minimum=0.0, maximum=1000.0,
                   help="conductance that ends the ramp (stop on target)")
    jump = Float("Jump fraction", default=1.0, minimum=0.0, maximum=1000.0,
                 help="relative rise of G that ends the ramp (stop on jump; 1 = doubling)")
    min_current = Float("Minimum current", units="A", default=1e-6, minimum=0.0, maximum=10.0,
                        help="a jump counts only at currents above this (below it is noise)")
    nplc = shared.nplc(0.01, "integration time per step")
    read_voltage = shared.read_level(0.1, "read after the ramp (0: none)")

    def validate(self) -> None:
        super().validate()
        require_ramp(self.v_stop, self.step, self.step_time)
        require(self.compliance > 0, "forming needs a current compliance > 0 A")
        if self.stop == "target":
            require(self.target > 0, f"the target level must be > 0 G0, got {self.target:g} G0")
            need = self.target * G0 * self.step * 1e-3
            require(self.compliance >= need,
                    f"the target cannot be reached: {self.target:g} G0 carries {fmt(need, unit='A')} already at the "
                    f"first {self.step:g} mV step, above the {fmt(self.compliance, unit='A')} compliance")
        else:
            require(self.jump > 0, f"the jump fraction must be > 0, got {self.jump:g}")
            require(self.min_current < self.compliance, "the minimum current must be below the compliance")

    def ramp(self) -> Search:
        step = self.step * 1e-3 * (1 if self.v_stop > 0 else -1)
        until = (Stop("g_above", self.target * G0) if self.stop == "target"
                 else Stop("g_jump", self.jump, self.min_current))
        return Search(start=step, stop=self.v_stop, step=step, compliance=self.compliance, until=until,
                      step_time=self.step_time * 1e-3, nplc=self.nplc)

    def requests(self):
        out = [self.ramp()]
        if self.read_voltage:
            out.append(self.read_request(self.read_voltage, self.compliance, 1.0))
        return out

    def execute(self) -> None:
        self.outcome, rows = self.search(self.ramp(), segment="forming")
        self.after = None
        if self.read_voltage:
            self.after = float(self.read_point(self.read_voltage, self.compliance)["G/G0"])

    def summary(self) -> dict:
        o = getattr(self, "outcome", None)
        return {"reached": bool(o and o.met), "forming voltage (V)": o.level if o else None,
                "levels done": o.levels_done if o else 0, "G/G0 after": getattr(self, "after", None),
                **self.latency_summary(), "searches": getattr(self, "searches", [])}

    def summary_lines(self, summary: dict) -> list[str]:
        if not summary["reached"]:
            return [f"did not form up to {self.v_stop:g} V", self.latency_line(summary)]
        return [f"formed at {fmt(summary['forming voltage (V)'], suffix=' V')}, G after {fmt(summary['G/G0 after'], suffix=' G0')}",
                self.latency_line(summary)]


__all__ = ["Forming"]
