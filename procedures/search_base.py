"""What the search procedures share (Breakdown, Forming, ProgramToLevel, SwitchingThreshold):
running a :class:`~labqc.instruments.search.Search` through the source-measure interface,
keeping how it ended and its stop latency, and the summary lines about them.

The stop is decided where the instrument allows (the 2614B in its own script; the 4200A
and any other SourceMeasure on the host between one-level requests), see
instruments/search.py. A summary's ``reached`` is False when the target was not reached,
which makes ``labqc run`` exit 5.
"""
from __future__ import annotations

from labqc.instruments.search import Search, SearchOutcome
from labqc.procedures.base import LabqcProcedure, require
from labqc.procedures.derive import fmt


def require_ramp(v_stop: float, step_mv: float, step_time_ms: float) -> None:
    """The checks every voltage ramp needs before anything is energised (Breakdown, Forming)."""
    require(v_stop != 0, "the end of the ramp must not be 0 V")
    require(step_mv > 0, f"the voltage step must be > 0 mV, got {step_mv:g} mV")
    require(abs(v_stop) >= step_mv * 1e-3, "the voltage step is larger than the whole ramp")
    require(step_time_ms > 0, f"the step time must be > 0 ms, got {step_time_ms:g} ms")


class SearchProcedure(LabqcProcedure):
    """Base of the procedures that step until a condition is met."""

    def startup(self) -> None:
        self.searches: list[dict] = []

    def search(self, request: Search, *, cycle: int = 1, segment: str = "search") -> tuple[SearchOutcome, object]:
        """Run ``request``; return its outcome and its rows."""
        if not hasattr(self, "searches"):
            self.startup()
        self.smu.last_search = None
        rows = self.measure(request, cycle=cycle, segment=segment, read_segment="read")
        outcome = self.smu.last_search or SearchOutcome(met=False)
        self.searches.append({
            "segment": segment, "cycle": cycle, "met": outcome.met, "level (V)": outcome.level,
            "levels done": outcome.levels_done, "stop latency (s)": outcome.latency,
            "latency clock": outcome.latency_clock, "condition": request.until.describe()})
        return outcome, rows

    def latency_summary(self) -> dict:
        """The stop latency of the searches that met their condition."""
        met = [s for s in getattr(self, "searches", []) if s["met"] and s["stop latency (s)"] is not None]
        if not met:
            return {"stop latency (s)": None, "latency clock": None}
        last = met[-1]
        return {"stop latency (s)": last["stop latency (s)"], "latency clock": last["latency clock"],
                "stop latencies (s)": [s["stop latency (s)"] for s in met]}

    @staticmethod
    def latency_line(summary: dict) -> str:
        lat = summary.get("stop latency (s)")
        if lat is None:
            return "stop latency: no stop condition was met"
        where = ("instrument time, from the reading that met it to the output change"
                 if summary.get("latency clock") == "instrument" else
                 "host time: decided on the host between requests")
        return f"stop latency: {fmt(lat, unit='s')} ({where})"


__all__ = ["SearchProcedure"]
