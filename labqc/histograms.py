"""Conductance histograms as data: 0.05 G0 bins over all samples or over plateaus weighted
by their duration, an incremental :class:`Histogram` for live use, histogram peaks, 2-D
histograms of G/G0 against V, I, time-in-cycle or pulse number, and plateau-length
statistics per level. Re-exported by labqc.views.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

BIN_WIDTH = 0.05  # G0, the bin of the Ag-nanowire statistics
G_RANGE = (0.0, 25.0)  # G0; above ~25 G0 transport is diffusive


def display_max(g: np.ndarray) -> float:
    """Top of a G/G0 axis for a trace: half a quantum above its 99.5th percentile (so a few
    spikes do not set it), between 1 and 25 G0."""
    top = float(np.nanpercentile(g, 99.5)) if np.isfinite(g).any() else 1.0
    return float(np.clip(np.ceil(top * 2 + 1) / 2, 1.0, G_RANGE[1]))


def bin_edges(bin_width: float, range: tuple[float, float]) -> np.ndarray:
    """Edges of ``bin_width`` bins from range[0] to range[1] (ValueError for an empty range)."""
    lo, hi = range
    if not (bin_width > 0 and np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        raise ValueError(f"need bin_width > 0 and a finite range lo < hi, got {bin_width!r}, {range!r}")
    n = int(round((hi - lo) / bin_width))
    return lo + bin_width * np.arange(n + 1)


def histogram(
    g, bin_width: float = BIN_WIDTH, range: tuple[float, float] = G_RANGE, weights=None
) -> tuple[np.ndarray, np.ndarray]:
    """Counts and bin edges of G/G0 samples (NaN/inf ignored; values outside range dropped)."""
    edges = bin_edges(bin_width, range)
    g = np.asarray(g, dtype=float).ravel()
    ok = np.isfinite(g)
    w = None if weights is None else np.asarray(weights, dtype=float).ravel()[ok]
    counts, _ = np.histogram(g[ok], bins=edges, weights=w)
    return counts, edges


class Histogram:
    """A G/G0 histogram that grows sample by sample or chunk by chunk (O(chunk) per add).

    ``counts`` always equals ``histogram(all samples added so far)``.
    """

    def __init__(self, bin_width: float = BIN_WIDTH, range: tuple[float, float] = G_RANGE) -> None:
        self.edges = bin_edges(bin_width, range)
        self.bin_width = float(bin_width)
        self.counts = np.zeros(self.edges.size - 1, dtype=np.int64)
        self.n_outside = 0

    def add(self, samples) -> None:
        x = np.atleast_1d(np.asarray(samples, dtype=float)).ravel()
        x = x[np.isfinite(x)]
        lo, hi = self.edges[0], self.edges[-1]
        inside = (x >= lo) & (x <= hi)
        self.n_outside += int(x.size - inside.sum())
        # Same bin rule as np.histogram: searchsorted on the edges, the last bin closed.
        k = np.searchsorted(self.edges, x[inside], side="right") - 1
        k[k == self.counts.size] = self.counts.size - 1
        self.counts += np.bincount(k, minlength=self.counts.size)

    def clear(self) -> None:
        self.counts[:] = 0
        self.n_outside = 0

    @property
    def centers(self) -> np.ndarray:
        return 0.5 * (self.edges[1:] + self.edges[:-1])


def plateau_histogram(
    plateaus: Sequence, bin_width: float = BIN_WIDTH, range: tuple[float, float] = G_RANGE,
    *, corrected: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Duration-weighted histogram of plateau levels (samples spent on each level)."""
    levels = [p.level if corrected else p.raw_level for p in plateaus]
    durations = [p.stop - p.start for p in plateaus]
    return histogram(np.asarray(levels, dtype=float), bin_width, range, weights=durations)


@dataclass(frozen=True)
class Peak:
    position: float  # G/G0 (bin centre refined by a parabola through the neighbours)
    height: float
    nearest_quantum: float


def histogram_peaks(counts: np.ndarray, edges: np.ndarray, *, min_fraction: float = 0.02, max_peaks: int = 12) -> list[Peak]:
    """Peaks of a histogram higher than min_fraction of the tallest, tallest first."""
    counts = np.asarray(counts, dtype=float)
    if not counts.size or counts.max() <= 0:
        return []
    smooth = np.convolve(counts, [0.25, 0.5, 0.25], mode="same")
    from scipy.signal import find_peaks  # here: the dashboard imports this module, and SciPy's
    # signal package costs it ~60 MB of memory it needs only when peaks are asked for

    idx, props = find_peaks(smooth, height=min_fraction * smooth.max(), distance=3)
    centers = 0.5 * (edges[1:] + edges[:-1])
    width = edges[1] - edges[0]
    peaks = []
    for k in idx[np.argsort(-props["peak_heights"])][:max_peaks]:
        pos = centers[k]
        if 0 < k < counts.size - 1:
            y0, y1, y2 = smooth[k - 1], smooth[k], smooth[k + 1]
            den = y0 - 2 * y1 + y2
            if den < 0:
                pos += 0.5 * width * (y0 - y2) / den
        peaks.append(Peak(float(pos), float(counts[k]), float(np.round(2 * pos) / 2)))
    return peaks


def histogram_2d(
    x, g, *, x_bins: int | np.ndarray = 100, bin_width: float = BIN_WIDTH,
    range: tuple[float, float] = G_RANGE,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """2-D histogram of G/G0 against x (V, I, time in cycle, pulse number).

    Returns (counts[x_bin, g_bin], x_edges, g_edges).
    """
    x = np.asarray(x, dtype=float).ravel()
    g = np.asarray(g, dtype=float).ravel()
    if x.shape != g.shape:
        raise ValueError("x and G/G0 must have the same length")
    ok = np.isfinite(x) & np.isfinite(g)
    g_edges = bin_edges(bin_width, range)
    if np.ndim(x_bins) == 0:
        if ok.any():
            lo, hi = float(x[ok].min()), float(x[ok].max())
        else:
            lo, hi = 0.0, 1.0
        if hi <= lo:
            hi = lo + 1.0
        x_edges = np.linspace(lo, hi, int(x_bins) + 1)
    else:
        x_edges = np.asarray(x_bins, dtype=float)
    counts, _, _ = np.histogram2d(x[ok], g[ok], bins=[x_edges, g_edges])
    return counts, x_edges, g_edges


def time_in_cycle(cycle) -> np.ndarray:
    """Sample index within its cycle (0 at each cycle's first sample)."""
    cycle = np.asarray(cycle)
    if not cycle.size:
        return np.zeros(0, dtype=int)
    new = np.concatenate([[True], cycle[1:] != cycle[:-1]])
    starts = np.flatnonzero(new)
    run = np.cumsum(new) - 1
    return np.arange(cycle.size) - starts[run]


@dataclass(frozen=True)
class LevelLengths:
    quantum: float
    count: int
    mean: float  # samples
    median: float
    max: int
    lengths: np.ndarray


def plateau_lengths(plateaus: Sequence) -> list[LevelLengths]:
    """Plateau-length statistics per assigned quantum level (unassigned plateaus left out)."""
    by_level: dict[float, list[int]] = {}
    for p in plateaus:
        if p.quantum is not None:
            by_level.setdefault(p.quantum, []).append(p.stop - p.start)
    out = []
    for q in sorted(by_level):
        L = np.asarray(by_level[q])
        out.append(LevelLengths(q, int(L.size), float(L.mean()), float(np.median(L)), int(L.max()), L))
    return out
