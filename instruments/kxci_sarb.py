"""Compile a :class:`~labqc.instruments.smu.PulseTrain` into PMU Segment Arb sequences.

One pulse period becomes one *sequence* of segments, each a straight line from a start to
a stop voltage over a time (KXCI ``:PMU:SARB:SEQ:*``):

    rise (base -> amplitude), top (measured), fall (-> base), gap (base, split in <= 1 s),
    and with a read: rise (-> read level), read top (measured), fall (-> base).

The read sits at the end of the period, so the device relaxes at base before it is read.
Consecutive identical pulses share one sequence looped in hardware
(``:PMU:SARB:WFM:SEQ:LIST ch,seq,loops,...``), so a train of 500 identical pulses is one
sequence and one list entry however long it is.

Rules of the PMU 10 V range (4200A KXCI manual; docs/keithley4200a.md): segments of
20 ns to 1 s on a 10 ns grid, at least 3 segments per sequence, each segment starting where
the previous one stopped, sequence numbers 1-512, at most 128 values per command.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labqc.instruments.smu import PulseTrain

TIME_STEP = 10e-9  # s, segment time resolution
MIN_SEGMENT = 20e-9  # s, shortest segment on the 10 V range
MAX_SEGMENT = 1.0  # s, longest segment
MAX_SEQUENCES = 512
MAX_VALUES = 128  # values per :PMU:SARB:SEQ:* command (longer needs :ADD)
MAX_LIST_ENTRIES = 128  # (sequence, loops) pairs we put in one :PMU:SARB:WFM:SEQ:LIST
#: The spot-mean window as fractions of a flat top: the PMU's own standard-pulse default
#: (``:PMU:TIMES:PIV`` 0.75-0.9), after the range has settled, so both modes read alike.
SPOT_WINDOW = (0.75, 0.9)


def _grid(t: float) -> float:
    """``t`` on the 10 ns grid, never below the shortest segment."""
    return max(MIN_SEGMENT, round(t / TIME_STEP) * TIME_STEP)


def edge_time(width: float) -> float:
    """Rise and fall time used for a pulse of ``width``: a tenth of it, 20 ns to 1 µs.

    Short enough that the top is flat for most of the width, never below what the 10 V range
    can do; the PMU requires width > (rise + fall) / 2, which a tenth always satisfies.
    """
    return _grid(min(1e-6, max(MIN_SEGMENT, width / 10)))


@dataclass(frozen=True)
class Sequence:
    """One period's segments: times (s), start and stop voltages, which are measured, and
    the measurement window in each (s from the segment's start; 0, 0 when not measured)."""

    times: tuple[float, ...]
    start: tuple[float, ...]
    stop: tuple[float, ...]
    measured: tuple[bool, ...]

    @property
    def window(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        lo, hi = SPOT_WINDOW
        return (tuple(_grid(lo * t) if m else 0.0 for t, m in zip(self.times, self.measured)),
                tuple(_grid(hi * t) if m else 0.0 for t, m in zip(self.times, self.measured)))

    @property
    def points(self) -> int:
        """Spot-mean readings one pass produces."""
        return sum(self.measured)


def period_sequence(amplitude: float, read: float | None, p: PulseTrain) -> Sequence:
    """The segments of one period of ``p`` with pulse ``amplitude`` and optional ``read``.

    Widths are full widths at half maximum, as in standard pulse mode: the flat top is the
    width less one edge."""
    edge = edge_time(p.width)
    segs: list[tuple[float, float, float, bool]] = [
        (edge, p.base, amplitude, False),
        (_grid(p.width - edge), amplitude, amplitude, True),
        (edge, amplitude, p.base, False),
    ]
    tail: list[tuple[float, float, float, bool]] = []
    if read is not None:
        read_edge = edge_time(p.read_width)
        tail = [
            (read_edge, p.base, read, False),
            (_grid(p.read_width - read_edge), read, read, True),
            (read_edge, read, p.base, False),
        ]
    used = sum(s[0] for s in segs) + sum(s[0] for s in tail)
    gap = p.period - used
    if gap < MIN_SEGMENT - 1e-15:
        raise ValueError(f"a period of {p.period:g} s is too short for the pulse, the read and their edges "
                         f"({used:g} s)")
    # The rest of the period at base, in segments of at most 1 s.
    n_gap = int(np.ceil(gap / MAX_SEGMENT - 1e-12))
    for _ in range(n_gap):
        piece = _grid(gap / n_gap)
        segs.append((piece, p.base, p.base, False))
    segs += tail
    times, start, stop, measured = zip(*segs)
    return Sequence(tuple(times), tuple(start), tuple(stop), tuple(measured))


def runs(amplitudes: np.ndarray, reads: np.ndarray | None) -> list[tuple[float, float | None, int]]:
    """Run-length encode the train: (amplitude, read level or None, count) per run."""
    out: list[tuple[float, float | None, int]] = []
    for k, a in enumerate(amplitudes):
        r = None if reads is None else float(reads[k])
        if out and out[-1][0] == float(a) and out[-1][1] == r:
            out[-1] = (out[-1][0], r, out[-1][2] + 1)
        else:
            out.append((float(a), r, 1))
    return out


def split_runs(all_runs: list[tuple[float, float | None, int]], max_pulses: int,
               max_entries: int = MAX_LIST_ENTRIES) -> list[list[tuple[float, float | None, int]]]:
    """Cut the runs into executions of at most ``max_pulses`` pulses and ``max_entries`` list
    entries (and so at most that many distinct sequences), splitting a long run if needed."""
    chunks: list[list[tuple[float, float | None, int]]] = [[]]
    pulses = 0
    for a, r, n in all_runs:
        while n > 0:
            if pulses >= max_pulses or len(chunks[-1]) >= max_entries:
                chunks.append([])
                pulses = 0
            take = min(n, max_pulses - pulses)
            chunks[-1].append((a, r, take))
            pulses += take
            n -= take
    return [c for c in chunks if c]


def batches(values, size: int = MAX_VALUES) -> list[list]:
    """``values`` in slices of at most ``size`` (the first goes with the command, the rest with :ADD)."""
    values = list(values)
    return [values[i:i + size] for i in range(0, len(values), size)] or [[]]
