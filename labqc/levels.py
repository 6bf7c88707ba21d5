"""Quantum-level assignment shared by the offline and the online plateau detectors.

A plateau's robust location m (G/G0, measured) is corrected for the series resistance,
snapped to the nearest multiple of 0.5 G0 and scored with the posterior of the
reference design:

- G_corr = m / (1 - R_s·G0·m); undefined (NaN) when 1 - R_s·G0·m <= 0;
- q = round(2·G_corr), d = G_corr - q/2;
- s² = sigma²/N_eff + sigma_int² + (G_corr²·G0·sigma_Rs)²;
- P_on = pi_on·N(d; 0, s) / (pi_on·N(d; 0, s) + (1 - pi_on)·2)   (uniform over a 0.5 G0 cell);
- P(q | m) ∝ N(G_corr; q/2, s) over the neighbouring levels;
- quantised if |d| <= tol and P_on >= 0.5 and the level is assignable;
- unassignable if G_corr²·G0·sigma_Rs > max_rs_spread or s > max_s, and unresolved
  (also no quantum, confidence 0, not assignable) if it is not quantised yet lies within
  OFF_GRID_Z·s of a level: "off the grid" is only said of a clear distance.

Everything is vectorised over plateaus so that one call scores a whole trace.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from labqc import rs
from labqc.rs import correct_scalar
from labqc.units import G0

#: Defaults of the reference design; both detectors use these.
TOLERANCE = 0.12  # G0: |d| above this is "off the grid"
SIGMA_INTRINSIC = 0.04  # G0: spread of real levels around n/2 (atomic arrangement)
PRIOR_ON_GRID = 0.8
MAX_RS_SPREAD = 0.08  # G0: R_s uncertainty above this makes the level unassignable
MAX_SIGMA = 0.125  # G0: above this the posterior over neighbouring levels is flat
N_EFF_FACTOR = 0.1  # N_eff = N/10: within-plateau noise is correlated (1/f, RTN)
MAX_LEVEL = 25.25  # G0: transport turns diffusive above ~25 G0; the analysis stops there
OFF_GRID_Z = 2.0  # uncertainties from the nearest level before a plateau is "off the grid"
_SQRT_2PI = math.sqrt(2.0 * math.pi)


# The correction itself lives in labqc.rs; these names stay for existing callers.
correct_g0 = rs.correct
uncorrect_g0 = rs.uncorrect
check_series_resistance = rs.check


@dataclass(frozen=True)
class LevelAssignment:
    """Per-plateau scores (arrays of equal length; quantum is NaN where unassigned)."""

    level: np.ndarray  # series-corrected G/G0
    quantum: np.ndarray  # assigned multiple of 0.5, NaN if off-grid or unassignable
    nearest: np.ndarray  # nearest multiple of 0.5 whatever the verdict
    confidence: np.ndarray  # P_on · P(nearest | m), 0..1
    p_on: np.ndarray
    p_level: np.ndarray
    z: np.ndarray  # d / s
    s: np.ndarray  # total uncertainty of the level, G0
    assignable: np.ndarray  # bool: a verdict (on or clearly off the grid) is possible
    in_range: np.ndarray  # bool: R_s and noise allow a level at all (assignable or within the noise)


def assign_levels(
    m: np.ndarray | float,
    n: np.ndarray | float,
    sigma: np.ndarray | float,
    *,
    r_series: float = 0.0,
    sigma_rs: float = 0.0,
    tol: float = TOLERANCE,
    sigma_int: float = SIGMA_INTRINSIC,
    prior_on: float = PRIOR_ON_GRID,
    n_eff_factor: float = N_EFF_FACTOR,
    max_rs_spread: float = MAX_RS_SPREAD,
    max_s: float = MAX_SIGMA,
    max_level: float = MAX_LEVEL,
    n_eff: np.ndarray | None = None,
) -> LevelAssignment:
    """Score plateaus of measured location m (G/G0), length n and within-plateau scale sigma.

    ``n_eff`` (effective number of independent samples, e.g. from the lag-1 autocorrelation)
    replaces the default n·n_eff_factor.
    """
    m = np.atleast_1d(np.asarray(m, dtype=float))
    n = np.broadcast_to(np.asarray(n, dtype=float), m.shape)
    sigma = np.broadcast_to(np.asarray(sigma, dtype=float), m.shape)
    level = correct_g0(m, r_series)
    with np.errstate(invalid="ignore"):
        nearest = np.round(2.0 * level) / 2.0
        d = level - nearest
        n_eff = np.maximum(n * n_eff_factor if n_eff is None else np.broadcast_to(n_eff, m.shape), 1.0)
        rs_spread = level**2 * G0 * max(sigma_rs, 0.0)
        s = np.sqrt(sigma**2 / n_eff + sigma_int**2 + rs_spread**2)
        z = d / s
        dens = np.exp(-0.5 * z**2) / (np.sqrt(2 * np.pi) * s)
        p_on = prior_on * dens / (prior_on * dens + (1.0 - prior_on) * 2.0)
        # Posterior over the nearest level and its two neighbours (further ones are negligible).
        w0 = np.exp(-0.5 * z**2)
        wm = np.exp(-0.5 * ((d + 0.5) / s) ** 2)
        wp = np.exp(-0.5 * ((d - 0.5) / s) ** 2)
        p_level = w0 / (w0 + wm + wp)
        in_range = np.isfinite(level) & (rs_spread <= max_rs_spread) & (s <= max_s)
        quantised = (
            in_range
            & (np.abs(d) <= tol)
            & (p_on >= 0.5)
            & (nearest >= 0.5)
            & (nearest <= max_level)
        )
        # Within OFF_GRID_Z uncertainties of a level yet not assigned: unresolved, never
        # "off the grid" (that verdict needs a clear distance).
        unresolved = in_range & ~quantised & (np.abs(z) < OFF_GRID_Z) & (nearest >= 0.5) & (nearest <= max_level)
        assignable = in_range & ~unresolved
    quantum = np.where(quantised, nearest, np.nan)
    confidence = np.where(np.isfinite(level), np.nan_to_num(p_on * p_level), 0.0)
    confidence = np.where(assignable, confidence, 0.0)
    return LevelAssignment(
        level=level,
        quantum=quantum,
        nearest=nearest,
        confidence=np.clip(confidence, 0.0, 1.0),
        p_on=np.nan_to_num(p_on),
        p_level=np.nan_to_num(p_level),
        z=z,
        s=s,
        assignable=assignable,
        in_range=in_range,
    )


def assign_level(
    m: float,
    n: float,
    sigma: float,
    *,
    r_series: float = 0.0,
    sigma_rs: float = 0.0,
    tol: float = TOLERANCE,
    sigma_int: float = SIGMA_INTRINSIC,
    prior_on: float = PRIOR_ON_GRID,
    n_eff_factor: float = N_EFF_FACTOR,
    max_rs_spread: float = MAX_RS_SPREAD,
    max_s: float = MAX_SIGMA,
    max_level: float = MAX_LEVEL,
    n_eff: float | None = None,
) -> tuple[float | None, float, float]:
    """One plateau, same rules as :func:`assign_levels` in scalar arithmetic.

    Returns (quantum or None, corrected level, confidence).
    """
    quantum, level, conf = assign_level_core(
        float(m), float(n), float(sigma), np.nan if n_eff is None else float(n_eff),
        float(r_series), float(sigma_rs), float(tol), float(sigma_int), float(prior_on),
        float(n_eff_factor), float(max_rs_spread), float(max_s), float(max_level),
    )
    return (None if quantum != quantum else quantum), level, conf


def assign_level_core(
    m: float, n: float, sigma: float, n_eff: float, r_series: float, sigma_rs: float, tol: float,
    sigma_int: float, prior_on: float, n_eff_factor: float, max_rs_spread: float, max_s: float,
    max_level: float,
) -> tuple[float, float, float]:
    """:func:`assign_level` with positional arguments and NaN for "none" (n_eff: use
    n·n_eff_factor; quantum: not quantised). Plain Python in numba's subset: the online
    detector compiles this very function (with labqc.rs's scalar helpers compiled in place)
    into its state machine (labqc.online_kernel), so both detectors apply literally the
    same rules without this module importing numba."""
    nan = np.nan
    level = correct_scalar(m, r_series)
    if level != level:
        return nan, nan, 0.0
    nearest = round(2.0 * level) / 2.0
    d = level - nearest
    if n_eff != n_eff:
        n_eff = n * n_eff_factor
    if n_eff < 1.0:
        n_eff = 1.0
    rs_spread = level * level * G0 * (0.0 if sigma_rs < 0.0 else sigma_rs)
    var = sigma * sigma / n_eff + sigma_int * sigma_int + rs_spread * rs_spread
    s = math.sqrt(var)
    if not (rs_spread <= max_rs_spread and s <= max_s):  # not assignable
        return nan, level, 0.0
    w0 = math.exp(-0.5 * d * d / var)
    p_on = prior_on * w0 / (prior_on * w0 + (1.0 - prior_on) * 2.0 * _SQRT_2PI * s)
    # Neighbouring levels d ∓ 0.5: exp(-(d ∓ 0.5)²/2s²) = w0 · exp((±d/2 - 1/8)/s²).
    # Both exponents are <= 0 since |d| <= 0.25: no overflow even for a tiny s.
    p_level = 1.0 / (1.0 + math.exp((0.5 * d - 0.125) / var) + math.exp((-0.5 * d - 0.125) / var))
    quantised = abs(d) <= tol and p_on >= 0.5 and 0.5 <= nearest <= max_level
    if not quantised and abs(d) < OFF_GRID_Z * s and 0.5 <= nearest <= max_level:
        return nan, level, 0.0  # within the noise of a level: unresolved, not off the grid
    conf = min(max(p_on * p_level, 0.0), 1.0)
    return (nearest if quantised else nan), level, conf
