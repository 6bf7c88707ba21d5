"""Pulse trains as data: per-pulse statistics (mean current over each pulse's top, I_i/I_1,
G/G0 at the read), the lag pairs (I_i, I_i+1), the polar view and the pulse-to-pulse
spread. Re-exported by labqc.views.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labqc.units import G0


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
