"""The series-resistance correction, written once for every caller.

A meter in series with a resistance R_s reads G_meas = G/(1 + R_s·G); the device's own
conductance is G = G_meas/(1 - R_s·G_meas), undefined (NaN here) where the measured
resistance is not larger than R_s. ``unit`` is the value in siemens of one unit of the
conductance passed in: G0 for G/G0 (the default), 1.0 for siemens.

``correct``, ``uncorrect`` and ``derivative`` are the array forms; ``correct_scalar`` and
``derivative_scalar`` are plain Python in numba's subset, compiled into the online
detector's kernel (labqc.online_kernel) so that it applies literally the same formula.
A float32 array stays float32 (the dashboard's column store holds 10⁶ points in it).
"""
from __future__ import annotations

import math

import numpy as np

from labqc.units import G0


def check(r_series: float | np.ndarray) -> None:
    """Refuse a series resistance that is not a finite, non-negative number of ohms (an
    array of them, e.g. a search grid, is checked element by element)."""
    if r_series is None or not np.all(np.isfinite(r_series)) or np.any(np.asarray(r_series) < 0):
        raise ValueError(f"series resistance must be a finite value >= 0 ohm, got {r_series!r}")


def _float(g) -> np.ndarray:
    a = np.asarray(g)
    return a if a.dtype in (np.float32, np.float64) else a.astype(float)


def correct(g: np.ndarray | float, r_series: float | np.ndarray, unit: float = G0) -> np.ndarray:
    """G_corr = G/(1 - R_s·unit·G); NaN where the correction is undefined (a new array).
    R_s may be an array that broadcasts against g (one row per candidate R_s)."""
    check(r_series)
    g = _float(g)
    if np.ndim(r_series) == 0 and r_series == 0:
        return g.copy()
    k = (np.asarray(r_series) * unit).astype(g.dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        den = 1 - k * g
        return np.where(den > 0, g / den, g.dtype.type(np.nan))


def uncorrect(g_corr: np.ndarray | float, r_series: float, unit: float = G0) -> np.ndarray:
    """What a meter in series with R_s reads: G/(1 + R_s·unit·G) (inverse of :func:`correct`)."""
    check(r_series)
    g = _float(g_corr)
    with np.errstate(divide="ignore", invalid="ignore"):
        return g / (1 + (np.asarray(r_series) * unit).astype(g.dtype) * g)


def derivative(g: np.ndarray | float, r_series: float, unit: float = G0) -> np.ndarray:
    """dG_corr/dG_meas = 1/(1 - R_s·unit·G)² at measured G: how much the correction
    amplifies noise (NaN where the correction is undefined)."""
    check(r_series)
    g = _float(g)
    with np.errstate(divide="ignore", invalid="ignore"):
        den = 1 - (np.asarray(r_series) * unit).astype(g.dtype) * g
        return np.where(den > 0, 1 / (den * den), g.dtype.type(np.nan))


def d_corrected_d_rs(g_corr: np.ndarray | float, unit: float = G0) -> np.ndarray:
    """dG_corr/dR_s at corrected G: unit·G_corr² (G units per ohm). How far an R_s error moves
    a corrected level: 0.08 G0 at 10 G0 for 10 ohm."""
    g = _float(g_corr)
    return unit * g * g


def correct_scalar(g: float, r_series: float) -> float:
    """:func:`correct` for one G/G0 value (NaN where undefined); compiled by the online kernel."""
    den = 1.0 - r_series * G0 * g
    if den > 0.0 and math.isfinite(g):
        return g / den
    return math.nan


def uncorrect_scalar(g_corr: float, r_series: float) -> float:
    """:func:`uncorrect` for one G/G0 value; compiled by the online kernel."""
    return g_corr / (1.0 + r_series * G0 * g_corr)


def derivative_scalar(g: float, r_series: float) -> float:
    """:func:`derivative` for one measured G/G0 value; compiled by the online kernel."""
    den = 1.0 - r_series * G0 * g
    if den > 0.0:
        return 1.0 / (den * den)
    return math.nan
