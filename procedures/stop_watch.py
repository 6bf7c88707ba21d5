"""A subscriber of a run's rows that keeps what a plan's stop condition needs: the stuck
streak by the one rule of labqc.switching (read rows, in the order they stream) and the
device's latest level (read or hold rows). The plan runner hands one to each run whose
step has a [step.stop] table; nothing is read back from the results file.

    watch = StopWatch(min_ratio=2.0)
    run_procedure(proc, path, listeners=[watch])
    seen = watch.seen()          # labqc.stops.Seen
"""
from __future__ import annotations

from typing import Any

import numpy as np

from labqc.stops import Seen
from labqc.switching import StuckWatch

#: Rows whose G/G0 is the device's level (the rest are ramps and pulses).
LEVEL_SEGMENTS = ("read", "hold")


class StopWatch:
    """A run listener (labqc.procedures.runner.Listener) for stop conditions."""

    def __init__(self, min_ratio: float = 2.0) -> None:
        self.stuck = StuckWatch(min_ratio)
        self.last_level: float | None = None

    def __call__(self, topic: str, payload: Any) -> None:
        """Take one ("batch", rows) chunk (labqc.chunk); other topics pass by."""
        if topic != "batch":
            return
        segment = payload["Segment"]
        g = payload["G/G0"]
        reads = segment == "read"
        if reads.any():
            self.stuck.add_reads(payload["Cycle"][reads], g[reads])
        level = np.flatnonzero(np.isin(segment, LEVEL_SEGMENTS))
        if level.size:
            self.last_level = float(g[level[-1]])

    def seen(self) -> Seen:
        """What the run showed (its last cycle counted complete: the run is over)."""
        self.stuck.flush()
        return Seen(self.stuck.streak, self.stuck.state, self.stuck.unbroken, self.last_level)


__all__ = ["StopWatch", "LEVEL_SEGMENTS"]
