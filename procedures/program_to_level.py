"""ProgramToLevel: incremental step pulse programming (ISPP) with verify, to n*G0 +- tol.

Each phase is one search decided on the instrument (instruments/search.py): SET pulses of
growing amplitude, each followed by a verify read, until the read reaches the window's
lower edge; if the device overshot the window, RESET pulses of growing (negative)
amplitude until it falls below the upper edge. A change of direction is a reversal; after
``max_reversals`` of them, or when a phase runs out of amplitude, it gives up and says
where it got (``labqc run`` exits 5).
"""
from __future__ import annotations

from labqc.instruments.search import Search, Stop
from labqc.procedures import parameters as shared
from labqc.procedures.base import require
from labqc.procedures.parameters import Float, Integer
from labqc.procedures.derive import fmt
from labqc.procedures.search_base import SearchProcedure
from labqc.units import G0


class ProgramToLevel(SearchProcedure):
    """ISPP with verify to n*G0 +- tolerance, both polarities, gives up after N reversals.

    Default: target 1 G0 +- 0.25; SET pulses 0.5 -> 2.5 V in 50 mV, RESET pulses -0.3 ->
    -2 V in 50 mV, 5 ms pulses every 20 ms, each read at 0.1 V (ArC ONE ConvergeToState,
    Switchbox_GUI ISPP):
        labqc run ProgramToLevel --sim ag-nanowire --target 1 --tolerance 0.25
    """

    target = Float("Target level", units="G0", default=1.0, minimum=0.0, maximum=100.0,
                   help='level to program, in G0')
    tolerance = Float("Tolerance", units="G0", default=0.25, minimum=0.0, maximum=100.0,
                      help='accepted distance from the target, in G0')
    set_start = shared.voltage("First SET amplitude", 0.5, "first SET pulse amplitude")
    set_stop = shared.voltage("Last SET amplitude", 2.5, "largest SET pulse amplitude")
    reset_start = shared.voltage("First RESET amplitude", -0.3, "first RESET pulse amplitude (negative)",
                                 negative=True)
    reset_stop = shared.voltage("Last RESET amplitude", -2.0, "largest RESET pulse amplitude (negative)",
                                negative=True)
    amplitude_step = shared.voltage_step("Amplitude step", 50.0, "amplitude increment from one pulse to the next")
    width, period = shared.pulse(5.0, 20.0)
    set_compliance = shared.compliance("SET compliance", 1e-3, "current limit of the SET pulses")
    reset_compliance = shared.compliance("RESET compliance", 10e-3, "current limit of the RESET pulses")
    read_voltage = shared.read_level(0.1, "verify read after each pulse")
    read_width = shared.milliseconds("Read width", 2.0, "duration of each verify read")
    read_compliance = shared.compliance("Read compliance", 1e-3, "current limit of the verify reads")
    max_reversals = Integer("Maximum reversals", default=5, minimum=0, maximum=1000,
                            help='changes of direction (SET <-> RESET) before it gives up')
    nplc = shared.nplc(0.1, "integration time of each reading")


    def validate(self) -> None:
        super().validate()
        require(self.target > 0, f"the target level must be > 0 G0, got {self.target:g} G0")
        require(self.tolerance > 0, f"the tolerance must be > 0 G0, got {self.tolerance:g} G0")
        require(self.amplitude_step > 0, f"the amplitude step must be > 0 mV, got {self.amplitude_step:g} mV")
        require(0 < self.set_start <= self.set_stop, "the SET amplitudes must satisfy 0 < first <= last")
        require(self.reset_stop <= self.reset_start < 0, "the RESET amplitudes must satisfy last <= first < 0")
        require(self.width > 0 and self.read_width > 0, "the pulse and the read need a width > 0 ms")
        require(self.period > self.width + self.read_width,
                f"a period of {self.period:g} ms leaves no time after the {self.width:g} ms pulse and the "
                f"{self.read_width:g} ms read")
        require(self.read_voltage != 0, "the read voltage must not be 0 V (G = I/V is undefined there)")
        for name in ("set_compliance", "reset_compliance", "read_compliance"):
            require(getattr(self, name) > 0, f"the {name.replace('_', ' ')} must be > 0 A")
        hi_current = (self.target + self.tolerance) * G0 * abs(self.read_voltage)
        lo_current = max(self.target - self.tolerance, 0.0) * G0 * abs(self.read_voltage)
        require(self.read_compliance >= hi_current,
                f"the target cannot be verified: at {self.target:g} G0 the {self.read_voltage:g} V read draws up to "
                f"{fmt(hi_current, unit='A')}, above the read compliance of {fmt(self.read_compliance, unit='A')}")
        require(self.set_compliance > lo_current,
                f"the target cannot be reached: a SET compliance of {fmt(self.set_compliance, unit='A')} holds the "
                f"device below the {fmt(lo_current, unit='A')} that {self.target - self.tolerance:g} G0 carries even at the "
                f"{self.read_voltage:g} V read")

    @property
    def window(self) -> tuple[float, float]:
        return max(self.target - self.tolerance, 0.0), self.target + self.tolerance

    def phase(self, polarity: str) -> Search:
        lo, hi = self.window
        common = dict(step_time=self.period * 1e-3, width=self.width * 1e-3, read_level=self.read_voltage,
                      read_width=self.read_width * 1e-3, read_compliance=self.read_compliance, nplc=self.nplc)
        step = self.amplitude_step * 1e-3
        if polarity == "set":
            return Search(self.set_start, self.set_stop, step, self.set_compliance,
                          Stop("g_above", lo * G0), **common)
        return Search(self.reset_start, self.reset_stop, step, self.reset_compliance,
                      Stop("g_below", hi * G0), **common)

    def requests(self):
        return [self.phase("set"), self.phase("reset"), self.read_request(self.read_voltage, self.read_compliance, 1.0)]

    def estimated_duration(self) -> float:
        return (self.max_reversals + 1) * max(self.phase("set").duration, self.phase("reset").duration) + 0.1

    def estimated_rows(self) -> int:
        return 1 + (self.max_reversals + 1) * max(self.phase("set").points, self.phase("reset").points) + 1

    def execute(self) -> None:
        self.startup()
        lo, hi = self.window
        g = float(self.read_point(self.read_voltage, self.read_compliance, cycle=0)["G/G0"])
        self.history, reversals, direction, phase_no = [], 0, None, 0
        self.reason = ""
        while not (lo <= g <= hi):
            want = "set" if g < lo else "reset"
            if direction is not None and want != direction:
                reversals += 1
                if reversals > self.max_reversals:
                    self.reason = f"gave up after {self.max_reversals} reversals"
                    break
            direction, phase_no = want, phase_no + 1
            outcome, rows = self.search(self.phase(want), cycle=phase_no, segment=want)
            reads = rows[rows["Segment"] == "read"]
            g_new = float(reads["G/G0"][-1]) if len(reads) else g
            self.history.append({"phase": phase_no, "operation": want, "met": outcome.met,
                                 "amplitude (V)": outcome.level, "G/G0 before": g, "G/G0 after": g_new})
            g = g_new
            if not outcome.met:
                last = self.phase(want).stop
                self.reason = f"the {want.upper()} pulses reached {last:g} V without reaching the window"
                break
        self.final = float(self.read_point(self.read_voltage, self.read_compliance, cycle=phase_no + 1,
                                           nplc=1.0)["G/G0"])
        self.reversals = reversals

    def summary(self) -> dict:
        lo, hi = self.window
        final = getattr(self, "final", None)
        reached = final is not None and lo <= final <= hi
        out = {"reached": reached, "target G/G0": self.target, "tolerance G/G0": self.tolerance,
               "final G/G0": final, "reversals": getattr(self, "reversals", 0),
               "phases": len(getattr(self, "history", [])), "history": getattr(self, "history", []),
               **self.latency_summary(), "searches": getattr(self, "searches", [])}
        if not reached:
            out["report"] = (f"did not reach {self.target:g} +- {self.tolerance:g} G0: "
                             f"{getattr(self, 'reason', '') or 'the final read is outside the window'}; "
                             f"final read {fmt(final, suffix=' G0')} after {out['phases']} phases")
        return out

    def summary_lines(self, summary: dict) -> list[str]:
        if summary["reached"]:
            head = (f"reached {fmt(summary['final G/G0'], suffix=' G0')} (target {summary['target G/G0']:g} +- "
                    f"{summary['tolerance G/G0']:g}) in {_count(summary['phases'], 'phase')}, "
                    f"{_count(summary['reversals'], 'reversal')}")
        else:
            head = summary["report"]
        return [head, self.latency_line(summary)]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


__all__ = ["ProgramToLevel"]
