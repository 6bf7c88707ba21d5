"""The R_s profile likelihood summed over plateaus, compiled (labqc.series calls it).

The coarse scan of labqc.series evaluates every plateau at every R_s of a 0..1000 ohm grid;
as numpy matrices that was half of the offline detector's time. This loop computes the
same sum (labqc.series.log_likelihood, row sums with unit weights) without temporaries.
The correction is labqc.rs.correct_scalar, compiled here from the same source.
"""
from __future__ import annotations

import math

import numba
import numpy as np

from labqc import rs

correct_scalar = numba.njit(cache=True)(rs.correct_scalar)


@numba.njit(cache=True, error_model="numpy", inline="always", fastmath={"contract", "afn", "reassoc", "arcp"})
def _term(m, r, se_i, spacing, norm, floor, bad, s_int2):
    """log(prior_on·spacing·[N(d; 0, s) + N(d1; 0, s)] + 1 - prior_on) of one plateau at one R_s."""
    gc = correct_scalar(m, r)
    if gc != gc:
        return bad
    slope = gc / m
    s2 = slope * slope * se_i * se_i + s_int2
    k = max(round(gc / spacing), 1.0)
    d = gc - k * spacing
    inv = -0.5 / s2
    dens = math.exp(d * d * inv)
    side = 1.0 if d >= 0 else -1.0
    if k + side >= 1.0:
        d1 = d - side * spacing
        dens += math.exp(d1 * d1 * inv)
    return math.log(norm * dens / math.sqrt(s2) + floor)


@numba.njit(cache=True, error_model="numpy", fastmath={"contract", "afn", "reassoc", "arcp"})
def profile(r_grid, levels, se, spacing, prior_on, sigma_int, floor_penalty):
    """Σ_i log(prior_on·spacing·[N(d_i; 0, s_i) + N(d1_i; 0, s_i)] + 1 - prior_on) per R_s."""
    out = np.empty(r_grid.size)
    norm = prior_on * spacing / math.sqrt(2.0 * math.pi)
    floor = 1.0 - prior_on
    bad = math.log(floor) - floor_penalty
    for j in range(r_grid.size):
        total = 0.0
        for i in range(levels.size):
            total += _term(levels[i], r_grid[j], se[i], spacing, norm, floor, bad, sigma_int * sigma_int)
        out[j] = total
    return out


@numba.njit(cache=True, error_model="numpy", fastmath={"contract", "afn", "reassoc", "arcp"})
def terms(r_grid, levels, se, spacing, prior_on, sigma_int, floor_penalty):
    """The per-plateau terms of :func:`profile`, shape (len(r_grid), len(levels)):
    labqc.series.log_likelihood without its temporaries (the fine grid and the bootstrap)."""
    out = np.empty((r_grid.size, levels.size))
    norm = prior_on * spacing / math.sqrt(2.0 * math.pi)
    floor = 1.0 - prior_on
    bad = math.log(floor) - floor_penalty
    for j in range(r_grid.size):
        for i in range(levels.size):
            out[j, i] = _term(levels[i], r_grid[j], se[i], spacing, norm, floor, bad, sigma_int * sigma_int)
    return out
