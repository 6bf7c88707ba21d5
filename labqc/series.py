"""Series resistance from plateau levels alone: a profile likelihood over R_s.

Plateaus of a quantum point contact sit on a lattice (multiples of 0.5 G0, or of G0 on
some devices) once the series resistance R_s is removed: G_corr = m/(1 - R_s·G0·m). Several
R_s can map a set of measured levels m_i onto a (shifted) lattice, the more so the fewer
and the higher the levels. The fit therefore weighs the whole evidence:

- every plateau of the file enters one likelihood (cycles share R_s), each as a mixture
  of the lattice, with a width that grows with the noise R_s amplifies, and an off-grid floor;
- the grid over 0..r_max starts from every alias; the integer and the half-integer
  lattice compete;
- the chosen mode gets a 95 % credible interval (likelihood ratio, widened by the bootstrap
  over cycles and the scatter between stretches of the run), and a rival mode with
  posterior odds above 1:AMBIGUOUS_ODDS makes the fit *ambiguous*: the caller then
  withholds every level whose quantum depends on the choice (labqc.plateaus).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labqc import rs
from labqc.levels import MAX_RS_SPREAD
from labqc.units import G0

R_MAX_DEFAULT = 1000.0  # ohm: wiring + contacts of a probe station stay well below this
GRID_STEP = 2.0  # ohm, coarse grid (teeth blunted to SIGMA_COARSE), refined on FINE_STEP after
SIGMA_COARSE = 0.1  # G0: a tooth at 20 G0 is then ~3 ohm wide
N_STARTS = 4  # coarse modes refined at full sharpness
COARSE_PLATEAUS = 1000  # plateaus at most in the coarse scan (a regular subsample beyond)
MIN_ON_LATTICE = 0.5  # share of plateaus the lattice must explain for the fit to stand
FEW_LEVELS_SIGMA = 100.0  # ohm, the honest uncertainty of a fit to fewer than 3 plateaus


@dataclass(frozen=True)
class SeriesFit:
    """R_s from the plateau levels, with its uncertainty and how unique it is.

    ``interval`` is the 95 % credible interval of the chosen R_s (profile likelihood,
    widened to at least ±1.96·sigma); ``ambiguous`` says that another R_s (``alternative``)
    outside it explains the plateaus about as well (posterior odds above 1:AMBIGUOUS_ODDS);
    ``lattice`` is the comb that explains them best: "half" (n·G0/2) or "integer" (n·G0).
    """

    r_series: float  # ohm
    sigma_stat: float  # ohm, bootstrap over cycles (or plateaus)
    sigma_sys: float = 0.0  # ohm, scatter of R_s between stretches of the run
    interval: tuple[float, float] = (float("nan"), float("nan"))
    ambiguous: bool = False
    alternative: float = float("nan")  # ohm, runner-up R_s (NaN when none)
    lattice: str = "half"
    reason: str = ""  # why R_s could not be fitted (then r_series is 0 and nothing is certain)

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
    """Fitted R_s (ohm) and its total standard error (see :func:`fit_series_resistance`)."""
    fit = fit_series_resistance(levels, weights, groups=groups, r_max=r_max, n_boot=n_boot, seed=seed)
    return fit.r_series, fit.sigma


PRIOR_ON = 0.8  # share of plateaus on the lattice (the rest: uniform, the off-grid floor)
SIGMA_INT = 0.04  # G0, intrinsic spread of real levels about the lattice
AMBIGUOUS_ODDS = 20.0  # a rival R_s with posterior odds above 1:20 makes the fit ambiguous
LR_95 = 1.92  # log-likelihood drop at the edge of a 95 % interval (chi²₁/2)
FINE_STEP = 0.2  # ohm, the grid around the chosen R_s
MID_STEP = 1.0  # ohm, the first refinement of a coarse mode
FLOOR_PENALTY = 3.0  # a level beyond 1/R_s (no corrected value) scores the floor minus this
FINE_HALF_WIDTH = 15.0  # ohm, the grid of the interval and the bootstrap


def log_likelihood(
    r_grid: np.ndarray, levels: np.ndarray, se: np.ndarray, spacing: float = 0.5,
    prior_on: float = PRIOR_ON, sigma_int: float = SIGMA_INT,
) -> np.ndarray:
    """Per-plateau log-likelihood terms, shape (len(r_grid), len(levels)).

    Each measured level m (standard error se, measured units) is corrected with every R_s
    of the grid; its density is a mixture of the lattice (Gaussians of width
    s = sqrt((dG_corr/dG·se)² + sigma_int²) at multiples of ``spacing``) and a uniform
    floor, relative to the uniform: log(prior_on·spacing·Σ_k N(G_corr; k·spacing, s) + 1 - prior_on).
    The noise a high R_s amplifies widens s, so a high R_s cannot buy a fit by stretching
    the levels it can no longer resolve; a level beyond 1/R_s scores the floor minus 3.
    """
    r = np.asarray(r_grid, dtype=float)[:, None]
    g_corr = rs.correct(levels[None, :], r)
    ok = np.isfinite(g_corr)
    g_corr[~ok] = 1.0
    slope = g_corr / levels[None, :]  # dG_corr/dG = (G_corr/G)²
    s2 = slope * slope
    s2 *= (se * se)[None, :]
    s2 += sigma_int**2
    k = np.maximum(np.round(g_corr / spacing), 1.0)
    d = g_corr - k * spacing
    # The nearest lattice level and the next one on the side of d (the third is at least
    # 0.75·spacing away: negligible for every s that can still tell levels apart).
    inv = -0.5 / s2
    dens = np.exp(d * d * inv)
    side = np.where(d >= 0, 1.0, -1.0)
    d1 = d - side * spacing
    dens += np.where(k + side >= 1.0, np.exp(d1 * d1 * inv), 0.0)
    dens *= prior_on * spacing / np.sqrt(2.0 * np.pi * s2)
    dens += 1.0 - prior_on
    ll = np.log(dens)
    ll[~ok] = np.log(1.0 - prior_on) - FLOOR_PENALTY
    return ll


def _profile(r_grid, levels, se, spacing: float, sigma_int: float) -> np.ndarray:
    """Row sums of :func:`log_likelihood` (unit weights), by the compiled loop."""
    from labqc.series_kernel import profile  # numba loads only when a fit runs

    return profile(np.ascontiguousarray(r_grid, dtype=float), np.ascontiguousarray(levels, dtype=float),
                   np.ascontiguousarray(se, dtype=float), spacing, PRIOR_ON, sigma_int, FLOOR_PENALTY)


def _terms(r_grid, levels, se, spacing: float) -> np.ndarray:
    """:func:`log_likelihood` by the compiled loop (labqc.series_kernel)."""
    from labqc.series_kernel import terms

    return terms(np.ascontiguousarray(r_grid, dtype=float), np.ascontiguousarray(levels, dtype=float),
                 np.ascontiguousarray(se, dtype=float), spacing, PRIOR_ON, SIGMA_INT, FLOOR_PENALTY)


def _refine(r0: float, r_top: float, levels, se, spacing: float) -> tuple[float, float]:
    """(log-likelihood, R_s) of the best R_s within 2·GRID_STEP of r0 at full sharpness:
    MID_STEP first, then FINE_STEP within one MID_STEP of the best (a tooth is wider than
    MID_STEP up to ~25 G0), half the evaluations of one FINE_STEP grid."""
    mid = np.arange(max(0.0, r0 - 2 * GRID_STEP), min(r_top, r0 + 2 * GRID_STEP) + 1e-9, MID_STEP)
    ll = _profile(mid, levels, se, spacing, SIGMA_INT)
    r1 = mid[int(np.argmax(ll))]
    local = np.arange(max(0.0, r1 - MID_STEP), min(r_top, r1 + MID_STEP) + 1e-9, FINE_STEP)
    ll = _profile(local, levels, se, spacing, SIGMA_INT)
    j = int(np.argmax(ll))
    return float(ll[j]), float(local[j])


def _modes(ll: np.ndarray) -> np.ndarray:
    """Indices of the local maxima of a profile, best first."""
    inner = np.ones(ll.size, dtype=bool)
    inner[1:] &= ll[1:] >= ll[:-1]
    inner[:-1] &= ll[:-1] > ll[1:]
    idx = np.flatnonzero(inner)
    return idx[np.argsort(-ll[idx])]


def fit_series_resistance(
    levels: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    groups: np.ndarray | None = None,
    se: np.ndarray | None = None,
    r_max: float = R_MAX_DEFAULT,
    n_boot: int = 100,
    seed: int = 0,
) -> SeriesFit:
    """R_s (ohm) from plateau medians (G/G0) by a profile likelihood over R_s.

    ``weights`` are plateau lengths (they set the standard error when ``se`` is not given:
    a white-noise scale of 0.05 G0 over N/10 independent samples). Every plateau of the
    file enters one likelihood, so the cycles share one R_s; the grid covers 0..r_max in
    GRID_STEP (every comb alias is a start), both lattices compete, and the best mode is
    refined on a FINE_STEP grid. ``groups`` labels plateaus by cycle for the bootstrap (at
    least MIN_BLOCKS groups resample whole groups). Raises ValueError when there is
    nothing to fit (no finite level above 0.25 G0).
    """
    levels = np.asarray(levels, dtype=float).ravel()
    w = np.ones_like(levels) if weights is None else np.asarray(weights, dtype=float).ravel()
    if w.shape != levels.shape:
        raise ValueError("levels and weights must have the same length")
    g = np.zeros(levels.size, dtype=int) if groups is None else np.asarray(groups).ravel()
    if g.shape != levels.shape:
        raise ValueError("levels and groups must have the same length")
    if se is None:
        se = 0.05 / np.sqrt(np.maximum(np.nan_to_num(w) / 10.0, 1.0))
    se = np.broadcast_to(np.asarray(se, dtype=float), levels.shape)
    ok = np.isfinite(levels) & (levels > 0.25) & np.isfinite(w) & (w > 0) & np.isfinite(se)
    if not ok.any():
        raise ValueError("no plateau levels to fit the series resistance to")
    levels, w, g, se = levels[ok], np.ones(int(ok.sum())), g[ok], se[ok]
    if np.ptp(levels) < 0.25:
        return SeriesFit(0.0, FEW_LEVELS_SIGMA, 0.0, (0.0, R_MAX_DEFAULT), reason=(
            "all plateaus sit at one level: the series resistance cannot be estimated from it, "
            "so no quantum level is assigned (give r_series to assign one)"))
    r_top = min(r_max, 0.98 / (G0 * levels.max()))
    if r_top <= 0:
        return SeriesFit(0.0, 0.0, reason="no room for a series resistance below the measured resistance")
    grid = np.arange(0.0, r_top + GRID_STEP / 2, GRID_STEP)
    # Coarse pass with blunted teeth (so that a 2 ohm grid cannot step over one), then the
    # best few modes, each refined at full sharpness under both lattices: winner and rival.
    # Thousands of plateaus (a night of pulse trains) need not all vote on where the modes
    # are: every k-th of at most COARSE_PLATEAUS finds them, all of them refine and decide.
    step = -(-levels.size // COARSE_PLATEAUS)
    ll = _profile(grid, levels[::step], se[::step], 0.5, SIGMA_COARSE)
    refined = {"half": [], "integer": []}
    for m in _modes(ll)[:N_STARTS]:
        for name, spacing in (("half", 0.5), ("integer", 1.0)):
            refined[name].append(_refine(grid[m], r_top, levels, se, spacing))
    # The integer lattice is a subset of the half-integer one, hence sharper: it is chosen
    # only when it explains the levels better by the ambiguity odds.
    better = max(refined["integer"])[0] > max(refined["half"])[0] + np.log(AMBIGUOUS_ODDS)
    lattice = "integer" if better else "half"
    spacing = 1.0 if better else 0.5
    refined = sorted(refined[lattice], reverse=True)
    ll_hat, r_hat = refined[0]
    fine = np.arange(max(0.0, r_hat - FINE_HALF_WIDTH), min(r_top, r_hat + FINE_HALF_WIDTH) + 1e-9, FINE_STEP)
    terms = _terms(fine, levels, se, spacing)
    ll_fine = terms @ w
    k = int(np.argmin(np.abs(fine - r_hat)))
    inside = ll_fine >= ll_hat - LR_95
    lo_k = k - np.argmin(inside[k::-1]) + 1 if not inside[: k + 1].all() else 0
    hi_k = k + np.argmin(inside[k:]) - 1 if not inside[k:].all() else fine.size - 1
    lo, hi = float(fine[lo_k]), float(fine[hi_k])
    # A rival: the best other mode outside the interval with posterior odds >= 1:20.
    rivals = [(v, r) for v, r in refined[1:] if not (lo - GRID_STEP <= r <= hi + GRID_STEP)]
    ambiguous = bool(rivals) and rivals[0][0] >= ll_hat - np.log(AMBIGUOUS_ODDS)
    alt = rivals[0][1] if ambiguous else float("nan")
    if levels.size < 3:
        # Two points cannot tell aliases apart: report a wide uncertainty, so that only
        # low levels (where R_s hardly matters) stay assignable.
        sig = max(FEW_LEVELS_SIGMA, (hi - lo) / 3.92)
        return SeriesFit(r_hat, sig, 0.0, (max(0.0, r_hat - 1.96 * sig), r_hat + 1.96 * sig),
                         ambiguous, alt, lattice)
    stat, sys = (0.0, 0.0) if n_boot <= 0 else _bootstrap_sigma(terms, fine, w, g, n_boot, seed)
    sig = float(np.hypot(stat, sys))
    interval = (min(lo, max(0.0, r_hat - 1.96 * sig)), max(hi, r_hat + 1.96 * sig))
    # Share of the plateaus the lattice explains at the chosen R_s (the rest is the floor).
    on = 1.0 - (1.0 - PRIOR_ON) / np.exp(terms[int(np.argmin(np.abs(fine - r_hat)))])
    reason = ""
    if float(np.mean(on > 0.5)) < MIN_ON_LATTICE:
        reason = (f"no series resistance in 0..{r_top:.0f} ohm puts the plateaus on a quantum lattice "
                  f"(at best {100 * float(np.mean(on > 0.5)):.0f} % of them): no level is assigned")
    return SeriesFit(r_hat, stat, sys, interval, ambiguous, alt, lattice, reason)


MIN_BLOCKS = 8  # groups needed before the bootstrap resamples groups instead of plateaus
N_STRETCHES = 4  # consecutive stretches of the run whose R_s scatter is the systematic term


def _bootstrap_sigma(terms: np.ndarray, local: np.ndarray, w, groups, n_boot: int, seed: int) -> tuple[float, float]:
    """(statistical, systematic) uncertainty of R_s: the standard deviation of the best R_s
    over bootstrap resamples, and the scatter between stretches of the run.

    ``terms`` are the per-plateau log-likelihood terms on the local grid ``local``. The
    resampled units are groups (cycles) when there are at least MIN_BLOCKS of them, single
    plateaus otherwise. Each resample is a vector of unit multiplicities, so all resamples
    are one matrix product of the per-unit terms.
    """
    _, unit = np.unique(groups, return_inverse=True)
    n_units = int(unit.max()) + 1
    n_plateaus = w.size
    if n_units < MIN_BLOCKS:
        unit, n_units = np.arange(n_plateaus), n_plateaus
    rng = np.random.default_rng(seed)
    order = np.argsort(unit, kind="stable")
    first = np.flatnonzero(np.r_[True, np.diff(unit[order]) != 0])
    unit_terms = np.add.reduceat((terms * w[None, :])[:, order], first, axis=1)
    counts = rng.multinomial(n_units, np.full(n_units, 1.0 / n_units), size=n_boot)
    boot = local[np.argmax(unit_terms @ counts.T, axis=0)]
    sigma_boot = float(np.std(boot, ddof=1))
    if n_units < MIN_BLOCKS or n_units == n_plateaus:
        return sigma_boot, 0.0
    # Noise slower than a cycle (1/f with corners as long as the run, a contact that
    # creeps) moves every plateau of a stretch of cycles together, which no resampling of
    # cycles can see: it shows as the scatter of R_s fitted on consecutive stretches of the
    # run. That scatter (not divided by sqrt(stretches): the slow part does not average out
    # over one run) is added as a systematic term.
    stretch = np.arange(n_units) * N_STRETCHES // n_units
    part = np.zeros((n_units, N_STRETCHES))
    part[np.arange(n_units), stretch] = 1.0
    parts = local[np.argmax(unit_terms @ part, axis=0)]
    return sigma_boot, float(np.std(parts, ddof=1))


def unassignable_above(sigma_rs: float, max_spread: float = MAX_RS_SPREAD) -> float:
    """Corrected level (G/G0) above which sigma_Rs alone makes a quantum level unassignable.

    From G_corr²·G0·sigma_Rs <= max_spread: about 10 G0 for 10 ohm and 23 G0 for 2 ohm.
    """
    if not np.isfinite(sigma_rs) or sigma_rs <= 0:
        return float("inf")
    return float(np.sqrt(max_spread / (G0 * sigma_rs)))
