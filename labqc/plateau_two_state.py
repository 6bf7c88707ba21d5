"""Telegraph-aware level verdicts for the offline detector (labqc.plateaus, step 6): a
plateau left off the grid whose samples split into two states gets the level of the state
on the grid (a two-component Gaussian mixture fitted to all such plateaus at once).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from labqc import levels as lv
from labqc import rs
from labqc.plateau_segment import grouped_medians

if TYPE_CHECKING:
    from labqc.plateaus import Options


TWO_STATE_SEPARATION = 2.0  # component widths between the two states (a bimodal mixture)
TWO_STATE_MIN_WEIGHT = 0.15  # each state at least this fraction of the plateau
TWO_STATE_MINORITY = (0.35, 0.6)  # a minority state counts at weight >= [0] and |z| < [1]
TWO_STATE_MAX_Z = 1.0  # the chosen state within this many uncertainties of its level
EM_STEPS = 25


def two_state_levels(xs, ga, gb, r_series: float, sigma_rs: float, opt: Options):
    """Level verdicts for plateaus that carry a two-level (telegraph) fluctuator.

    A fluctuator that spends a good part of a plateau in its excited state pulls the
    median towards it, off the grid. A two-component Gaussian mixture with a shared width
    (EM, all candidate plateaus at once) separates the states; when they are well apart
    (TWO_STATE_SEPARATION widths, each state >= TWO_STATE_MIN_WEIGHT of the time) the
    plateau level is the state that sits on the grid: the majority state when both (or
    it alone) do, a minority state only if it holds TWO_STATE_MINORITY[0] of the time and
    sits within TWO_STATE_MINORITY[1] uncertainties of its level. The other state is
    the telegraph amplitude.

    Returns (k, level, quantum, confidence, p_on, z, amplitude) arrays over the groups
    that got a level this way (k indexes ga/gb).
    """
    lengths = gb - ga
    gid = np.repeat(np.arange(ga.size), lengths)
    offs = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    x = lv.correct_g0(xs[np.arange(gid.size) + np.repeat(ga - offs, lengths)], r_series)
    # Samples beyond 1/R_s have no corrected value; give them their plateau's median.
    if not np.isfinite(x).all():
        med = grouped_medians(np.nan_to_num(x, nan=np.nanmax(x)), gid, offs, lengths)
        x = np.where(np.isfinite(x), x, med[gid])
    n = lengths.astype(float)
    total = np.bincount(gid, weights=x, minlength=ga.size)
    squares = np.bincount(gid, weights=x * x, minlength=ga.size)
    # Start from the quartiles of each plateau.
    v0, span = x.min(), np.ptp(x) * 1.000001 + 1e-12
    sx = (np.sort(gid + (x - v0) / span) - gid) * span + v0
    mu0 = sx[offs + (lengths - 1) // 4]
    mu1 = sx[offs + (3 * (lengths - 1)) // 4]
    var = np.maximum(0.25 * (mu1 - mu0) ** 2, 1e-8)
    w1 = np.full(ga.size, 0.5)
    ok = mu1 > mu0
    for _ in range(EM_STEPS):
        # Responsibility of state 1 is a logistic function of x (shared width):
        # r1 = 1 / (1 + exp(A·x + B)) with A = (mu0 - mu1)/var, B = (mu1² - mu0²)/2var + ln(w0/w1).
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            slope_a = (mu0 - mu1) / var
            offset_b = 0.5 * (mu1 * mu1 - mu0 * mu0) / var + np.log((1.0 - w1) / w1)
            r1 = 1.0 / (1.0 + np.exp(x * slope_a[gid] + offset_b[gid]))
        n1 = np.bincount(gid, weights=r1, minlength=ga.size)
        n0 = n - n1
        ok &= (n0 >= 1) & (n1 >= 1)
        s1 = np.bincount(gid, weights=r1 * x, minlength=ga.size)
        with np.errstate(divide="ignore", invalid="ignore"):
            mu1 = np.where(ok, s1 / n1, mu1)
            mu0 = np.where(ok, (total - s1) / n0, mu0)
            # Shared variance: (sum x² - n0·mu0² - n1·mu1²)/n, the within-state scatter.
            var = np.where(ok, np.maximum((squares - n0 * mu0 * mu0 - n1 * mu1 * mu1) / n, 1e-8), var)
            w1 = np.where(ok, n1 / n, w1)
    sd = np.sqrt(var)
    w = np.column_stack([1.0 - w1, w1])
    ok &= (mu1 - mu0 >= TWO_STATE_SEPARATION * sd) & (w.min(axis=1) >= TWO_STATE_MIN_WEIGHT)
    k = np.flatnonzero(ok)
    if not k.size:
        return None
    mu = np.column_stack([mu0[k], mu1[k]])
    raw = rs.uncorrect(mu, r_series)
    slope = rs.derivative(raw, r_series)
    wk = w[k]
    a = lv.assign_levels(
        raw.ravel(), (wk * n[k, None]).ravel(), (sd[k, None] / slope).ravel(), r_series=r_series,
        sigma_rs=sigma_rs, **opt.level_options(),
    )
    quantum = a.quantum.reshape(-1, 2)
    on = np.isfinite(quantum)
    major = np.argmax(wk, axis=1)
    rows = np.arange(k.size)
    minority_ok = on & (wk >= TWO_STATE_MINORITY[0]) & (np.abs(a.z.reshape(-1, 2)) < TWO_STATE_MINORITY[1])
    # The majority state if it is on the grid, else the minority state if it qualifies.
    pick = np.where(on[rows, major], major, 1 - major)
    zabs = np.abs(a.z.reshape(-1, 2))
    good = (on[rows, major] & (zabs[rows, major] < TWO_STATE_MAX_Z)) | minority_ok[rows, 1 - major]
    k, rows, pick = k[good], rows[good], pick[good]
    flat = 2 * rows + pick
    amplitude = mu[rows, 1 - pick] - mu[rows, pick]
    return k, a.level[flat], a.quantum[flat], a.confidence[flat], a.p_on[flat], a.z[flat], amplitude
