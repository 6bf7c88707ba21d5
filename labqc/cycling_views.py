"""Endurance and retention as data: samples spent on each quantum level per cycle, the
HRS/LRS split of per-cycle reads and dwell times per level. Re-exported by labqc.views.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


def level_occupancy(plateaus: Sequence, cycle_of_sample, quanta=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Samples spent on each quantum level per cycle.

    Returns (cycles, quanta, occupancy[cycle, quantum]) with occupancy in samples.
    """
    cyc = np.asarray(cycle_of_sample)
    cycles = np.unique(cyc[~_isnan(cyc)]) if cyc.size else np.zeros(0)
    qs = sorted({p.quantum for p in plateaus if p.quantum is not None}) if quanta is None else list(quanta)
    occ = np.zeros((cycles.size, len(qs)))
    col = {q: j for j, q in enumerate(qs)}
    for p in plateaus:
        if p.quantum is None or p.quantum not in col:
            continue
        labels, n = np.unique(cyc[p.start : p.stop], return_counts=True)
        rows = np.searchsorted(cycles, labels)
        ok = (rows < cycles.size) & (cycles[np.minimum(rows, cycles.size - 1)] == labels)
        occ[rows[ok], col[p.quantum]] += n[ok]
    return cycles, np.asarray(qs, dtype=float), occ


def _isnan(a: np.ndarray) -> np.ndarray:
    return np.isnan(a) if np.issubdtype(a.dtype, np.floating) else np.zeros(a.shape, dtype=bool)


@dataclass(frozen=True)
class HrsLrs:
    hrs: np.ndarray  # G/G0 of the high-resistance state per cycle
    lrs: np.ndarray  # G/G0 of the low-resistance state per cycle
    threshold: float  # G/G0 separating them
    window: float  # median(LRS)/median(HRS)


def hrs_lrs(read_g, *, threshold: float | None = None) -> HrsLrs:
    """Split per-cycle reads (G/G0) into HRS and LRS; threshold defaults to the largest gap
    in log G (the two states are usually decades apart)."""
    g = np.asarray(read_g, dtype=float).ravel()
    g = g[np.isfinite(g) & (g > 0)]
    if g.size < 2:
        raise ValueError("need at least two positive reads to separate HRS from LRS")
    if threshold is None:
        lg = np.sort(np.log10(g))
        k = int(np.argmax(np.diff(lg)))
        threshold = float(10 ** (0.5 * (lg[k] + lg[k + 1])))
    hrs, lrs = g[g < threshold], g[g >= threshold]
    window = float(np.median(lrs) / np.median(hrs)) if hrs.size and lrs.size else float("nan")
    return HrsLrs(hrs, lrs, float(threshold), window)


@dataclass(frozen=True)
class Dwell:
    quantum: float
    times: np.ndarray  # dwell durations on that level (seconds if t was given, else samples)
    mean: float


def dwell_times(plateaus: Sequence, t=None) -> list[Dwell]:
    """Dwell times per quantum level (retention: how long the device stays on each level)."""
    t = None if t is None else np.asarray(t, dtype=float)
    by_level: dict[float, list[float]] = {}
    for p in plateaus:
        if p.quantum is None:
            continue
        d = (t[p.stop - 1] - t[p.start]) if t is not None else float(p.stop - p.start)
        by_level.setdefault(p.quantum, []).append(float(d))
    return [Dwell(q, np.asarray(v), float(np.mean(v))) for q, v in sorted(by_level.items())]
