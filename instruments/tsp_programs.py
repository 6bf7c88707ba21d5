"""A long 2614B sweep or pulse train cut into programs of bounded instrument time.

Every program labqc sends the 2614B ends on the instrument with the output off
(:func:`labqc.instruments.tsp_planner.program`), so a host that dies leaves
the device biased at most until the running program's planned end. A sweep or a pulse train
longer than :data:`PROGRAM_LIMIT` is therefore run as several programs, each at most that
long. Cuts go where the source is at or near 0 V when the request has such places (between
the cycles or branches of a sweep that returns to 0 V; between pulses, where the output is at
its base), so switching the output off between two programs does not disturb the device.

What the device sees at a cut (README, "Faults"): the previous program's last step (a
sweep's last point, or a pulse period's tail at the base level) is held for its whole
planned time; then the output is off (0 V) for the few milliseconds the next program's
set-up and start take; then the next program turns the output on at 0 V (sweep) or at the
base (pulse train) and its first step begins at once. Readings keep the timestamps one
program would give them (each program's first reading at its planned request time).

Pure planning here (no I/O); the driver turns each span into one program.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from labqc.instruments.smu import PulseTrain, Sweep

#: Longest program (instrument seconds) a Sweep or PulseTrain is cut into.
PROGRAM_LIMIT = 30.0
#: A cut may land this early in a program (a fraction of the limit) if that puts it at a
#: quieter place; later than this, the quietest place wins.
EARLIEST = 0.5
#: Levels within this fraction of the request's largest |level| of the quietest candidate
#: count as equally quiet (so the latest of them is taken: fewer, longer programs).
NEAR = 0.01


def program_spans(step_seconds: np.ndarray, cut_level: np.ndarray,
                  limit: float = PROGRAM_LIMIT) -> list[tuple[int, int]]:
    """Split steps into programs: [a, b) spans whose ``step_seconds`` sum to at most ``limit``
    (a single step longer than ``limit`` is a program of its own).

    ``cut_level[k - 1]`` is the |level| the device sees around a cut before step k
    (k = 1 .. n-1). Within each program's window, the cut goes at the quietest place
    among those at least ``EARLIEST`` of the limit in; of places within ``NEAR`` of the
    quietest, the latest."""
    seconds = np.asarray(step_seconds, dtype=float)
    level = np.abs(np.asarray(cut_level, dtype=float))
    n = len(seconds)
    if len(level) != max(n - 1, 0):
        raise ValueError(f"need one cut level between each two of {n} steps, got {len(level)}")
    tolerance = NEAR * float(level.max()) if len(level) else 0.0
    ends = np.cumsum(seconds)
    spans, a = [], 0
    while a < n:
        since = ends[a - 1] if a else 0.0
        b = int(np.searchsorted(ends, since + limit * (1 + 1e-9), side="right"))
        b = max(b, a + 1)  # one step longer than the limit: a program of its own
        if b < n:
            lo = int(np.searchsorted(ends, since + EARLIEST * limit, side="left")) + 1
            candidates = np.arange(max(lo, a + 1), b + 1)  # cut before step k
            if len(candidates):
                quiet = level[candidates - 1]
                b = int(candidates[np.nonzero(quiet <= quiet.min() + tolerance)[0][-1]])
        spans.append((a, min(b, n)))
        a = min(b, n)
    return spans


def sweep_spans(r: Sweep, limit: float = PROGRAM_LIMIT) -> list[tuple[int, int]]:
    """Programs of a sweep: a cut before point k takes the output from level k-1 to off,
    then from 0 V to level k, so it is as quiet as the larger of the two."""
    levels = np.abs(r.levels)
    cuts = np.maximum(levels[:-1], levels[1:])
    return program_spans(np.full(r.points, r.step_time), cuts, limit)


def train_spans(r: PulseTrain, limit: float = PROGRAM_LIMIT) -> list[tuple[int, int]]:
    """Programs of a pulse train: cuts between pulses, where the output is at its base."""
    return program_spans(np.full(r.count, r.period), np.full(max(r.count - 1, 0), r.base), limit)


def part(r: Sweep | PulseTrain, a: int, b: int) -> Sweep | PulseTrain:
    """Points (or pulses) a..b-1 of ``r`` as a request of their own."""
    if isinstance(r, Sweep):
        return dataclasses.replace(r, levels=r.levels[a:b])
    reads = None if r.read_levels is None else r.read_levels[a:b]
    return dataclasses.replace(r, amplitudes=r.amplitudes[a:b], read_levels=reads)


def tail_seconds(r: Sweep | PulseTrain) -> float:
    """Instrument time the base is held after a program's last reading so a pulse period
    keeps its length across a cut (a sweep's last point ends at its reading)."""
    if isinstance(r, Sweep):
        return 0.0
    return max(r.period - r.width - (0.0 if r.read_levels is None else r.read_width), 0.0)
