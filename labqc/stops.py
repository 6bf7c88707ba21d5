"""A plan's stop conditions ([step.stop]): when to skip a step's remaining runs on one
device, judged from what the runs of that step on that device have shown so far.

What a run has shown is a :class:`Seen`: its stuck streak by the one rule of
labqc.switching, whether any of its cycles switched, and the device's latest level. The
plan runner fills one from the rows as they stream (labqc.procedures.stop_watch), joins it
to the group's record with :meth:`Seen.then`, and keeps the result in its journal, so
that no results file is read back to decide, not even on resume.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Iterable

import numpy as np

from labqc.switching import StuckWatch


@dataclass(frozen=True)
class StopCondition:
    """When to skip a step's remaining runs on one device."""

    stuck_cycles: int = 0  # complete cycles in a row that did not switch (labqc.switching)
    min_ratio: float = 2.0  # G(LRS)/G(HRS) of a cycle at or above which it switched
    level_at_least: float | None = None  # G/G0 of the last read
    level_at_most: float | None = None

    @property
    def active(self) -> bool:
        return bool(self.stuck_cycles) or self.level_at_least is not None or self.level_at_most is not None


@dataclass(frozen=True)
class Seen:
    """What the runs of a group have shown, as far as a stop condition cares."""

    streak: int = 0  # complete cycles in a row, up to the latest, that did not switch
    state: str = ""  # what that streak is stuck in (LRS or HRS)
    unbroken: bool = True  # no cycle has switched
    last_level: float | None = None  # latest G/G0 of a read or a hold

    def then(self, later: "Seen") -> "Seen":
        """This record followed by a later run's: its streak continues ours only if the
        later run never switched."""
        return Seen(streak=later.streak + (self.streak if later.unbroken else 0),
                    state=later.state or (self.state if later.unbroken else ""),
                    unbroken=self.unbroken and later.unbroken,
                    last_level=later.last_level if later.last_level is not None else self.last_level)

    def record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: Any) -> "Seen":
        """From a journal record (anything else, e.g. a journal written before, is nothing seen)."""
        if not isinstance(record, dict):
            return cls()
        level = record.get("last_level")
        return cls(streak=int(record.get("streak", 0)), state=str(record.get("state", "")),
                   unbroken=bool(record.get("unbroken", True)),
                   last_level=float(level) if isinstance(level, (int, float)) else None)


def judge(condition: StopCondition, seen: Seen) -> str:
    """Why the step's remaining runs on this device should be skipped, or ""."""
    if not condition.active:
        return ""
    last = seen.last_level
    if last is not None and math.isfinite(last):
        if condition.level_at_least is not None and last >= condition.level_at_least:
            return f"the device reached {last:.3g} G0 (stop at >= {condition.level_at_least:g} G0)"
        if condition.level_at_most is not None and last <= condition.level_at_most:
            return f"the device fell to {last:.3g} G0 (stop at <= {condition.level_at_most:g} G0)"
    if condition.stuck_cycles and seen.streak >= condition.stuck_cycles:
        return (f"stuck in {seen.state} for {seen.streak} cycles in a row "
                f"(G(LRS)/G(HRS) < {condition.min_ratio:g})")
    return ""


def seen_in(reads: Iterable[tuple[int, float]], min_ratio: float, last_level: float | None = None) -> Seen:
    """What a list of (cycle, G/G0) reads in time order shows (``last_level``: the latest
    level when it is not the last read)."""
    pairs = list(reads)
    watch = StuckWatch(min_ratio)
    if pairs:
        cycle, g = np.array(pairs, dtype=float).T
        watch.add_reads(cycle, g)
    watch.flush()
    if last_level is None and pairs:
        last_level = float(pairs[-1][1])
    return Seen(watch.streak, watch.state, watch.unbroken, last_level)


def stop_reason(condition: StopCondition, reads: Iterable[tuple[int, float]],
                last_level: float | None = None) -> str:
    """:func:`judge` on a list of (cycle, G/G0) reads."""
    return judge(condition, seen_in(reads, condition.min_ratio, last_level))


def stuck_streak(reads: Iterable[tuple[int, float]], min_ratio: float) -> tuple[int, str]:
    """Complete cycles in a row, up to the last, that did not switch, and the state they
    are stuck in (labqc.switching)."""
    seen = seen_in(reads, min_ratio)
    return seen.streak, seen.state


__all__ = ["StopCondition", "Seen", "judge", "seen_in", "stop_reason", "stuck_streak"]
