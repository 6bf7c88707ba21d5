"""Where a :class:`~labqc.instruments.smu.PulseTrain` runs on the 4200A-SCS, and how.

The 4225-PMU has no current limit: its fixed current range only measures (overflow is a
status bit), so a train's compliance is honoured on the PMU only when the circuit itself
bounds the current below it: the PMU's 50 ohm output and the series load the user states
(docs/keithley4200a.md, "What the driver does"). Otherwise a train slow enough for an SMU
runs there as a system-mode list sweep, whose compliance is a real limit; anything else
is refused.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labqc.instruments.smu import KIND_PULSE, KIND_READ, PulseTrain

PMU_SOURCE_OHMS = 50.0  # the PMU's output impedance
PMU_DEFAULT_LOAD = 1e6  # ohm, :PMU:LOAD after :PMU:INIT
PMU_LOAD_RANGE = (1.0, 1e7)  # ohm, what :PMU:LOAD accepts
PMU_RANGE_VOLTS = 10.0  # the source range labqc uses
SMU_MIN_STEP = 2.5e-3  # s, the shortest step labqc asks of a system-mode sweep


def peak_volts(p: PulseTrain) -> float:
    levels = [p.amplitudes, [p.base]] + ([p.read_levels] if p.read_levels is not None else [])
    return float(np.max(np.abs(np.concatenate(levels))))


def pmu_current_bound(p: PulseTrain, load: float | None, llec: bool = False) -> float:
    """The largest current the PMU can drive through the device, shorted, in amps.

    The PMU sets its open-circuit voltage for the load it is told, ``V (50 + L)/L``, and
    that voltage sees 50 ohm plus the stated series load ``R``: with ``L = R`` stated the
    bound is ``V/R``; with none, ``V (50 + 1 Mohm)/(1 Mohm x 50)``. LLEC raises the
    open-circuit voltage up to the range's 10 V whatever the load, so its bound is
    ``10 V/(50 + R)``."""
    series = load or 0.0
    if llec:
        return PMU_RANGE_VOLTS / (PMU_SOURCE_OHMS + series)
    told = load or PMU_DEFAULT_LOAD
    v_open = peak_volts(p) * (PMU_SOURCE_OHMS + told) / told
    return v_open / (PMU_SOURCE_OHMS + series)


def pmu_honours(p: PulseTrain, load: float | None, llec: bool = False) -> bool:
    """True when the circuit keeps the current at or below the train's compliance."""
    return pmu_current_bound(p, load, llec) <= p.compliance * (1 + 1e-9)


@dataclass(frozen=True)
class SmuPlan:
    """A pulse train as a list sweep: one level per step of ``step`` s; ``keep`` marks the
    steps whose reading is reported (the pulse, and the last step of each read), with
    their ``kind`` and pulse number ``pulse``."""

    levels: np.ndarray
    step: float
    keep: np.ndarray  # bool per step
    kind: np.ndarray  # KIND_* per step (meaningful where keep)
    pulse: np.ndarray  # pulse number per step


def _whole(x: float, step: float) -> int | None:
    n = round(x / step)
    return n if n >= 0 and abs(n * step - x) <= 1e-9 * max(step, x) else None


def smu_plan(p: PulseTrain, min_step: float = SMU_MIN_STEP) -> SmuPlan | None:
    """The train as steps of its pulse width: pulse, gap at base, read at the end of the
    period (as in Segment Arb); None when the width is below ``min_step`` or the read and
    the gap are not whole multiples of the width."""
    step = p.width
    if step < min_step * (1 - 1e-9):
        return None
    n_read = 0 if p.read_levels is None else _whole(p.read_width, step)
    gap = p.period - p.width - (p.read_width if p.read_levels is not None else 0.0)
    n_gap = _whole(gap, step)
    if n_read is None or n_gap is None or (p.read_levels is not None and n_read < 1):
        return None
    per = 1 + n_gap + n_read
    count = p.count
    levels = np.full((count, per), float(p.base))
    levels[:, 0] = p.amplitudes
    kind = np.full((count, per), KIND_PULSE, dtype=np.int8)
    keep = np.zeros((count, per), dtype=bool)
    keep[:, 0] = True
    if n_read:
        levels[:, 1 + n_gap:] = p.read_levels[:, None]
        kind[:, -1] = KIND_READ
        keep[:, -1] = True
    pulse = np.repeat(np.arange(count), per)
    return SmuPlan(levels.ravel(), step, keep.ravel(), kind.ravel(), pulse)
