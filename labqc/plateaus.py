"""Offline plateau detection: the accurate pass for post-analysis.

Pipeline, per trace:

1. drop NaN/inf samples (indices are mapped back), remove isolated spikes against a
   5-sample running median;
2. segment each block (a cycle, or at most ``block`` samples) with PELT/L2 through
   ``ruptures.KernelCPD(kernel="linear")`` at penalty c·sigma²·ln n, sigma from the MAD of
   first differences (on pairs of samples for long blocks, cuts refined at full resolution);
   for a voltage sweep (``v`` given) with the V²-weighted cost on the current instead
   (labqc.sweep_segments), after which samples with |V| < v_min leave the trace;
3. merge neighbouring segments whose series-corrected levels differ by less than
   ``merge_delta`` or round to the same half-quantum, and bridge excursions shorter than
   ``bridge_len`` between equal levels (logged as telegraph events); a merged group whose
   best single split gives two flat, significantly different levels is split again, unless
   the pieces read level, excursion, same level; a trace without telegraph switching
   (labqc.plateau_merge: telegraph_returns) merges neighbours closer than merge_delta only
   within its white noise (quiet_deltas), so an off-grid plateau beside a level stays apart;
4. estimate R_s by the comb fit over the merged plateaus when it is not given, then redo
   step 3 in corrected units;
5. keep segments of at least ``min_length`` samples and assign each a quantum level with
   the posterior shared with the online detector (labqc.levels), N_eff from the lag-1
   autocorrelation; a segment that keeps drifting (a slow ramp) gets no level;
6. plateaus left off the grid whose samples split into two telegraph states get the level
   of the state on the grid (two-component mixture, all such plateaus at once);
7. neighbours that ended up with the same quantum level are one plateau.

Steps 1-2 live in labqc.plateau_segment, step 3 in labqc.plateau_merge, steps 5-6 in
labqc.plateau_verdicts (the telegraph states of step 6 in labqc.plateau_two_state).
``detect`` returns the plateaus; ``analyze`` returns them with the R_s used, its
uncertainty, the noise scale and the telegraph events.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from labqc import levels as lv
from labqc.plateau_merge import (
    NEAR_MARGIN, TELEGRAPH_RETURNS, merge, quiet_deltas, split_steps, telegraph_returns, undo_excursions,
)
from labqc.plateau_segment import (  # noqa: F401  (robust_sigma: public here too)
    block_starts, despike, group_stats, robust_sigma, segment, segment_means, sweep_segment,
)
from labqc.plateau_verdicts import Plateau, degrade, plateau_records
from labqc.series import SeriesFit, fit_series_resistance, unassignable_above


BLOCK_PLATEAUS = 10  # plateaus per R_s bootstrap block when the trace has no cycle marks


@dataclass(frozen=True)
class Excursion:
    """A short excursion bridged inside a plateau (telegraph noise or a spike burst)."""

    start: int
    stop: int
    amplitude: float  # G/G0 relative to the plateau (corrected units)


@dataclass(frozen=True)
class Options:
    """Tuning of the offline detector; defaults from the reference's quick experiment."""

    # c in c·sigma²·ln n; the merge stage absorbs over-segmentation. 3 rather than 5: a visit of
    # 10-20 samples to the next half-quantum inside a noisy plateau (two cuts) was not cut
    # (noisy family, tuning and validation seeds; 500-pulse trains, recall 0.89 -> 0.94)
    penalty: float = 3.0
    min_size: int = 3  # smallest segment KernelCPD may cut
    merge_delta: float = 0.3  # G0, the largest merge threshold (noisy traces)
    merge_min: float = 0.1  # G0, the smallest (quiet traces)
    merge_sigmas: float = 4.0  # merge threshold in white-noise scales (corrected units)
    # samples: a sub-quantum telegraph excursion lasts up to a few tens of samples in a noisy
    # trace, and one of 38 split a plateau in three (noisy family, tuning seeds)
    bridge_len: int = 40
    # G0: a short excursion by more than this (a full half-quantum) of 3 samples or more is
    # a real visit to the next level, not telegraph noise riding on the plateau
    bridge_max: float = 0.4
    min_length: int = 20  # samples; shorter segments are not plateaus
    despike: float = 6.0  # sigma multiples against the running median; 0 disables
    block: int = 20000  # samples per KernelCPD call when no cycle starts are given
    decimate: int = 2  # KernelCPD runs on means of this many samples; cuts are refined after
    sigma_rs: float = 0.0  # ohm, uncertainty of a given r_series
    r_max: float = 1000.0  # ohm, upper end of the comb-fit search
    tol: float = lv.TOLERANCE
    sigma_int: float = lv.SIGMA_INTRINSIC
    prior_on: float = lv.PRIOR_ON_GRID
    n_eff_factor: float | None = None  # None: N_eff from the lag-1 autocorrelation
    max_level: float = lv.MAX_LEVEL
    max_drift: float = 0.35  # G0 across a plateau; more (and significant) is a ramp, not a level
    join_gap: int = 0  # samples; neighbours with the same quantum and a gap up to this join (-1: never)
    two_state: bool = True  # resolve telegraph noise inside off-grid plateaus (labqc.plateau_two_state)
    # None: decided per trace by the count of returning excursions (labqc.plateau_merge:
    # telegraph_returns); False: merge at the white-noise scale and never re-merge level,
    # excursion, same level; True: the full merge_delta and the re-merge always
    telegraph: bool | None = None
    v_min: float = 0.02  # V; with a bias trace ``v``, samples below it are left out of level statistics

    @classmethod
    def from_kwargs(cls, **options) -> "Options":
        known = {f.name for f in fields(cls)}
        unknown = set(options) - known
        if unknown:
            raise TypeError(f"unknown plateau option(s): {', '.join(sorted(unknown))}")
        return cls(**options)

    def level_options(self) -> dict:
        return dict(
            tol=self.tol, sigma_int=self.sigma_int, prior_on=self.prior_on,
            n_eff_factor=self.n_eff_factor or lv.N_EFF_FACTOR, max_level=self.max_level,
        )


@dataclass
class PlateauAnalysis:
    plateaus: list[Plateau]
    r_series: float  # ohm, used for the correction
    sigma_r_series: float  # ohm
    r_series_estimated: bool
    noise_sigma: float  # G/G0, white-noise scale of the measured samples
    excursions: list[Excursion] = field(default_factory=list)
    n_samples: int = 0
    # ohm: the part of sigma_r_series the level verdicts use (the comb fit's statistical
    # error); NaN means the same as sigma_r_series.
    sigma_r_series_levels: float = float("nan")
    # ohm: credible interval of R_s (95 %), and whether a second R_s explains the plateaus
    # about as well (then levels whose quantum depends on the choice get none).
    r_series_interval: tuple[float, float] = (float("nan"), float("nan"))
    r_series_ambiguous: bool = False
    r_series_alternative: float = float("nan")  # ohm, the runner-up R_s when ambiguous
    reason: str = ""  # why the result is empty or has no levels (bad input), else ""

    @property
    def unassignable_above(self) -> float:
        """Corrected G/G0 above which the R_s uncertainty forbids a level assignment."""
        s = self.sigma_r_series_levels
        return unassignable_above(self.sigma_r_series if s != s else s)


def _validate(g) -> tuple[np.ndarray, np.ndarray]:
    """Finite samples and their indices; clear errors for input that has no answer."""
    g = np.asarray(g, dtype=float)
    if g.ndim != 1:
        raise ValueError(f"expected a 1-D array of G/G0 samples, got shape {g.shape}")
    finite = np.isfinite(g)
    index = np.flatnonzero(finite)
    if g.size and not index.size:
        raise ValueError("the trace has no finite G/G0 samples")
    x = g[index]
    if x.size and np.median(x) < -0.1:
        raise ValueError(
            "the conductance is mostly negative; check the sign convention of V and I"
        )
    return x, index


RESCUE_SIGMAS = 12.0  # standard errors between the halves of a rescued group (no flatness test)
RESCUE_DRIFT = 0.15  # G0: each half of a rescued group must be this steady


def _rescue(xs, index, ga, gb, plateaus, bridged, sigma, r_series, sigma_rs, opt: Options):
    """A merged group that got no level because it drifts or sits off the grid is often a
    level fused with an off-grid neighbour (a step the strict split test could not prove
    in the noise). Its best single split is kept when one of the halves then sits on the
    grid and neither half drifts (a ramp cut in two still does); otherwise the group stays."""
    k = np.array([i for i, p in enumerate(plateaus) if p.quantum is None and p.assignable
                  and p.reason.startswith(("drifts", "off the grid")) and p.n >= 2 * opt.min_length], dtype=int)
    if not k.size:
        return plateaus, ga, gb
    na, nb = split_steps(xs, ga[k], gb[k], sigma, r_series, opt, strict=False, sigmas=RESCUE_SIGMAS)
    if na.size == k.size:
        return plateaus, ga, gb
    pieces = plateau_records(xs, index, na, nb, bridged, r_series, sigma_rs, opt, check_rs=False)
    owner = np.searchsorted(ga[k], na, side="right") - 1  # the rescued group of each piece
    good = np.zeros(k.size, dtype=bool)
    steady = np.ones(k.size, dtype=bool)  # a ramp cut in two still drifts in each half
    for o, p in zip(owner.tolist(), pieces):
        good[o] |= p.quantum is not None
        steady[o] &= abs(p.drift) <= RESCUE_DRIFT
    good &= steady
    keep = np.ones(len(plateaus), dtype=bool)
    keep[k[good]] = False
    new = [(a, b, p) for a, b, p, o in zip(na.tolist(), nb.tolist(), pieces, owner.tolist()) if good[o]]
    rows = [(a, b, p) for a, b, p, kp in zip(ga.tolist(), gb.tolist(), plateaus, keep) if kp] + new
    rows.sort(key=lambda r: r[0])
    return [r[2] for r in rows], np.array([r[0] for r in rows], dtype=int), np.array([r[1] for r in rows], dtype=int)



def analyze(
    g,
    *,
    r_series: float | None = None,
    cycle_starts=None,
    v=None,
    **options,
) -> PlateauAnalysis:
    """Detect plateaus in a G/G0 trace and return them with R_s and telegraph events.

    ``r_series`` in ohms (None: comb-fit estimate); ``cycle_starts`` are indices where a new
    sweep cycle begins (segmentation runs per cycle, nothing merges across). ``v``: the bias
    (V) of a voltage sweep, one per sample; the segmentation then uses the V²-weighted cost
    on the current G·V (no mask near V = 0 needed) and the level statistics leave out the
    samples with |V| < ``v_min`` (option, default 0.02 V). Other options: see :class:`Options`.
    """
    opt = Options.from_kwargs(**options)
    if r_series is not None:
        lv.check_series_resistance(r_series)
    if v is not None:
        v = np.asarray(v, dtype=float)
        if v.shape != np.shape(g):
            raise ValueError(f"the bias v has shape {v.shape}, the trace {np.shape(g)}; one V per sample is needed")
        g = np.where(np.isfinite(v), g, np.nan)
    x, index = _validate(g)
    n_total = int(np.asarray(g).size)
    if x.size < opt.min_length:
        return PlateauAnalysis([], r_series or 0.0, opt.sigma_rs, r_series is None, 0.0, [], n_total,
                               reason=f"fewer than {opt.min_length} finite samples: no plateau can be found")

    # Cycle starts refer to the input; move them onto the finite-sample axis.
    if cycle_starts is not None:
        cycle_starts = np.searchsorted(index, np.asarray(cycle_starts, dtype=int))
    if v is None:
        xs = despike(x, max(robust_sigma(x), 1e-4), opt.despike)
        ends, sigma = segment(xs, block_starts(x.size, cycle_starts, opt.block), opt)
        seg_a, seg_b, seg_mu = segment_means(xs, ends)
    else:
        from labqc.sweep_segments import segment_conductance

        xs, index, ends, sigma, cycle_starts, vk = sweep_segment(x, index, v, cycle_starts, opt)
        seg_a, seg_b, _ = segment_means(xs, ends)
        seg_mu = segment_conductance(xs * vk, vk, ends)  # least squares: Σ I·V / Σ V²
    barriers = frozenset() if cycle_starts is None else frozenset(int(c) for c in cycle_starts)

    estimated = r_series is None
    sigma_rs = sigma_total = opt.sigma_rs
    if estimated:
        fit = _estimate_rs(xs, seg_a, seg_b, seg_mu, sigma, opt, barriers)
        # The level verdicts use the statistical part: slow gain-like noise moves the
        # fitted R_s so that the corrected levels stay on the grid (that is what the comb
        # fit does), so it does not move corrected levels against the grid; it does make
        # R_s itself less certain, which the reported total says.
        r_series, sigma_rs, sigma_total = fit.r_series, fit.sigma_stat, fit.sigma
    else:
        fit = SeriesFit(r_series, opt.sigma_rs, interval=(r_series - 1.96 * opt.sigma_rs, r_series + 1.96 * opt.sigma_rs))
    seg_corr = lv.correct_g0(seg_mu, r_series)
    # Segments beyond 1/R_s (NaN after correction) can only be spikes or R_s mistakes.
    seg_corr = np.where(np.isfinite(seg_corr), seg_corr, 1e6)
    # Two pieces on one half-quantum are one level within tol plus the white noise (at most
    # NEAR_MARGIN): in a quiet trace two off-grid plateaus either side of a level are not
    # fused into one three-level group that no single split can undo (easy family).
    telegraph = opt.telegraph
    if telegraph is None:
        telegraph = telegraph_returns(seg_a, seg_b, seg_corr, seg_mu, sigma, r_series, opt, barriers) >= TELEGRAPH_RETURNS
    deltas = None if telegraph else quiet_deltas(seg_a, seg_b, seg_corr, seg_mu, sigma, r_series, opt, barriers, min(NEAR_MARGIN, sigma))
    ga, gb, bridged = merge(seg_a, seg_b, seg_corr, opt, barriers, deltas, near_margin=min(NEAR_MARGIN, sigma))
    ga0, gb0 = ga, gb
    ga, gb = split_steps(xs, ga, gb, sigma, r_series, opt)
    # A group may hide two steps: test the halves of the groups just split (the others
    # would give the same answer again).
    ga, gb = split_steps(xs, ga, gb, sigma, r_series, opt, only=~np.isin(ga, ga0) | ~np.isin(gb, gb0))
    ga, gb = undo_excursions(xs, ga0, ga, gb, sigma, r_series, opt, barriers)
    long = (gb - ga) >= opt.min_length
    ga, gb = ga[long], gb[long]
    plateaus = plateau_records(xs, index, ga, gb, bridged, r_series, sigma_rs, opt, check_rs=not estimated)
    plateaus, ga, gb = _rescue(xs, index, ga, gb, plateaus, bridged, sigma, r_series, sigma_rs, opt)
    joined = _join_same_quantum(plateaus, ga, gb, opt, barriers)
    if joined is not None:  # new statistics for the joined groups only
        starts, ends = joined
        redo = ends > starts
        fresh = iter(plateau_records(xs, index, ga[starts[redo]], gb[ends[redo]], bridged, r_series, sigma_rs, opt, check_rs=False))
        plateaus = [next(fresh) if r else plateaus[i] for i, r in zip(starts.tolist(), redo.tolist())]
    plateaus, reason = degrade(plateaus, fit, estimated)
    excursions = [Excursion(int(index[i]), int(index[j - 1]) + 1, float(amp)) for i, j, amp in bridged]
    return PlateauAnalysis(
        plateaus, float(r_series), float(sigma_total), estimated, float(sigma), excursions, n_total,
        sigma_r_series_levels=float(sigma_rs), r_series_interval=tuple(float(v) for v in fit.interval),
        r_series_ambiguous=fit.ambiguous, r_series_alternative=float(fit.alternative), reason=reason,
    )


def _join_same_quantum(plateaus: list[Plateau], ga, gb, opt: Options, barriers):
    """Groups after joining neighbours that were assigned the same quantum level.

    A plateau cut in two by a burst of telegraph or 1/f noise (pieces whose means differ by
    more than merge_delta, or a short excursion between them) is one plateau when both
    pieces land on the same half-quantum; the gap between them may be at most join_gap
    samples and must not hold a cycle start. Returns, for every joined group, the indices
    of its first and last plateau, or None when nothing joins.
    """
    if len(plateaus) < 2 or opt.join_gap < 0:
        return None
    q = np.array([np.nan if p.quantum is None else p.quantum for p in plateaus])
    gap = ga[1:] - gb[:-1]
    join = (q[1:] == q[:-1]) & (gap <= opt.join_gap)
    if barriers and join.any():
        cuts = np.array(sorted(barriers))
        # A cycle start after the last sample of one (gb_k - 1) and at or before the first
        # sample of the next (ga_k+1) separates the two plateaus.
        join &= np.searchsorted(cuts, gb[:-1] - 1, side="right") == np.searchsorted(cuts, ga[1:], side="right")
    if not join.any():
        return None
    first = np.r_[True, ~join]  # plateaus that begin a new joined group
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], ga.size] - 1
    return starts, ends


def _estimate_rs(xs, seg_a, seg_b, seg_mu, sigma: float, opt: Options, barriers) -> SeriesFit:
    """R_s from the plateaus of a first merge pass in measured units.

    That pass merges only neighbours closer than merge_min (or the noise): at a high R_s
    the measured steps between high levels shrink to a fraction of a half-quantum, and a
    coarser merge would fuse the very plateaus that tell R_s.
    """
    delta = np.full(seg_mu.size, float(np.clip(opt.merge_sigmas * sigma, 0.0, opt.merge_min)))
    ga, gb, _ = merge(seg_a, seg_b, seg_mu, opt, barriers, delta)
    long = (gb - ga) >= opt.min_length
    if not long.any():
        return SeriesFit(0.0, 0.0, reason="no plateau long enough to fit a series resistance to")
    ga, gb = ga[long], gb[long]
    med, sig, n_eff, _ = group_stats(xs, ga, gb)
    se = np.maximum(sig, sigma) / np.sqrt(np.maximum(n_eff, 1.0))
    # Bootstrap blocks: the sweep cycles, or runs of BLOCK_PLATEAUS neighbouring plateaus
    # when the trace has no cycle marks (slow 1/f noise correlates neighbours).
    if barriers:
        groups = np.searchsorted(np.array(sorted(barriers)), ga, side="right")
    else:
        groups = np.arange(ga.size) // BLOCK_PLATEAUS
    try:
        return fit_series_resistance(med, gb - ga, groups=groups, se=se, r_max=opt.r_max)
    except ValueError:  # only near-zero levels: R_s cannot be seen and does not matter
        return SeriesFit(0.0, 0.0, reason="only levels below 0.25 G0: no series resistance to see")


def detect(g, *, r_series: float | None = None, v=None, **options) -> list[Plateau]:
    """Plateaus of a 1-D array of measured G/G0 samples (see :func:`analyze`; ``v``: the
    bias of a voltage sweep)."""
    return analyze(g, r_series=r_series, v=v, **options).plateaus
