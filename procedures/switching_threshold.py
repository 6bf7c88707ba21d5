"""SwitchingThreshold: the smallest pulse amplitude that switches, and whether it repeats.

Each repetition: a RESET ramp to bring the device back below the switching level, then a
pulse-and-read search of growing amplitude (decided on the instrument where it can be)
that stops at the first read at or above the switching level. The threshold is that
pulse's amplitude; over the repetitions, their median and spread say how repeatable it is.
"""
from __future__ import annotations

import numpy as np

from labqc.instruments.search import Search, Stop
from labqc.procedures import parameters as shared
from labqc.procedures.base import require, triangle
from labqc.procedures.derive import fmt
from labqc.procedures.parameters import Float, Integer
from labqc.procedures.search_base import SearchProcedure
from labqc.instruments.smu import Sweep
from labqc.units import G0


class SwitchingThreshold(SearchProcedure):
    """Smallest SET pulse amplitude that switches, repeated to tell whether it is repeatable.

    Default: 5 ms pulses from 0.2 V up in 50 mV steps to 3 V, read at 0.1 V, switched at
    0.5 G0; a RESET ramp to -2 V before each of 3 repetitions (Switchbox_GUI threshold
    search, ArC ONE SwitchSeeker):
        labqc run SwitchingThreshold --sim ag-nanowire
    """

    start = Float("First amplitude", units="V", default=0.2, minimum=-210.0, maximum=210.0,
                  help="first pulse amplitude (its sign is the polarity)")
    stop = Float("Last amplitude", units="V", default=3.0, minimum=-210.0, maximum=210.0,
                 help="largest pulse amplitude tried")
    amplitude_step = shared.voltage_step("Amplitude step", 50.0, "amplitude increment from one pulse to the next")
    width, period = shared.pulse(5.0, 20.0)
    compliance = shared.compliance("Compliance", 1e-3, "current limit of the pulses")
    switch_level = Float("Switching level", units="G0", default=0.5, minimum=0.0, maximum=1000.0,
                         help="a read at or above this counts as switched")
    read_voltage, read_compliance = shared.read(0.1, "read after each pulse")
    read_width = shared.milliseconds("Read width", 2.0, "duration of each read")
    repeats = Integer("Repetitions", default=3, minimum=0, maximum=10_000, help="searches, each after a RESET")
    reset_voltage = shared.voltage("RESET voltage", -2.0, "end of the RESET ramp before each search", negative=True)
    reset_compliance = shared.compliance("RESET compliance", 10e-3, "current limit of the RESET ramp")
    tolerance = Float("Repeatability", units="V", default=0.2, minimum=0.0, maximum=100.0,
                      help="thresholds within this of their median count as repeatable")
    nplc = shared.nplc(0.1, "integration time of each reading (0.1 resolves 0.5 G0 at 0.1 V)")

    def validate(self) -> None:
        super().validate()
        require(self.amplitude_step > 0, f"the amplitude step must be > 0 mV, got {self.amplitude_step:g} mV")
        require(self.start != 0 and self.stop != 0 and (self.start > 0) == (self.stop > 0),
                "the first and last amplitudes must be non-zero and of one polarity")
        require(abs(self.stop) >= abs(self.start), "the last amplitude must be at least the first")
        require(self.width > 0 and self.read_width > 0, "the pulse and the read need a width > 0 ms")
        require(self.period > self.width + self.read_width, "the period leaves no time after the pulse and the read")
        require(self.read_voltage != 0, "the read voltage must not be 0 V (G = I/V is undefined there)")
        require(self.repeats >= 1, "at least one repetition is needed")
        require(self.switch_level > 0, "the switching level must be > 0 G0")
        need = self.switch_level * G0 * abs(self.read_voltage)
        require(self.read_compliance >= need,
                f"the switching level cannot be seen: {self.switch_level:g} G0 at the {self.read_voltage:g} V read "
                f"draws {fmt(need, unit='A')}, above the read compliance of {fmt(self.read_compliance, unit='A')}")

    def search_request(self) -> Search:
        return Search(self.start, self.stop, self.amplitude_step * 1e-3, self.compliance,
                      Stop("g_above", self.switch_level * G0), step_time=self.period * 1e-3,
                      width=self.width * 1e-3, read_level=self.read_voltage, read_width=self.read_width * 1e-3,
                      read_compliance=self.read_compliance, nplc=self.nplc)

    def reset_sweep(self) -> Sweep:
        return Sweep(levels=triangle(self.reset_voltage, 0.02), compliance=self.reset_compliance,
                     step_time=5e-3, nplc=self.nplc)

    def requests(self):
        return [self.reset_sweep(), self.search_request()]

    def estimated_duration(self) -> float:
        return self.repeats * (self.reset_sweep().duration + self.search_request().duration)

    def estimated_rows(self) -> int:
        return self.repeats * (self.reset_sweep().points + self.search_request().points)

    def execute(self) -> None:
        self.startup()
        self.thresholds: list[float | None] = []
        for k in range(1, self.repeats + 1):
            self.measure(self.reset_sweep(), cycle=k, segment="reset")
            outcome, _ = self.search(self.search_request(), cycle=k, segment="search")
            self.thresholds.append(outcome.level if outcome.met else None)

    def summary(self) -> dict:
        th = getattr(self, "thresholds", [])
        found = [t for t in th if t is not None]
        median = float(np.median(found)) if found else None
        spread = float(max(abs(t - median) for t in found)) if found else None
        reached = bool(th) and len(found) == len(th)
        return {"reached": reached, "thresholds (V)": th, "median threshold (V)": median,
                "largest deviation (V)": spread,
                "repeatable": bool(reached and spread is not None and spread <= self.tolerance),
                **self.latency_summary(), "searches": getattr(self, "searches", [])}

    def summary_lines(self, summary: dict) -> list[str]:
        th = summary["thresholds (V)"]
        listed = ", ".join("none" if t is None else f"{t:.3g}" for t in th)
        head = (f"threshold {fmt(summary['median threshold (V)'], suffix=' V')} (median of {listed} V), "
                f"{'repeatable' if summary['repeatable'] else 'NOT repeatable'} within {self.tolerance:g} V")
        if not summary["reached"]:
            head += f"; some searches did not switch by {self.stop:g} V"
        return [head, self.latency_line(summary)]


__all__ = ["SwitchingThreshold"]
