"""The views of the papers as data: plain arrays and small dataclasses the dashboard and
`labqc analyze` draw (no plotting here).

- conductance histograms (0.05 G0 bins; all samples, or plateaus weighted by duration),
  with an incremental :class:`Histogram` for live use;
- 2-D histograms of G/G0 against V, I, time-in-cycle or pulse number;
- plateau-length statistics per level;
- per-pulse statistics of a pulse train, the lag pairs (I_i, I_i+1) and the polar view;
- endurance and retention statistics (level occupancy per cycle, HRS/LRS, dwell times).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.signal import find_peaks

from labqc.units import G0

BIN_WIDTH = 0.05  # G0, the bin of the Ag-nanowire statistics
G_RANGE = (0.0, 25.0)  # G0; above ~25 G0 transport is diffusive


def display_max(g: np.ndarray) -> float:
    """Top of a G/G0 axis for a trace: half a quantum above its 99.5th percentile (so a few
    spikes do not set it), between 1 and 25 G0."""
    top = float(np.nanpercentile(g, 99.5)) if np.isfinite(g).any() else 1.0
    return float(np.clip(np.ceil(top * 2 + 1) / 2, 1.0, G_RANGE[1]))


def _edges(bin_width: float, range: tuple[float, float]) -> np.ndarray:
    lo, hi = range
    if not (bin_width > 0 and np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        raise ValueError(f"need bin_width > 0 and a finite range lo < hi, got {bin_width!r}, {range!r}")
    n = int(round((hi - lo) / bin_width))
    return lo + bin_width * np.arange(n + 1)


def histogram(
    g, bin_width: float = BIN_WIDTH, range: tuple[float, float] = G_RANGE, weights=None
) -> tuple[np.ndarray, np.ndarray]:
    """Counts and bin edges of G/G0 samples (NaN/inf ignored; values outside range dropped)."""
    edges = _edges(bin_width, range)
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
        self.edges = _edges(bin_width, range)
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
    g_edges = _edges(bin_width, range)
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


# ----- pulse trains ---------------------------------------------------------------------
@dataclass(frozen=True)
class PulseStats:
    pulse: np.ndarray  # pulse numbers (1-based, as in the papers)
    mean_top: np.ndarray  # A: mean current over the top part of each pulse
    ratio: np.ndarray  # I_i / I_1
    g_read: np.ndarray  # G/G0 at the read (NaN where no read voltage/current was given)


def pulse_statistics(
    pulse, current, *, top_fraction: float = 0.5, v_read=None, i_read=None, r_series: float = 0.0,
) -> PulseStats:
    """Per-pulse statistics of a pulse train.

    ``pulse`` labels every sample with its pulse number and ``current`` is the sampled
    current (A). The top of a pulse is the part above (1 - top_fraction) of its maximum
    |I|, so the rising and falling edges do not enter the mean. With per-pulse read
    values (``v_read`` V, ``i_read`` A) G/G0 at the read is reported, R_s-corrected.
    """
    pulse = np.asarray(pulse).ravel()
    current = np.asarray(current, dtype=float).ravel()
    if pulse.shape != current.shape:
        raise ValueError("pulse and current must have the same length")
    ok = np.isfinite(current)
    pulse, current = pulse[ok], current[ok]
    labels, inverse = np.unique(pulse, return_inverse=True)
    if not labels.size:
        empty = np.zeros(0)
        return PulseStats(empty, empty, empty, empty)
    peak = np.zeros(labels.size)
    np.maximum.at(peak, inverse, np.abs(current))
    top = np.abs(current) >= (1.0 - top_fraction) * peak[inverse]
    sums = np.bincount(inverse[top], weights=current[top], minlength=labels.size)
    counts = np.bincount(inverse[top], minlength=labels.size)
    mean_top = sums / np.maximum(counts, 1)
    ratio = mean_top / mean_top[0] if mean_top[0] != 0 else np.full(labels.size, np.nan)
    g_read = np.full(labels.size, np.nan)
    if v_read is not None and i_read is not None:
        from labqc.levels import correct_g0

        v = np.asarray(v_read, dtype=float).ravel()
        i = np.asarray(i_read, dtype=float).ravel()
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(np.abs(v) > 0, i / v / G0, np.nan)
        g_read = correct_g0(g, r_series)[: labels.size]
    return PulseStats(labels.astype(float), mean_top, ratio, g_read)


def lag_pairs(values) -> tuple[np.ndarray, np.ndarray]:
    """Time-lag pairs (v_i, v_i+1): points on the diagonal are plateaus, below it decreases."""
    v = np.asarray(values, dtype=float).ravel()
    return v[:-1].copy(), v[1:].copy()


def polar(ratio) -> tuple[np.ndarray, np.ndarray]:
    """Polar representation of a pulse train: radius I_i/I_1 at angle (i-1)·π."""
    r = np.asarray(ratio, dtype=float).ravel()
    return r.copy(), np.pi * np.arange(r.size)


def lag_spread(values) -> float:
    """Cycle-to-cycle variability: robust relative spread (1.4826·MAD) of v_i+1/v_i,
    typically 5-10 %. Pairs whose v_i is below 1 % of the largest |v| (a device switched
    off) are left out: their ratio measures the noise floor, not the device."""
    a, b = lag_pairs(values)
    keep = np.isfinite(a) & np.isfinite(b) & (np.abs(a) > 0.01 * np.nanmax(np.abs(a), initial=0.0))
    rel = b[keep] / a[keep]
    if rel.size < 2:
        return float("nan")
    return float(1.4826 * np.median(np.abs(rel - np.median(rel))))


# ----- endurance and retention ---------------------------------------------------------
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


# ----- 2-D conductance correlation histogram (2DCH) -------------------------------------
@dataclass(frozen=True)
class CorrelationHistogram:
    edges: np.ndarray  # G/G0, the same bins on both axes
    c: np.ndarray  # c[i, j] = correlation of bin i in trace r with bin j in trace r + lag; NaN if undefined
    counts: np.ndarray  # per-trace histograms, counts[trace, bin] (empty traces left out)
    n_traces: int  # traces that held at least one finite sample
    n_pairs: int  # (r, r + lag) pairs averaged over; equals n_traces when lag == 0
    lag: int

    @property
    def centers(self) -> np.ndarray:
        return 0.5 * (self.edges[1:] + self.edges[:-1])


def correlation_histogram(
    g, cycle_starts, *, bin_width: float = BIN_WIDTH, g_max: float | None = None,
    r_series: float = 0.0, lag: int = 0,
) -> CorrelationHistogram:
    """2-D conductance correlation histogram of cycled traces (Makk et al., ACS Nano 6, 3411 (2012)).

    ``g`` is the whole record in G/G0 and ``cycle_starts`` the (increasing) index of each
    cycle's first sample; samples before the first start form a trace of their own. Every
    trace r gets a histogram N_r(G) on the same bins (``bin_width`` G0 from 0 to ``g_max``;
    by default :func:`display_max`, as in `labqc analyze`), and

        C(G1, G2) = <dN_r(G1) dN_r+lag(G2)>_r / sqrt(<dN_r(G1)^2>_r <dN_r+lag(G2)^2>_r),

    dN = N - <N>_r, i.e. the Pearson correlation across traces. C > 0: the two levels occur
    in the same cycles; C < 0: they exclude each other; the diagonal is 1 for lag 0. A bin
    whose count is the same in every trace has no defined correlation and gives NaN in its
    row and column. ``lag`` > 0 correlates cycle r with cycle r + lag (the "shifted"
    correlation of arXiv 1612.01439): does a level in one cycle predict a level in a later
    one; C is then not symmetric and its diagonal not 1.

    NaN/inf samples are ignored and traces without any finite sample left out (a cycle
    spent at compliance carries no histogram); with a lag, pairs touching such a trace are
    dropped. At least 2 traces (pairs) are required, about 100 or more for a map that is
    not dominated by noise (116 cycles suffice in the ACS Nano paper). N_r are raw counts,
    so cycles of very different length bias C towards positive values. With ``r_series``
    > 0 ohm, G/G0 is series-resistance corrected first (labqc.levels.correct_g0).
    """
    from labqc.levels import correct_g0

    g = np.asarray(g, dtype=float).ravel()
    if r_series:
        g = correct_g0(g, r_series)
    lag = int(lag)
    if lag < 0:
        raise ValueError(f"lag must be a whole number of cycles >= 0, got {lag}")
    trace = _trace_of_sample(g.size, cycle_starts)
    if g_max is None:
        g_max = display_max(g)
    edges = _edges(bin_width, (0.0, g_max))
    n_bins = edges.size - 1

    ok = np.isfinite(g)
    n_traces_all = int(trace[-1]) + 1 if trace.size else 0
    has_data = np.bincount(trace[ok], minlength=n_traces_all) > 0
    # Bin as np.histogram does (last bin closed); samples outside [0, g_max] are dropped.
    inside = ok & (g >= edges[0]) & (g <= edges[-1])
    k = np.minimum(np.searchsorted(edges, g[inside], side="right") - 1, n_bins - 1)
    flat = np.bincount(trace[inside] * n_bins + k, minlength=n_traces_all * n_bins)
    counts_all = flat.reshape(n_traces_all, n_bins).astype(float)

    if lag:
        pair = has_data[:-lag] & has_data[lag:] if lag < n_traces_all else np.zeros(0, bool)
        x, y = counts_all[:-lag][pair], counts_all[lag:][pair]
    else:
        x = y = counts_all[has_data]
    n_pairs = x.shape[0]
    if n_pairs < 2:
        what = "traces (cycles) with samples" if not lag else f"pairs of non-empty cycles {lag} apart"
        raise ValueError(f"a correlation histogram needs at least 2 {what}, got {n_pairs}")
    c = _pearson_columns(x, y)
    if not lag:
        c = 0.5 * (c + c.T)  # exact symmetry despite rounding in the product
        d = np.arange(n_bins)
        c[d, d] = np.where(np.isfinite(c[d, d]), 1.0, np.nan)
    return CorrelationHistogram(edges, c, counts_all[has_data], int(has_data.sum()), n_pairs, lag)


def _trace_of_sample(n: int, cycle_starts) -> np.ndarray:
    """Trace number of every sample (0, 1, ...), cut at the cycle starts."""
    cs = np.asarray(cycle_starts if cycle_starts is not None else [], dtype=float).ravel()
    if cs.size and (
        not np.all(np.isfinite(cs)) or np.any(cs != np.round(cs)) or cs.min() < 0 or cs.max() >= max(n, 1)
        or np.any(np.diff(cs) <= 0)
    ):
        raise ValueError(f"cycle starts must be increasing sample indices between 0 and {n - 1}")
    cs = cs.astype(np.int64)
    if not cs.size or cs[0] != 0:
        cs = np.insert(cs, 0, 0)
    return np.searchsorted(cs, np.arange(n), side="right") - 1


def _pearson_columns(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlation of every column of x with every column of y (rows = samples);
    NaN where either column has zero variance."""
    dx = x - x.mean(axis=0)
    dy = y - y.mean(axis=0)
    sx = np.sqrt((dx * dx).mean(axis=0))
    sy = np.sqrt((dy * dy).mean(axis=0))
    # Zero variance relative to the counts' scale: a constant bin, not a tiny real spread.
    flat_x = sx <= 1e-12 * np.maximum(np.abs(x).max(axis=0), 1.0)
    flat_y = sy <= 1e-12 * np.maximum(np.abs(y).max(axis=0), 1.0)
    zx = dx / np.where(flat_x, 1.0, sx)
    zy = dy / np.where(flat_y, 1.0, sy)
    c = np.clip(zx.T @ zy / x.shape[0], -1.0, 1.0)
    c[flat_x, :] = np.nan
    c[:, flat_y] = np.nan
    return c
