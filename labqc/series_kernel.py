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


@numba.njit(cache=True, error_model="numpy", fastmath={"contract", "afn", "reassoc", "arcp"})
def profile(r_grid, levels, se, spacing, prior_on, sigma_int, floor_penalty):
    """Σ_i log(prior_on·spacing·[N(d_i; 0, s_i) + N(d1_i; 0, s_i)] + 1 - prior_on) per R_s."""
    out = np.empty(r_grid.size)
    norm = prior_on * spacing / math.sqrt(2.0 * math.pi)
    floor = 1.0 - prior_on
    bad = math.log(floor) - floor_penalty
    s_int2 = sigma_int * sigma_int
    for j in range(r_grid.size):
        r = r_grid[j]
        total = 0.0
        for i in range(levels.size):
            m = levels[i]
            gc = correct_scalar(m, r)
            if gc != gc:
                total += bad
                continue
            slope = gc / m
            s2 = slope * slope * se[i] * se[i] + s_int2
            k = max(round(gc / spacing), 1.0)
            d = gc - k * spacing
            inv = -0.5 / s2
            dens = math.exp(d * d * inv)
            side = 1.0 if d >= 0 else -1.0
            if k + side >= 1.0:
                d1 = d - side * spacing
                dens += math.exp(d1 * d1 * inv)
            total += math.log(norm * dens / math.sqrt(s2) + floor)
        out[j] = total
    return out
