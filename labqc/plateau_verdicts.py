"""Plateau records and their level verdicts (steps 5-6 of labqc.plateaus' pipeline).

:func:`plateau_records` turns merged groups of samples into :class:`Plateau` records: robust
statistics, the quantum-level posterior shared with the online detector (labqc.levels), the
drift test that tells a slow ramp from a level, the telegraph two-state verdicts
(labqc.plateau_two_state) and a reason for every plateau left without a level.
:func:`degrade` withholds the levels an uncertain or ambiguous R_s cannot support.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from labqc import levels as lv
from labqc import rs
from labqc.plateau_segment import group_stats
from labqc.plateau_two_state import two_state_levels
from labqc.series import SeriesFit
from labqc.units import G0

if TYPE_CHECKING:
    from labqc.plateaus import Options

DRIFT_NOISE = 2.0  # within-plateau scales of tilt a noisy plateau may show and stay a level


@dataclass(frozen=True)
class Plateau:
    """One plateau. Indices refer to the input array; ``stop`` is exclusive."""

    start: int
    stop: int
    level: float  # series-corrected G/G0 (robust median)
    quantum: float | None  # assigned multiple of 0.5, None if off-grid or unassignable
    confidence: float  # P_on · P(level), 0..1
    n: int = 0  # finite samples in the plateau
    raw_level: float = float("nan")  # measured (uncorrected) G/G0: median, or the telegraph base state
    sigma: float = float("nan")  # within-plateau scale (corrected units, MAD-based)
    p_on: float = 0.0  # posterior probability that the plateau sits on the grid
    z: float = float("nan")  # (level - nearest half-quantum) / uncertainty
    assignable: bool = True  # False when R_s uncertainty or noise forbid a verdict
    excursions: int = 0  # telegraph excursions bridged inside the plateau
    telegraph_amplitude: float = 0.0  # G/G0 of a resolved two-level fluctuator (0: none)
    drift: float = 0.0  # corrected G/G0 change across the plateau (least-squares line)
    reason: str = ""  # why quantum is None ("" when assigned)

    @property
    def duration(self) -> int:
        return self.stop - self.start


def plateau_records(xs, index, ga, gb, bridged, r_series, sigma_rs, opt: Options, *, check_rs: bool) -> list[Plateau]:
    """Statistics, level verdicts and Plateau records for the merged groups [ga, gb)."""
    raw_med, raw_sig, n_eff, raw_drift = group_stats(xs, ga, gb)
    if check_rs and raw_med.size and r_series * G0 * raw_med.max() >= 1.0:
        worst = raw_med.max()
        raise ValueError(
            f"series resistance {r_series:g} ohm is not below the measured resistance "
            f"{1 / (G0 * worst):.0f} ohm of the plateau at {worst:.2f} G0; the correction is undefined"
        )
    slope = rs.derivative(raw_med, r_series)  # dG_corr/dG: noise grows with R_s
    a = lv.assign_levels(
        raw_med, gb - ga, raw_sig * slope, r_series=r_series, sigma_rs=sigma_rs,
        n_eff=n_eff if opt.n_eff_factor is None else None, **opt.level_options(),
    )
    level, quantum, conf = a.level.copy(), a.quantum.copy(), a.confidence.copy()
    p_on, z, rtn, assignable = a.p_on.copy(), a.z.copy(), np.zeros(ga.size), a.assignable.copy()
    # A segment that keeps moving (a slow ramp, a sweep through a diffusive regime) is not
    # a plateau whatever its median: no quantum for it. The line's end-to-end change has a
    # white-noise error sigma·(L-1)/sqrt(sum tc²); only a change both above max_drift and
    # clearly (3 errors) non-zero counts, so that short noisy plateaus survive.
    drift = raw_drift * slope
    length = (gb - ga).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        drift_err = np.where(
            length > 1, raw_sig * slope * (length - 1) / np.sqrt(length * (length**2 - 1) / 12.0), 0.0
        )
    # Telegraph states and 1/f wander tilt the fitted line of a noisy plateau by more than
    # its white-noise error says; a tilt within DRIFT_NOISE scales of the plateau's own
    # noise is not taken for a ramp (noisy family, tuning seeds: real levels were withheld).
    moving = np.abs(drift) > np.maximum(np.maximum(opt.max_drift, 3.0 * drift_err), DRIFT_NOISE * raw_sig * slope)
    quantum[moving] = np.nan
    conf[moving] = 0.0
    if opt.two_state:
        todo = np.flatnonzero(np.isnan(quantum) & a.in_range & ~moving & (length >= 2 * opt.min_length))
        found = two_state_levels(xs, ga[todo], gb[todo], r_series, sigma_rs, opt) if todo.size else None
        if found is not None:
            k = todo[found[0]]
            level[k], quantum[k], conf[k], p_on[k], z[k], rtn[k] = found[1:]
            assignable[k] = True
            raw_med = raw_med.copy()
            raw_med[k] = lv.uncorrect_g0(level[k], r_series)  # the measured value of that state
    counts = np.zeros(ga.size, dtype=int)  # bridged excursions per plateau
    if bridged and ga.size:
        first = np.array([e[0] for e in bridged])
        owner = np.searchsorted(gb, first, side="right")
        inside = owner < ga.size
        inside[inside] &= ga[owner[inside]] <= first[inside]  # ga/gb may be a subset of groups
        np.add.at(counts, owner[inside], 1)
    # Plain Python columns: building a few thousand records from numpy scalars one field
    # at a time would cost more than all the statistics above.
    columns = (
        index[ga].tolist(), (index[gb - 1] + 1).tolist(), level.tolist(),
        np.where(np.isfinite(quantum), quantum, np.nan).tolist(), conf.tolist(), (gb - ga).tolist(),
        raw_med.tolist(), (raw_sig * slope).tolist(), p_on.tolist(), z.tolist(), assignable.tolist(),
        counts.tolist(), rtn.tolist(), drift.tolist(),
        reasons(a, quantum, assignable, moving, drift, sigma_rs, opt),
    )
    return [
        Plateau(s, e, lev, None if q != q else q, c, n_k, raw, sig, pon, zz, ok, exc, amp, dr, why)
        for s, e, lev, q, c, n_k, raw, sig, pon, zz, ok, exc, amp, dr, why in zip(*columns)
    ]


def reasons(a: lv.LevelAssignment, quantum, assignable, moving, drift, sigma_rs: float, opt: Options) -> list[str]:
    """Why each plateau without a quantum has none (empty for the assigned ones)."""
    out = []
    spread = np.nan_to_num(a.level) ** 2 * G0 * max(sigma_rs, 0.0)
    for k in range(quantum.size):
        lev, near = float(a.level[k]), float(a.nearest[k])
        if quantum[k] == quantum[k]:
            out.append("")
        elif lev != lev:
            out.append("the measured resistance is not above R_s: no corrected level")
        elif moving[k]:
            out.append(f"drifts {drift[k]:+.2f} G0 across the plateau: not a level")
        elif spread[k] > lv.MAX_RS_SPREAD:
            out.append(f"the R_s uncertainty (±{sigma_rs:.1f} ohm) moves this level by {spread[k]:.2f} G0")
        elif near < 0.5:
            out.append("below 0.5 G0 (high-resistance state)")
        elif not a.in_range[k]:
            out.append(f"too noisy to place (±{a.s[k]:.2f} G0)")
        elif not assignable[k]:
            out.append(f"within the noise (±{a.s[k]:.2f} G0) of {near:g} G0, too uncertain to assign")
        else:
            out.append(f"off the grid: {lev - near:+.2f} G0 from {near:g} G0")
    return out


def withheld(p: Plateau, reason: str) -> Plateau:
    return replace(p, quantum=None, confidence=0.0, assignable=False, reason=reason)


def degrade(plateaus: list[Plateau], fit: SeriesFit, estimated: bool) -> tuple[list[Plateau], str]:
    """Withhold the levels an uncertain R_s cannot support, and say why.

    A fit that failed (fit.reason: a single level, no lattice fits) leaves no level. An
    ambiguous fit withholds each level whose quantum differs under the rival R_s; the low
    levels, where R_s hardly matters, keep theirs.
    """
    if estimated and fit.reason:
        return [withheld(p, fit.reason) for p in plateaus], fit.reason
    if estimated and fit.ambiguous:
        alt = rs.correct(np.array([p.raw_level for p in plateaus]), fit.alternative)
        q_alt = np.round(2 * alt) / 2
        why = (f"depends on the choice between R_s = {fit.r_series:.0f} and {fit.alternative:.0f} ohm "
               "(both explain the plateaus about equally)")
        plateaus = [
            withheld(p, why) if p.quantum is not None and q != p.quantum else p
            for p, q in zip(plateaus, q_alt.tolist())
        ]
        if all(p.quantum is None for p in plateaus):
            return plateaus, (f"R_s is ambiguous ({fit.r_series:.0f} or {fit.alternative:.0f} ohm explain the "
                              "plateaus about equally): every level depends on the choice")
    if plateaus and all(p.quantum is None for p in plateaus):
        if all(p.level < 0.25 or not np.isfinite(p.level) for p in plateaus):
            return plateaus, "every plateau is below 0.25 G0 (high-resistance state): no quantum level"
        return plateaus, "no plateau sits on the quantum grid within its uncertainty"
    if not plateaus:
        return plateaus, "no segment lasts long enough to be a plateau"
    return plateaus, ""
