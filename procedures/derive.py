"""Per-run derived numbers the procedures put in their summaries: switching voltages
(first current jump), resistance from a read, quantum levels visited, pulse statistics.

Small pure numpy functions of the rows a procedure has just measured; the full
plateau analysis lives in the core (labqc), this is what a run reports at its end.
"""
from __future__ import annotations

import math

import numpy as np

from labqc.quantity import format_quantity
from labqc.units import G0


def first_jump(v: np.ndarray, i: np.ndarray, *, up: bool = True, ratio: float = 2.0,
               floor: float = 1e-7, compliance: np.ndarray | None = None) -> float:
    """The source voltage of the first abrupt change of conductance along a ramp.

    Conductance rather than current, so that an ohmic rise is no jump. ``up=True`` (SET):
    the first point where G = I/V grows by ``ratio`` or more over the previous point
    while |I| grows by more than ``floor`` A, or where the limit first takes over.
    ``up=False`` (RESET): the first point where G falls to 1/``ratio`` or less of the
    previous point (from a current above ``floor``). NaN if there is none.
    """
    v = np.asarray(v, dtype=float)
    a = np.abs(np.asarray(i, dtype=float))
    if len(a) < 2:
        return math.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(v != 0, a / np.abs(v), np.nan)
    g_prev, g_cur = g[:-1], g[1:]
    valid = np.isfinite(g_prev) & np.isfinite(g_cur)
    if up:
        jump = valid & (g_cur >= ratio * g_prev) & (a[1:] - a[:-1] > floor)
        if compliance is not None:
            jump |= np.asarray(compliance, dtype=bool)[1:]
    else:
        jump = valid & (g_cur * ratio <= g_prev) & (a[:-1] > floor)
    hits = np.flatnonzero(jump)
    return float(v[hits[0] + 1]) if len(hits) else math.nan


def half_ramp(levels: np.ndarray) -> slice:
    """The outgoing half of a 0 -> peak -> 0 triangle: indices up to the peak."""
    levels = np.asarray(levels, dtype=float)
    if len(levels) == 0:
        return slice(0, 0)
    return slice(0, int(np.argmax(np.abs(levels))) + 1)


def resistance(v: float, i: float) -> float:
    """R = V/I in ohm; inf for no current."""
    return float(v / i) if i != 0 else math.inf


def levels_visited(g_g0: np.ndarray, *, step: float = 0.5, min_points: int = 5,
                   g_max: float = 25.0) -> list[float]:
    """Quantum levels (multiples of ``step`` G0) on which at least ``min_points``
    readings sit within a quarter step, from 0.5 G0 up to ``g_max`` G0."""
    return [level for level, n in level_counts(g_g0, step=step, g_max=g_max).items() if n >= min_points]


def level_counts(g_g0: np.ndarray, *, step: float = 0.5, g_max: float = 25.0) -> dict[float, int]:
    """Readings within a quarter step of each quantum level (multiples of ``step`` G0, from
    0.5 G0 up to ``g_max``), by level in increasing order; counts add up chunk by chunk."""
    g = np.asarray(g_g0, dtype=float)
    g = g[np.isfinite(g) & (g >= step * 0.75) & (g <= g_max)]
    if g.size == 0:
        return {}
    nearest = np.round(g / step)
    close = np.abs(g / step - nearest) <= 0.25
    if g.size <= 16:  # a slow retention's one-reading chunks: np.unique would cost more than the rest
        found = sorted(nearest[close].tolist())
        return {float(v * step): found.count(v) for v in sorted(set(found))}
    values, counts = np.unique(nearest[close], return_counts=True)
    return {float(v * step): int(c) for v, c in zip(values, counts)}


def g_over_g0(v: float, i: float) -> float:
    return float(i / v / G0) if v != 0 else math.nan


def count_steps(g_g0: np.ndarray, *, min_step: float = 0.4, window: int = 3) -> int:
    """Upward steps in a staircase G/G0 trace: changes of at least ``min_step`` G0
    between the medians of consecutive ``window``-point blocks."""
    g = np.asarray(g_g0, dtype=float)
    g = g[np.isfinite(g)]
    n = len(g) // window
    if n < 2:
        return 0
    medians = np.median(g[: n * window].reshape(n, window), axis=1)
    return int(np.sum(np.diff(medians) >= min_step))


def finite_or_none(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def nanmax(values) -> float:
    """Largest finite value, NaN if there is none."""
    a = np.asarray(list(values), dtype=float)
    a = a[np.isfinite(a)]
    return float(a.max()) if a.size else math.nan


def nanmedian(values) -> float:
    """Median of the finite values, NaN if there is none."""
    a = np.asarray(list(values), dtype=float)
    a = a[np.isfinite(a)]
    return float(np.median(a)) if a.size else math.nan


def levels_text(levels) -> str:
    """Quantum levels for a summary line: "1, 1.5, 2 G0", or "none" (not "none G0")."""
    return ", ".join(f"{lv:g}" for lv in levels) + " G0" if len(levels) else "none"


def fmt(x, digits: int = 3, unit: str = "", suffix: str = "") -> str:
    """A number for a summary line; "n/a" for None/NaN. With a ``unit`` the value is in
    that unit and is written with its SI prefix (``fmt(0.00403, unit="A")`` is "4.03 mA"),
    through labqc.quantity like every value labqc shows. ``suffix`` (" V", " G0") follows
    a number but not "n/a", so a missing value does not read "n/a V"."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    if unit:
        return format_quantity(float(x), unit, digits)
    return f"{x:.{digits}g}{suffix}"
