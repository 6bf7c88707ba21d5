"""The segmentation stage of the offline detector (labqc.plateaus): steps 1-2 of its
pipeline, and the per-group statistics every later stage uses.

Spikes are removed against a running median; each block (a cycle, or at most
``Options.block`` samples) is cut by PELT/L2 through ``ruptures.KernelCPD(kernel="linear")``
at penalty c·sigma²·ln n, on means of ``Options.decimate`` samples for long blocks with the
cuts refined at full resolution afterwards; a voltage sweep is cut with the V²-weighted
cost on the current instead (labqc.sweep_segments). Group statistics (median, MAD scale,
N_eff, drift) are computed for all groups at once with one sort.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import ruptures as rpt
from scipy.ndimage import median_filter

if TYPE_CHECKING:
    from labqc.plateaus import Options

DECIMATE_ABOVE = 2000  # samples per block from which KernelCPD runs on decimated data


def robust_sigma(x: np.ndarray) -> float:
    """White-noise scale from first differences: 1.4826·MAD(Δx)/√2 (steps barely move it)."""
    if x.size < 3:
        return 0.0
    dx = np.diff(x)
    return float(1.4826 * np.median(np.abs(dx - np.median(dx))) / np.sqrt(2.0))


def despike(x: np.ndarray, sigma: float, k: float) -> np.ndarray:
    """Replace samples further than k·sigma from the 5-sample running median by that median."""
    if k <= 0 or x.size < 5:
        return x
    med = median_filter(x, size=5, mode="nearest")
    bad = np.abs(x - med) > max(k * sigma, 1e-9)
    if not bad.any():
        return x
    out = x.copy()
    out[bad] = med[bad]
    return out


def segment(x: np.ndarray, starts: np.ndarray, opt: Options) -> tuple[np.ndarray, float]:
    """Breakpoints (segment ends, exclusive) over the whole array, and the median sigma.

    KernelCPD runs on block means of ``opt.decimate`` samples (the cost of PELT is the
    bottleneck of the whole pipeline); each cut is then moved to its best position at full
    resolution.
    """
    ends: list[np.ndarray] = []
    sigmas = []
    bounds = np.append(starts, x.size)
    # Short blocks (pulse trains) are cheap anyway and need every sample; their noise
    # scales come from one vectorised pass (a per-block median would cost more than PELT).
    short = (bounds[1:] - bounds[:-1] < DECIMATE_ABOVE) & (bounds[1:] - bounds[:-1] >= 2 * opt.min_size)
    short_sigma = dict(zip(
        bounds[:-1][short].tolist(),
        block_sigmas(x, bounds[:-1][short], bounds[1:][short]).tolist() if short.any() else [],
    ))
    decimated = False
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        d = max(int(opt.decimate), 1) if b - a >= DECIMATE_ABOVE else 1
        decimated |= d > 1
        min_size = max(2, -(-opt.min_size // d)) if d > 1 else opt.min_size
        nd = (b - a) // d
        if nd < 2 * min_size:
            if b > a:
                ends.append(np.array([b]))
            continue
        if d == 1:
            xd = x[a:b]
            sigma = max(short_sigma[a], 1e-4)
        else:
            xd = x[a : a + nd * d].reshape(nd, d).mean(axis=1)
            sigma = max(robust_sigma(xd), 1e-4)
        sigmas.append(sigma * np.sqrt(d))
        pen = opt.penalty * sigma**2 * np.log(nd)
        bk = np.asarray(rpt.KernelCPD(kernel="linear", min_size=min_size).fit(xd).predict(pen=pen), dtype=int)
        ends.append(np.append(a + bk[:-1] * d, b))
    cuts = np.concatenate(ends)
    if decimated:
        cuts = refine(x, cuts, starts, max(int(opt.decimate), 1))
    return cuts, float(np.median(sigmas)) if sigmas else 0.0


def refine(x: np.ndarray, cuts: np.ndarray, fixed: np.ndarray, radius: int) -> np.ndarray:
    """Move every cut (except block starts) within ±radius to the best two-segment L2 split.

    The split of the window [L, R) at t is scored by S1²/n1 + S2²/n2 (the L2 cost, up to a
    constant); windows reach 4·radius each side but never past the neighbouring cuts.
    """
    n = x.size
    movable = ~np.isin(cuts, fixed) & (cuts < n)
    e = cuts[movable]
    if not e.size:
        return cuts
    prev = np.concatenate([[0], cuts[:-1]])[movable]
    nxt = np.concatenate([cuts[1:], [n]])[movable]
    left = np.maximum(prev, e - 4 * radius)
    right = np.minimum(nxt, e + 4 * radius)
    cand = e[:, None] + np.arange(-radius, radius + 1)[None, :]
    valid = (cand > left[:, None]) & (cand < right[:, None])
    cand = np.clip(cand, 0, n)
    cs = np.concatenate([[0.0], np.cumsum(x)])
    n1 = np.maximum(cand - left[:, None], 1)
    n2 = np.maximum(right[:, None] - cand, 1)
    s1 = cs[cand] - cs[left][:, None]
    s2 = cs[right][:, None] - cs[cand]
    gain = np.where(valid, s1**2 / n1 + s2**2 / n2, -np.inf)
    best = cand[np.arange(e.size), np.argmax(gain, axis=1)]
    out = cuts.copy()
    out[movable] = best
    return np.unique(out)


def block_starts(n: int, cycle_starts, block: int) -> np.ndarray:
    """Cycle starts if given (each cycle cut further into blocks), else fixed blocks."""
    if cycle_starts is None:
        starts = np.arange(0, n, max(block, 100))
    else:
        cs = np.unique(np.clip(np.asarray(cycle_starts, dtype=int), 0, n))
        cs = cs[cs < n]
        if not cs.size or cs[0] != 0:
            cs = np.insert(cs, 0, 0)
        bounds = np.append(cs, n)
        starts = np.concatenate([np.arange(a, b, max(block, 100)) for a, b in zip(bounds[:-1], bounds[1:])])
    return starts


def segment_means(x: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    starts = np.concatenate([[0], ends[:-1]])
    csum = np.concatenate([[0.0], np.cumsum(x)])
    means = (csum[ends] - csum[starts]) / (ends - starts)
    return starts, ends, means


def sweep_segment(x: np.ndarray, index: np.ndarray, v: np.ndarray, cycle_starts, opt: Options):
    """Segmentation of a voltage sweep with the V²-weighted cost (labqc.sweep_segments).

    The cost runs on the current I = G·V of every finite sample, so the near-zero-bias
    samples weigh what they carry, no mask needed. Afterwards the samples with
    |V| < opt.v_min are dropped (their G = I/V is mostly noise) and the cuts, the cycle
    starts and the index map move onto the remaining samples, so that the rest of the
    pipeline is the one of :func:`analyze`. Returns (despiked G, index, segment ends,
    noise sigma of G, cycle starts, V), all on the kept samples.
    """
    from labqc.sweep_segments import current_sigma, segment_sweep

    vx = v[index]
    i = x * vx  # current in G0·V
    i = despike(i, max(current_sigma(i), 1e-12), opt.despike)
    starts = block_starts(x.size, cycle_starts, opt.block)
    ends, _ = segment_sweep(i, vx, starts, penalty=opt.penalty, min_size=opt.min_size)
    kept = np.flatnonzero(np.abs(vx) >= opt.v_min)
    if not kept.size:
        raise ValueError(f"no sample has |V| >= {opt.v_min:g} V, where G = I/V is defined")
    ends = np.unique(np.searchsorted(kept, ends))  # number of kept samples before each cut
    ends = ends[ends > 0]
    if cycle_starts is not None:
        cycle_starts = np.unique(np.searchsorted(kept, cycle_starts))
    vk = vx[kept]
    xs = i[kept] / vk
    return xs, index[kept], ends, robust_sigma(xs), cycle_starts, vk


def grouped_medians(v: np.ndarray, gid: np.ndarray, offs: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Median of v within each group, all groups in one sort.

    ``gid`` numbers the groups 0, 1, ... in order (contiguous runs), ``offs`` and
    ``lengths`` give each run's position and size (all > 0). The sort key
    gid + (scaled value in [0, 1)) orders by group, then by value.
    """
    v0, span = v.min(), np.ptp(v) * 1.000001 + 1e-12
    key = np.sort(gid + (v - v0) / span)
    sv = (key - gid) * span + v0
    lo, hi = offs + (lengths - 1) // 2, offs + lengths // 2
    return 0.5 * (sv[lo] + sv[hi])


def block_sigmas(x: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """:func:`robust_sigma` of every block x[a_k:b_k] (each at least 3 samples) at once."""
    n_dx = b - a - 1
    gid = np.repeat(np.arange(a.size), n_dx)
    offs = np.concatenate([[0], np.cumsum(n_dx)[:-1]])
    i = np.arange(gid.size) + np.repeat(a - offs, n_dx)
    dx = x[i + 1] - x[i]
    med = grouped_medians(dx, gid, offs, n_dx)
    return 1.4826 * grouped_medians(np.abs(dx - med[gid]), gid, offs, n_dx) / np.sqrt(2.0)


def group_stats(x: np.ndarray, a: np.ndarray, b: np.ndarray):
    """Median, MAD-based sigma, effective sample count and linear drift (change from the
    first to the last sample of a least-squares line) of each group [a, b), all at once."""
    if not a.size:
        return np.empty(0), np.empty(0), np.empty(0), np.empty(0)
    lengths = b - a
    gid = np.repeat(np.arange(a.size), lengths)
    offs = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    idx = np.arange(gid.size) + np.repeat(a - offs, lengths)  # the samples of every group
    vals = x[idx]
    med = grouped_medians(vals, gid, offs, lengths)
    resid = vals - med[gid]
    sig = 1.4826 * grouped_medians(np.abs(resid), gid, offs, lengths)
    # Lag-1 autocorrelation per group: correlated noise (1/f, RTN, drift) carries fewer
    # independent samples, N_eff = N(1 - rho)/(1 + rho).
    same = gid[1:] == gid[:-1]
    lag = np.bincount(gid[1:][same], weights=(resid[1:] * resid[:-1])[same], minlength=a.size)
    var = np.bincount(gid, weights=resid * resid, minlength=a.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.clip(np.where(var > 0, lag / var, 0.0), 0.0, 0.95)
    n_eff = lengths * (1.0 - rho) / (1.0 + rho)
    # Least-squares slope per group, with time centred in each group.
    tc = np.arange(vals.size) - offs[gid] - 0.5 * (lengths[gid] - 1)
    stt = lengths * (lengths.astype(float) ** 2 - 1) / 12.0
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(stt > 0, np.bincount(gid, weights=tc * vals, minlength=a.size) / stt, 0.0)
    return med, sig, n_eff, slope * (lengths - 1)
