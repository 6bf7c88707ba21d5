"""Resolution advice: can this range, NPLC and read voltage tell 0.5 G0 steps apart?

A half-quantum step at a read voltage V is a current step of 0.5·G0·V (3.9 µA at 0.1 V,
0.39 µA at 10 mV). The instrument's floor on a current range is the offset term of its
published current-measurement accuracy on that range (the figure that does not shrink
with the reading). It holds at 1 PLC; a shorter integration sees more white noise, so
below 1 PLC the floor grows as sqrt(1/NPLC) (the same white-noise model the simulator's
read noise uses, labqc/instruments/sim/noise.py). Longer integration is not credited:
the offset is a calibration figure, not noise.

A step counts as resolvable when it is at least :data:`RESOLVE_FACTOR` floors high:
then the +-floor bands of two neighbouring half-quantum levels stay apart with a floor
to spare.

With autorange the instrument reads each level on the smallest range that holds it, so
the worst case is the highest level wanted (:data:`TOP_LEVEL`, the papers' 25 G0, or the
compliance when that is lower); with a fixed measure range it is that range.

Pure numbers in, an :class:`Advice` out: no instrument, no I/O.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from labqc.quantity import format_quantity
from labqc.units import G0

#: A step must be this many floors high to count as resolved.
RESOLVE_FACTOR = 3.0
#: Highest level the analysis looks at (G0); above it transport is diffusive.
TOP_LEVEL = 25.0
#: NPLC values the advice tries, shortest first.
NPLC_LADDER = (0.01, 0.1, 1.0)
#: Read voltages the advice tries (V), lowest first; reads above ~0.1 V can disturb the state.
VOLTAGE_LADDER = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5)

#: Current range (A) -> offset of the 1-year current-measurement accuracy (A), at 1 PLC.
#: 2611B/2612B/2614B (2600B datasheet, "current measurement accuracy"); the 1 uA figure
#: (0.025 % + 500 pA) is the one the 2600B reference manual's calibration table checks
#: (0.9 uA read within 0.89928-0.90073 uA), see docs/resolution.md.
FLOORS_2614B: dict[float, float] = {
    100e-9: 100e-12, 1e-6: 500e-12, 10e-6: 1.5e-9, 100e-6: 25e-9, 1e-3: 200e-9,
    10e-3: 2.5e-6, 100e-3: 20e-6, 1.0: 1.5e-3, 1.5: 3.5e-3,
}
#: 4200-SMU (medium power, no preamp): offsets of 3e-5 of full scale per range, as the
#: 4200-SMU datasheet's current accuracy table gives them (not yet checked against a
#: second source, see docs/resolution.md).
FLOORS_4200A: dict[float, float] = {
    100e-9: 3e-12, 1e-6: 30e-12, 10e-6: 300e-12, 100e-6: 3e-9, 1e-3: 30e-9, 10e-3: 300e-9, 100e-3: 3e-6,
}
FLOORS: dict[str, dict[float, float]] = {"2614B": FLOORS_2614B, "4200A": FLOORS_4200A}


@dataclass(frozen=True)
class Advice:
    """Whether 0.5 G0 steps are resolvable at one read setting, and what would make them so."""

    model: str
    voltage: float  # V, the read voltage
    nplc: float
    current_range: float  # A, the range the top level is read on
    step: float  # A, the current step of 0.5 G0 at this voltage
    floor: float  # A, the instrument's floor on that range at this NPLC
    resolvable: bool
    suggestions: tuple[str, ...] = field(default_factory=tuple)
    label: str = ""  # which part of a procedure this is (e.g. "verify read")

    @property
    def margin(self) -> float:
        """Step height in floors (>= RESOLVE_FACTOR when resolvable)."""
        return self.step / self.floor if self.floor > 0 else math.inf

    def sentence(self) -> str:
        where = f"{self.label}: " if self.label else ""
        head = (f"{where}0.5 G0 at {_si(self.voltage, 'V')} is {_si(self.step, 'A')}; the {self.model} floor on the "
                f"{_si(self.current_range, 'A')} range at NPLC {self.nplc:g} is {_si(self.floor, 'A')} "
                f"({self.margin:.1f}x)")
        if self.resolvable:
            return f"{head}: 0.5 G0 steps are resolvable"
        fix = f"; {self.suggestions[0]}" if self.suggestions else "; no setting tried resolves them"
        return f"{head}: 0.5 G0 steps are NOT resolvable{fix}"


def floor_of(model: str, current_range: float, nplc: float) -> float:
    """The instrument's current floor (A) on ``current_range`` at ``nplc``."""
    table = _table(model)
    rng = _range_holding(table, current_range)
    return table[rng] * math.sqrt(1.0 / min(nplc, 1.0)) if nplc > 0 else math.inf


def range_for(model: str, current: float) -> float:
    """The smallest current range of ``model`` that holds ``current`` (A)."""
    return _range_holding(_table(model), abs(current))


def advise(model: str, voltage: float, nplc: float, *, measure_range: float | None = None,
           compliance: float | None = None, top_level: float = TOP_LEVEL, label: str = "") -> Advice:
    """Advice for reading at ``voltage`` V and ``nplc``: fixed ``measure_range`` (A), or
    autorange (None) bounded by ``compliance`` (A) and ``top_level`` (G0)."""
    if not (math.isfinite(voltage) and voltage != 0):
        raise ValueError(f"the read voltage must be a finite value other than 0 V, got {voltage!r}")
    rng = _reading_range(model, voltage, measure_range, compliance, top_level)
    step = 0.5 * G0 * abs(voltage)
    floor = floor_of(model, rng, nplc)
    ok = step >= RESOLVE_FACTOR * floor
    tips = () if ok else tuple(_suggest(model, voltage, nplc, measure_range, compliance, top_level))
    return Advice(model, float(voltage), float(nplc), rng, step, floor, ok, tips, label)


def _reading_range(model: str, voltage: float, measure_range: float | None,
                   compliance: float | None, top_level: float) -> float:
    if measure_range is not None:
        return range_for(model, measure_range)
    top = top_level * G0 * abs(voltage)
    if compliance is not None and compliance > 0:
        top = min(top, compliance)
    return range_for(model, top)


def _suggest(model: str, voltage: float, nplc: float, measure_range: float | None,
             compliance: float | None, top_level: float) -> list[str]:
    """Settings that would resolve 0.5 G0, the least disturbing change first."""
    out: list[str] = []
    for n in NPLC_LADDER:  # slower integration on the same range
        if n > nplc and _ok(model, voltage, n, measure_range, compliance, top_level):
            out.append(f"NPLC {n:g} would resolve them")
            break
    # a fixed lower range, giving up the levels above what it holds
    now = _reading_range(model, voltage, measure_range, compliance, top_level)
    for rng in sorted(_table(model), reverse=True):  # the highest range that works holds most levels
        if rng >= now or 0.5 * G0 * abs(voltage) < RESOLVE_FACTOR * floor_of(model, rng, nplc):
            continue
        most = rng / (G0 * abs(voltage))
        if most >= 1.0:
            out.append(f"a fixed {_si(rng, 'A')} measure range would (it holds levels up to "
                       f"{most:.3g} G0 at {_si(voltage, 'V')})")
        break
    sign = 1.0 if voltage > 0 else -1.0
    for v in VOLTAGE_LADDER:  # a higher read voltage, same NPLC
        if v > abs(voltage) and _ok(model, sign * v, nplc, measure_range, compliance, top_level):
            out.append(f"a read at {_si(sign * v, 'V')} would (check that it does not disturb the state)")
            break
    return out


def _ok(model: str, voltage: float, nplc: float, measure_range: float | None,
        compliance: float | None, top_level: float) -> bool:
    rng = _reading_range(model, voltage, measure_range, compliance, top_level)
    return 0.5 * G0 * abs(voltage) >= RESOLVE_FACTOR * floor_of(model, rng, nplc)


def _table(model: str) -> dict[float, float]:
    key = "4200A" if "4200" in model else "2614B" if "26" in model else model
    if key not in FLOORS:
        raise ValueError(f"no noise-floor figures for the model {model!r}; known: {', '.join(FLOORS)}")
    return FLOORS[key]


def _range_holding(table: dict[float, float], current: float) -> float:
    ranges = sorted(table)
    for rng in ranges:
        if current <= rng * (1 + 1e-9):
            return rng
    return ranges[-1]


def _si(x: float, unit: str) -> str:
    """A figure of the advice with its SI prefix (3.87 µA, 10 mV), as every value labqc shows."""
    return format_quantity(x, unit, digits=3)


__all__ = ["Advice", "advise", "floor_of", "range_for", "FLOORS", "RESOLVE_FACTOR", "TOP_LEVEL"]
