"""The merge stage of the offline detector (labqc.plateaus): neighbouring segments of one
level become one plateau, and a merge that fused distinct flat levels is undone.

PELT over-segments plateaus that carry drift, 1/f wander or telegraph noise; merging
neighbours less than merge_delta apart (or on one half-quantum) repairs that, and short
sub-quantum excursions between equal levels are bridged. The same rule also fuses a
plateau 0.15-0.3 G0 off the grid with its neighbour; :func:`split_steps` finds those groups
by their best single split into two flat levels.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from labqc import rs

if TYPE_CHECKING:
    from labqc.plateaus import Options

NEAR_MARGIN = 0.08  # G0 beyond tol within which two noisy pieces on one half-quantum are one level


def merge(seg_start, seg_stop, seg_level, opt: Options, barriers=frozenset(), seg_delta=None, near_margin: float = NEAR_MARGIN):
    """Merge neighbours at the same level and bridge short excursions between equal levels.

    Nothing is merged across a barrier (the first sample of a sweep cycle: a plateau that
    ends a cycle and one that starts the next are different plateaus even at one level).

    Works on segment means (corrected units). Returns group boundaries, the group members'
    (start, stop, level) for the excursion log, and the bridged excursions.
    """
    out_a: list[int] = []
    out_b: list[int] = []
    out_mu: list[float] = []
    out_w: list[float] = []
    excursions: list[tuple[int, int, float]] = []

    bridge = opt.bridge_len
    if seg_delta is None:
        seg_delta = np.full(seg_level.size, opt.merge_delta)
    near = opt.tol + near_margin  # G0: both this close to one half-quantum is one level

    def same(m1: float, m2: float, delta: float) -> bool:
        if abs(m1 - m2) < delta:
            return True
        q1, q2 = round(2 * m1), round(2 * m2)
        return q1 == q2 and abs(m1 - q1 / 2) <= near and abs(m2 - q2 / 2) <= near

    out_d: list[float] = []
    for a, b, mu, dl in zip(seg_start.tolist(), seg_stop.tolist(), seg_level.tolist(), seg_delta.tolist()):
        w = float(b - a)
        if a in barriers or not out_a:
            out_a.append(a)
            out_b.append(b)
            out_mu.append(mu)
            out_w.append(w)
            out_d.append(dl)
            continue
        last = out_mu[-1]
        if same(last, mu, max(dl, out_d[-1])):
            tw = out_w[-1] + w
            out_mu[-1] = (out_mu[-1] * out_w[-1] + mu * w) / tw
            out_w[-1] = tw
            out_b[-1] = b
            out_d[-1] = min(out_d[-1], dl)  # a short piece's wide threshold does not pass to its group
            continue
        if (
            len(out_a) >= 2
            and out_b[-1] - out_a[-1] < bridge
            and (abs(out_mu[-1] - out_mu[-2]) < opt.bridge_max or out_b[-1] - out_a[-1] < 3)
            and same(out_mu[-2], mu, max(dl, out_d[-2]))
            and out_w[-2] >= bridge
            and out_a[-1] not in barriers
        ):
            excursions.append((out_a[-1], out_b[-1], out_mu[-1] - out_mu[-2]))
            out_a.pop(), out_b.pop(), out_mu.pop(), out_w.pop(), out_d.pop()
            tw = out_w[-1] + w
            out_mu[-1] = (out_mu[-1] * out_w[-1] + mu * w) / tw
            out_w[-1] = tw
            out_b[-1] = b
            continue
        out_a.append(a)
        out_b.append(b)
        out_mu.append(mu)
        out_w.append(w)
        out_d.append(dl)
    return np.asarray(out_a, dtype=int), np.asarray(out_b, dtype=int), excursions


def split_steps(xs, ga, gb, sigma: float, r_series: float, opt: Options, strict: bool = True,
                sigmas: float | None = None, only=None):
    """Undo a merge that fused an off-grid plateau with its neighbour.

    The merge fuses neighbours less than merge_delta apart, which is right for drift,
    telegraph noise and 1/f wander but also fuses a plateau 0.15-0.3 G0 off the grid with
    the level next to it. Such a group is told apart by its best single split: two flat
    halves (each >= min_length) that explain the group down to the white noise
    (residual <= STEP_RESIDUAL·sigma per sample), corrected levels at least STEP_MIN and
    measured ones STEP_SIGMAS standard errors of their difference apart (``sigmas``), and a
    white residual (lag-1 autocorrelation <= STEP_RHO). Telegraph noise (alternating),
    drift and ramps leave a larger or correlated residual and stay merged. ``strict=False``
    drops the residual tests (labqc.plateaus keeps such a split only if it yields a level).
    ``only`` (bool per group) restricts the test to those groups.
    """
    lengths = gb - ga
    cand = np.flatnonzero((lengths >= 2 * opt.min_length) & (True if only is None else only))
    if not cand.size or sigma <= 0:
        return ga, gb
    a, b = ga[cand], gb[cand]
    n = b - a
    gid = np.repeat(np.arange(a.size), n)
    offs = np.concatenate([[0], np.cumsum(n)[:-1]])
    t = np.arange(gid.size) - offs[gid] + a[gid]  # sample index; split before t
    cs = np.concatenate([[0.0], np.cumsum(xs)])
    c2 = np.concatenate([[0.0], np.cumsum(xs * xs)])
    n1 = (t - a[gid]).astype(float)
    n2 = (b[gid] - t).astype(float)
    ok = (n1 >= opt.min_length) & (n2 >= opt.min_length)
    s1 = cs[t] - cs[a[gid]]
    s2 = cs[b[gid]] - cs[t]
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.where(ok, s1 * s1 / n1 + s2 * s2 / n2, -np.inf)
    best = np.maximum.reduceat(gain, offs)  # groups are contiguous runs of gid
    pick = np.flatnonzero((gain == best[gid]) & ok)
    pick = pick[np.r_[True, gid[pick][1:] != gid[pick][:-1]]]  # first best per group
    k = gid[pick]
    tk, nk1, nk2 = t[pick], n1[pick], n2[pick]
    m1, m2 = s1[pick] / nk1, s2[pick] / nk2
    rss = (c2[b[k]] - c2[a[k]]) - best[k]
    # Residuals of the two-level fit: white for a real step, correlated for 1/f wander.
    cut_of = np.full(a.size, -1)
    cut_of[k] = tk
    level_of = np.zeros((a.size, 2))
    level_of[k, 0], level_of[k, 1] = m1, m2
    has = cut_of[gid] >= 0
    sample = t[has]  # t runs over every sample of the candidate groups
    g_has = gid[has]
    r = xs[sample] - np.where(sample < cut_of[g_has], level_of[g_has, 0], level_of[g_has, 1])
    same = g_has[1:] == g_has[:-1]
    lag = np.bincount(g_has[1:][same], weights=(r[1:] * r[:-1])[same], minlength=a.size)
    var = np.bincount(g_has, weights=r * r, minlength=a.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.where(var[k] > 0, lag[k] / var[k], 1.0)
    # The mean squared residual of white noise scatters by sqrt(2/n) of sigma² around it:
    # a short two-level group gets that much room (STEP_SCATTER of them) besides the margin.
    room = STEP_RESIDUAL**2 + STEP_SCATTER * np.sqrt(2.0 / (nk1 + nk2))
    flat = (rss / (nk1 + nk2) <= room * sigma**2) & (rho <= STEP_RHO) if strict else True
    apart = (np.abs(rs.correct(m1, r_series) - rs.correct(m2, r_series)) >= STEP_MIN) & (
        np.abs(m1 - m2) >= (STEP_SIGMAS if sigmas is None else sigmas) * sigma * np.sqrt(1.0 / nk1 + 1.0 / nk2))
    split = cand[k[flat & apart]]
    if not split.size:
        return ga, gb
    cut = tk[flat & apart]
    ga = np.insert(ga, np.searchsorted(ga, cut), cut)
    gb = np.insert(gb, np.searchsorted(gb, cut), cut)
    return ga, gb


STEP_RESIDUAL = 1.1  # white-noise scales per sample a two-level group may leave
STEP_SCATTER = 2.0  # standard deviations of the residual's sampling scatter allowed on top
STEP_MIN = 0.12  # G0 between the two halves of a split group
STEP_SIGMAS = 6.0  # ... and this many standard errors of the difference of their means
UNDO_SIGMAS = 4.0  # standard errors within which the pieces either side of an excursion are one level
STEP_RHO = 0.15  # lag-1 autocorrelation of the residuals above this is wander, not a step


def undo_excursions(xs, ga0, ga, gb, sigma: float, r_series: float, opt: Options, barriers=frozenset()):
    """Re-merge level, excursion, same level where :func:`split_steps` made a cut among them.

    A telegraph excursion longer than bridge_len inside a plateau is a piece the split
    test may cut out (the merge could not bridge it): the plateau, the excursion, the
    plateau again. A step between two distinct levels never returns to where it came
    from, so three neighbouring pieces, at least one cut between them made by the split
    (not in ``ga0``, the groups before it), whose outer two sit at one level and whose
    middle is less than bridge_max away from both, are one plateau with an excursion
    (old hard scenario, validation seed 2025: excursions of 40-120 samples were cut out
    and the pieces either side claimed). "One level" is the merge's half-quantum rule
    (tol plus the white noise, at most NEAR_MARGIN) or a difference below merge_min or
    UNDO_SIGMAS standard errors: two distinct off-grid plateaus either side of a level
    in a quiet trace stay apart (easy family, tuning seeds).
    """
    split_cuts = set(ga.tolist()) - set(ga0.tolist())
    if not split_cuts:
        return ga, gb
    cs = np.concatenate([[0.0], np.cumsum(xs)])
    n = (gb - ga).astype(float)
    raw = (cs[gb] - cs[ga]) / n
    level = rs.correct(raw, r_series)
    se = sigma * rs.derivative(raw, r_series) / np.sqrt(n)  # corrected units
    keep = np.ones(ga.size, dtype=bool)  # False: this piece continues the one before it
    near = opt.tol + min(NEAR_MARGIN, sigma)
    a, b = ga.tolist(), gb.tolist()
    i = 0
    while i + 2 < ga.size:
        m1, m2, m3 = level[i], level[i + 1], level[i + 2]
        joined = b[i] == a[i + 1] and b[i + 1] == a[i + 2] and a[i + 1] not in barriers and a[i + 2] not in barriers
        finite = np.isfinite(m1) and np.isfinite(m2) and np.isfinite(m3)  # beyond 1/R_s: leave alone
        q1, q3 = (round(2 * m1), round(2 * m3)) if finite else (0, 1)
        same = finite and (abs(m1 - m3) < max(opt.merge_min, UNDO_SIGMAS * np.hypot(se[i], se[i + 2]))
                           or (q1 == q3 and abs(m1 - q1 / 2) <= near and abs(m3 - q3 / 2) <= near))
        if (joined and (a[i + 1] in split_cuts or a[i + 2] in split_cuts) and same
                and abs(m2 - m1) < opt.bridge_max and abs(m2 - m3) < opt.bridge_max):
            keep[i + 1] = keep[i + 2] = False
            i += 3
        else:
            i += 1
    if keep.all():
        return ga, gb
    first = np.flatnonzero(keep)
    last = np.r_[first[1:], ga.size] - 1
    return ga[first], gb[last]


TELEGRAPH_RETURNS = 3  # returning excursions from which a trace is taken to carry telegraph noise
RETURN_SIGMAS = 4.0  # standard errors: outer pieces within this are one level, the middle beyond it


def telegraph_returns(seg_a, seg_b, seg_level, seg_raw, sigma: float, r_series: float, opt: Options,
                      barriers=frozenset()) -> int:
    """How many times the raw segmentation leaves a level for less than bridge_len samples by
    less than bridge_max and comes back to it: the trace-level evidence of telegraph noise.

    A fluctuator switches back and forth many times on every plateau it rides on; a trace
    without one shows such a return only where an off-grid plateau happens to sit between
    two visits of one level (field families, seeds 3000-3095: at most 1 in the easy family,
    up to 144 in the others; a noisy trace whose fluctuator the segmentation does not resolve
    counts few, and its white-noise threshold is merge_delta anyway).
    """
    if seg_level.size < 3:
        return 0
    n = (seg_b - seg_a).astype(float)
    se = sigma * np.nan_to_num(rs.derivative(seg_raw, r_series), nan=1e6) / np.sqrt(n)
    m1, m2, m3 = seg_level[:-2], seg_level[1:-1], seg_level[2:]
    same = np.abs(m1 - m3) < RETURN_SIGMAS * np.hypot(se[:-2], se[2:]) + opt.tol / 2
    step = np.minimum(np.abs(m2 - m1), np.abs(m2 - m3))
    away = (step > RETURN_SIGMAS * np.hypot(se[1:-1], np.maximum(se[:-2], se[2:]))) & (np.abs(m2 - m1) < opt.bridge_max)
    inside = ~np.isin(seg_a[1:-1], list(barriers)) & ~np.isin(seg_a[2:], list(barriers))
    return int((same & away & inside & (n[1:-1] < opt.bridge_len)).sum())


def quiet_deltas(seg_a, seg_b, seg_level, seg_raw, sigma: float, r_series: float, opt: Options,
                 barriers=frozenset(), near_margin: float = NEAR_MARGIN) -> np.ndarray:
    """Merge thresholds for a trace without telegraph noise.

    The full merge_delta is there for telegraph states, drift and wander; without them it
    fuses an off-grid plateau of 0.15-0.3 G0 with the level beside it, which a single split
    cannot undo when the level comes back after it (field family easy, seeds 3000-3095).
    A first merge at merge_sigmas white-noise scales (corrected units, between merge_min and
    merge_delta; pieces shorter than min_length keep merge_delta, they cannot be plateaus)
    finds neighbouring groups closer than merge_delta. Such a pair keeps the narrow threshold
    unless it is part of a run of small steps in one direction (a slow ramp or drift cut in
    pieces, which must still fuse into one drifting group: tests/analysis/test_analysis_plateaus.py);
    every other segment gets merge_delta.
    """
    scale = sigma * np.nan_to_num(rs.derivative(seg_raw, r_series), nan=1e6)
    narrow = np.clip(opt.merge_sigmas * scale, opt.merge_min, opt.merge_delta)
    narrow = np.where(seg_b - seg_a < opt.min_length, opt.merge_delta, narrow)
    full = np.full(seg_level.size, opt.merge_delta)
    qa, qb, _ = merge(seg_a, seg_b, seg_level, opt, barriers, narrow, near_margin)
    if qa.size < 2:
        return full
    gid = np.searchsorted(qa, seg_a, side="right") - 1  # bridged pieces join the group around them
    w = (seg_b - seg_a).astype(float)
    level = np.bincount(gid, weights=seg_level * w, minlength=qa.size) / np.maximum(np.bincount(gid, weights=w, minlength=qa.size), 1.0)
    step = np.diff(level)
    close = (np.abs(step) < opt.merge_delta) & ~np.isin(qa[1:], list(barriers)) & (qb[:-1] == qa[1:])
    run = np.sign(step[1:]) == np.sign(step[:-1])  # two small steps the same way: a ramp
    ramp = np.zeros(close.size, dtype=bool)
    ramp[1:] |= close[:-1] & run
    ramp[:-1] |= close[1:] & run
    keep = close & ~ramp
    if not keep.any():
        return full
    mark = np.zeros(qa.size, dtype=bool)
    mark[:-1] |= keep
    mark[1:] |= keep
    return np.where(mark[gid], narrow, full)
