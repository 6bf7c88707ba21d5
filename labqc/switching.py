"""Did the device switch? The one rule for HRS/LRS reads and a device stuck in one state.

A cycle's reads are, in order, the read after its SET half (LRS) first and the read after
its RESET half (HRS) last. The cycle has switched when G(LRS)/G(HRS) >= the minimum on/off
ratio (an HRS read of 0 or less counts as switched). A device is stuck after K complete
cycles in a row that did not switch; it is stuck in LRS when the HRS read still shows at
least 1 G0, else in HRS. Endurance applies the rule to stop a run; a plan's
``[step.stop] stuck_cycles`` applies it to skip the step's remaining runs on a device, fed
from the same rows as they stream (labqc.procedures.stop_watch).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: G/G0 of the HRS read at or above which a stuck device counts as stuck in LRS.
LRS_LEVEL = 1.0


def switched(g_lrs: float, g_hrs: float, min_ratio: float) -> bool:
    """True when G(LRS)/G(HRS) >= ``min_ratio`` (G in any one unit)."""
    ratio = g_lrs / g_hrs if g_hrs > 0 else math.inf
    return bool(ratio >= min_ratio)


def stuck_state(g_hrs: float) -> str:
    """The state a device that does not switch is stuck in, from its HRS read (G/G0)."""
    return "LRS" if g_hrs >= LRS_LEVEL else "HRS"


def cycle_reads(cycle: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split read rows (in time order, by their cycle numbers) into cycles: (cycles, index
    of the first read = LRS, index of the last read = HRS, number of reads), one entry per
    run of equal cycle numbers."""
    cycle = np.asarray(cycle)
    if not cycle.size:
        none = np.zeros(0, dtype=np.int64)
        return cycle[:0], none, none, none
    starts = np.flatnonzero(np.r_[True, cycle[1:] != cycle[:-1]])
    ends = np.r_[starts[1:], cycle.size]
    return cycle[starts], starts, ends - 1, ends - starts


@dataclass
class StuckWatch:
    """Streaming bookkeeping of the stuck rule: complete cycles in, the streak out.

    ``add_cycle`` books one cycle from its two reads; ``add_reads`` takes read rows as
    they stream (a cycle is complete when the next cycle's first read arrives, or at
    ``flush``). Cycles with fewer than two finite reads say nothing about switching.
    """

    min_ratio: float = 2.0
    streak: int = 0  # complete cycles in a row, up to the latest, that did not switch
    state: str = ""  # what the latest unswitched cycle is stuck in
    cycles: int = 0  # complete cycles booked
    unbroken: bool = True  # no cycle booked so far has switched
    _pending: tuple | None = None  # (cycle, first G, last G, reads) of the cycle still open

    def add_cycle(self, g_lrs: float, g_hrs: float) -> bool:
        """Book one complete cycle; True when it switched."""
        self.cycles += 1
        if switched(g_lrs, g_hrs, self.min_ratio):
            self.streak, self.state, self.unbroken = 0, "", False
            return True
        self.streak += 1
        self.state = stuck_state(g_hrs)
        return False

    def add_reads(self, cycle: np.ndarray, g: np.ndarray) -> None:
        """Read rows (cycle numbers and G/G0, in time order), finite ones only counted."""
        g = np.asarray(g, dtype=float)
        ok = np.isfinite(g)
        g = g[ok]
        cycles, first, last, count = cycle_reads(np.asarray(cycle)[ok])
        for c, f, l, n in zip(cycles.tolist(), g[first].tolist(), g[last].tolist(), count.tolist()):
            pending = self._pending
            if pending is not None and pending[0] == c:
                self._pending = (c, pending[1], l, pending[3] + n)
                continue
            self.flush()
            self._pending = (c, f, l, n)

    def flush(self) -> None:
        """Book the open cycle (the end of a run completes it)."""
        pending, self._pending = self._pending, None
        if pending is not None and pending[3] >= 2:
            self.add_cycle(pending[1], pending[2])


class ReadRoles:
    """Which streamed reads are LRS and which HRS, when a view needs to tell them apart
    read by read: a read after a SET branch is the LRS, after a RESET branch the HRS;
    after anything else (a pulse, a current sweep) the first read of a cycle is its LRS and
    a later one its HRS, the order :func:`cycle_reads` takes. State carries across chunks."""

    OTHER, SET, RESET = 0, 1, 2

    def __init__(self) -> None:
        self.last_branch = self.OTHER
        self.last_read_cycle: int | None = None

    def split(self, is_read: np.ndarray, is_set: np.ndarray, is_reset: np.ndarray,
              cycle: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(LRS, HRS) masks over one chunk's rows."""
        code = np.where(is_set, self.SET, np.where(is_reset, self.RESET, self.OTHER))
        branch_at = np.where(~is_read, np.arange(is_read.size), -1)
        np.maximum.accumulate(branch_at, out=branch_at)
        before = np.where(branch_at >= 0, code[np.maximum(branch_at, 0)], self.last_branch)
        read_cycle = np.asarray(cycle)[is_read]
        previous = np.r_[[-1 if self.last_read_cycle is None else self.last_read_cycle], read_cycle[:-1]]
        first = np.zeros(is_read.size, dtype=bool)
        first[is_read] = read_cycle != previous
        lrs = is_read & ((before == self.SET) | ((before == self.OTHER) & first))
        hrs = is_read & ((before == self.RESET) | ((before == self.OTHER) & ~first))
        if (~is_read).any():
            self.last_branch = int(code[~is_read][-1])
        if read_cycle.size:
            self.last_read_cycle = int(read_cycle[-1])
        return lrs, hrs


__all__ = ["switched", "stuck_state", "cycle_reads", "StuckWatch", "ReadRoles", "LRS_LEVEL"]
