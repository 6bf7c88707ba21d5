"""The 2-D conductance correlation histogram (2DCH) of cycled traces: which levels occur in
the same cycles (or, with a lag, in later ones). Re-exported by labqc.views.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labqc.histograms import BIN_WIDTH, bin_edges, display_max


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
    edges = bin_edges(bin_width, (0.0, g_max))
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
