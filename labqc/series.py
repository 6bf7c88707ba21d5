"""Series resistance from plateau levels alone: the comb fit (plateaus-and-physics.md §2.3).

Plateaus of a quantum point contact sit at multiples of 0.5 G0 once the series
resistance R_s is removed, so the R_s that best puts the measured plateau medians m_i on
that grid maximises

    S(R_s) = Σ_i w_i·cos(4π·G_corr,i(R_s)),   G_corr = m / (1 - R_s·G0·m),

with w_i = min(N_i, 200). Low plateaus hardly move with R_s; high ones move a lot, so
they carry the fit. The search is a grid over [0, r_max] (r_max < 1/(G0·max m)), refined
by a bounded scalar search; sigma_Rs comes from a bootstrap over cycles (blocks of
plateaus whose errors are correlated) or, with few cycles, over plateaus.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

from labqc.levels import MAX_RS_SPREAD
from labqc.units import G0

R_MAX_DEFAULT = 1000.0  # ohm: wiring + contacts of a probe station stay well below this
GRID_STEP = 1.0  # ohm; the narrowest comb tooth (25 G0) is ~10 ohm wide, refined after
OFF_GRID = 0.15  # G0: plateaus further than this from the grid are left out of the refit
FEW_LEVELS_SIGMA = 100.0  # ohm, the honest uncertainty of a fit to fewer than 3 plateaus


def comb_score(r_series: np.ndarray | float, levels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """S(R_s) for each R_s in r_series (normalised by the total weight, so 1 = perfect grid)."""
    r = np.atleast_1d(np.asarray(r_series, dtype=float))[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        g_corr = levels[None, :] / (1.0 - r * G0 * levels[None, :])
        terms = np.where(g_corr > 0, np.cos(4 * np.pi * g_corr), -1.0)
    return (terms * weights[None, :]).sum(axis=1) / weights.sum()


TIE = 0.01  # normalised score: near-ties between aliases go to the smallest R_s


def _pick(scores: np.ndarray) -> int:
    """Index of the smallest-R_s peak whose score is within TIE of the best.

    With few distinct levels the comb has aliases (R_s values that move every plateau by
    whole half-quanta) of almost equal score; the smallest one is the physical choice.
    """
    best = scores.max()
    inner = np.ones(scores.size, dtype=bool)
    inner[1:] &= scores[1:] >= scores[:-1]
    inner[:-1] &= scores[:-1] >= scores[1:]
    peaks = np.flatnonzero(inner & (scores >= best - TIE))
    return int(peaks[0]) if peaks.size else int(np.argmax(scores))


def _best_r(levels: np.ndarray, weights: np.ndarray, grid: np.ndarray) -> float:
    """Grid search, then a bounded refinement around the chosen grid point."""
    scores = comb_score(grid, levels, weights)
    k = _pick(scores)
    step = grid[1] - grid[0] if grid.size > 1 else GRID_STEP
    lo, hi = max(grid[0], grid[k] - step), min(grid[-1], grid[k] + step)
    if hi <= lo:
        return float(grid[k])
    res = minimize_scalar(
        lambda r: -comb_score(r, levels, weights)[0], bounds=(lo, hi), method="bounded",
        options={"xatol": 1e-3},
    )
    return float(res.x) if -res.fun >= scores[k] else float(grid[k])


def _pooled(levels: np.ndarray, w: np.ndarray, width: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Plateaus pooled in 0.01 G0 bins (weighted mean level, summed weight).

    Thousands of plateaus from a long run share a few hundred distinct levels; pooling
    makes the full-range grid search cheap without moving any level by more than 0.005 G0
    (it only has to find the right comb tooth: the refit uses every plateau).
    """
    _, inv = np.unique(np.round(levels / width), return_inverse=True)
    wb = np.bincount(inv, weights=w)
    return np.bincount(inv, weights=levels * w) / wb, wb


@dataclass(frozen=True)
class SeriesFit:
    """Comb-fit R_s with its uncertainty split into a statistical and a systematic part."""

    r_series: float  # ohm
    sigma_stat: float  # ohm, bootstrap over cycles (or plateaus)
    sigma_sys: float = 0.0  # ohm, scatter of R_s between stretches of the run

    @property
    def sigma(self) -> float:
        """Total uncertainty of R_s (ohm)."""
        return float(np.hypot(self.sigma_stat, self.sigma_sys))


def estimate_series_resistance(
    levels: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    groups: np.ndarray | None = None,
    r_max: float = R_MAX_DEFAULT,
    n_boot: int = 100,
    seed: int = 0,
) -> tuple[float, float]:
    """Comb-fit R_s (ohm) and its total standard error (see :func:`fit_series_resistance`)."""
    fit = fit_series_resistance(levels, weights, groups=groups, r_max=r_max, n_boot=n_boot, seed=seed)
    return fit.r_series, fit.sigma


def fit_series_resistance(
    levels: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    groups: np.ndarray | None = None,
    r_max: float = R_MAX_DEFAULT,
    n_boot: int = 100,
    seed: int = 0,
) -> SeriesFit:
    """Comb-fit R_s (ohm) and its uncertainty from plateau medians (G/G0).

    ``weights`` are usually plateau lengths (capped at 200 inside). ``groups`` labels the
    plateaus by sweep cycle (or any unit within which their errors are correlated): with
    at least MIN_BLOCKS groups the bootstrap resamples whole groups, so that noise shared
    by the plateaus of one cycle (1/f, a contact that moved) is not counted as independent
    evidence. Raises ValueError when there is nothing to fit (no finite positive levels).
    """
    levels = np.asarray(levels, dtype=float).ravel()
    w = np.ones_like(levels) if weights is None else np.asarray(weights, dtype=float).ravel()
    if w.shape != levels.shape:
        raise ValueError("levels and weights must have the same length")
    g = np.zeros(levels.size, dtype=int) if groups is None else np.asarray(groups).ravel()
    if g.shape != levels.shape:
        raise ValueError("levels and groups must have the same length")
    ok = np.isfinite(levels) & (levels > 0.25) & np.isfinite(w) & (w > 0)
    if not ok.any():
        raise ValueError("no plateau levels to fit the series resistance to")
    levels, w, g = levels[ok], np.minimum(w[ok], 200.0), g[ok]
    # R_s must leave every plateau a positive corrected conductance.
    r_top = min(r_max, 0.98 / (G0 * levels.max()))
    if r_top <= 0:
        return SeriesFit(0.0, 0.0)
    grid = np.arange(0.0, r_top + GRID_STEP / 2, GRID_STEP)
    r_hat = _best_r(*_pooled(levels, w), grid)
    # Second pass, on every plateau but those off the grid at the first estimate (they
    # only add noise and a bias to the comb), on a local grid around it.
    g_corr = levels / (1.0 - r_hat * G0 * levels)
    near = np.abs(g_corr - np.round(2 * g_corr) / 2) < OFF_GRID
    if near.sum() >= 3:
        levels, w, g = levels[near], w[near], g[near]
        local = np.arange(max(0.0, r_hat - 20.0), min(r_top, r_hat + 20.0) + 0.01, GRID_STEP)
        r_hat = _best_r(levels, w, local)
    if levels.size < 3:
        # Two points cannot tell aliases apart: report a wide uncertainty, so that only
        # low levels (where R_s hardly matters) stay assignable.
        return SeriesFit(r_hat, FEW_LEVELS_SIGMA)
    if n_boot <= 0:
        return SeriesFit(r_hat, 0.0)
    return SeriesFit(r_hat, *_bootstrap_sigma(levels, w, g, r_hat, r_top, n_boot, seed))


MIN_BLOCKS = 8  # groups needed before the bootstrap resamples groups instead of plateaus
BOOT_HALF_WIDTH = 15.0  # ohm: the local grid of the bootstrap (same comb alias as the fit)
BOOT_STEP = 0.25  # ohm
N_STRETCHES = 4  # consecutive stretches of the run whose R_s scatter is the systematic term


def _bootstrap_sigma(levels, w, groups, r_hat: float, r_top: float, n_boot: int, seed: int) -> tuple[float, float]:
    """(statistical, systematic) uncertainty of the comb-fit R_s: the standard deviation
    over bootstrap resamples and the scatter between stretches of the run.

    The resampled units are groups (cycles) when there are at least MIN_BLOCKS of them,
    single plateaus otherwise. Each resample is a vector of unit multiplicities, so all
    resamples are one matrix product of the per-unit comb terms on a local grid.
    """
    _, unit = np.unique(groups, return_inverse=True)
    n_units = int(unit.max()) + 1
    if n_units < MIN_BLOCKS:
        unit, n_units = np.arange(levels.size), levels.size
    rng = np.random.default_rng(seed)
    local = np.arange(max(0.0, r_hat - BOOT_HALF_WIDTH), min(r_top, r_hat + BOOT_HALF_WIDTH) + 1e-9, BOOT_STEP)
    with np.errstate(divide="ignore", invalid="ignore"):
        g_corr = levels[None, :] / (1.0 - local[:, None] * G0 * levels[None, :])
        terms = np.where(g_corr > 0, np.cos(4 * np.pi * g_corr), -1.0) * w[None, :]
    # Sum the terms and weights of each unit: (grid, units) and (units,).
    order = np.argsort(unit, kind="stable")
    first = np.flatnonzero(np.r_[True, np.diff(unit[order]) != 0])
    unit_terms = np.add.reduceat(terms[:, order], first, axis=1)
    unit_w = np.add.reduceat(w[order], first)
    counts = rng.multinomial(n_units, np.full(n_units, 1.0 / n_units), size=n_boot)
    scores = (unit_terms @ counts.T) / (counts @ unit_w)[None, :]  # (grid, n_boot)
    boot = np.array([local[_pick(scores[:, b])] for b in range(n_boot)])
    sigma_boot = float(np.std(boot, ddof=1))
    if n_units < MIN_BLOCKS or n_units == levels.size:
        return sigma_boot, 0.0
    # Noise slower than a cycle (1/f with corners as long as the run, a contact that
    # creeps) moves every plateau of a stretch of cycles together, which no resampling of
    # cycles can see: it shows as the scatter of R_s fitted on consecutive stretches of the
    # run. That scatter (not divided by sqrt(stretches): the slow part does not average out
    # over one run) is added as a systematic term.
    stretch = np.arange(n_units) * N_STRETCHES // n_units
    part = np.zeros((n_units, N_STRETCHES))
    part[np.arange(n_units), stretch] = 1.0
    part_scores = (unit_terms @ part) / (unit_w @ part)[None, :]
    parts = np.array([local[_pick(part_scores[:, k])] for k in range(N_STRETCHES)])
    return sigma_boot, float(np.std(parts, ddof=1))


def unassignable_above(sigma_rs: float, max_spread: float = MAX_RS_SPREAD) -> float:
    """Corrected level (G/G0) above which sigma_Rs alone makes a quantum level unassignable.

    From G_corr²·G0·sigma_Rs <= max_spread: about 10 G0 for 10 ohm and 23 G0 for 2 ohm.
    """
    if not np.isfinite(sigma_rs) or sigma_rs <= 0:
        return float("inf")
    return float(np.sqrt(max_spread / (G0 * sigma_rs)))
