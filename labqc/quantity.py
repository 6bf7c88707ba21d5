"""Numbers with units as people type and read them: ``5mA``, ``400u``, ``1.5 V`` in, and
``5 mA``, ``20 µA`` out.

:func:`parse_quantity` reads a number with an optional SI prefix and unit into a given
unit; :func:`format_quantity` writes a value of a unit back with the prefix that keeps it
short. The command line, the dashboard and run plans all read and show values through
these two, so that a value shown can be typed back as it is.
"""
from __future__ import annotations

import math
import re

PREFIXES = {"p": 1e-12, "n": 1e-9, "u": 1e-6, "µ": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3, "M": 1e6, "G": 1e9}
#: Units a prefix may be put in front of (longest first, so that "V/s" is not read as "s").
BASE_UNITS = ("Ohm", "V/s", "A/s", "G0", "V", "A", "s", "S")
_NUMBER = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(\S*)\s*$")
#: Prefixes format_quantity writes, smallest first; seconds get none above the unit
#: (1000 s reads better than 1 ks next to a duration in seconds).
_WRITE = (("p", 1e-12), ("n", 1e-9), ("µ", 1e-6), ("m", 1e-3), ("", 1.0), ("k", 1e3), ("M", 1e6), ("G", 1e9))


def parse_quantity(text: str, units: str | None = None) -> float:
    """``text`` as a number in ``units``: a plain number is already in ``units``; a
    unit with a prefix is converted (``5mA`` -> 0.005 for "A", 5 for "mA"); a bare prefix
    (``400u``) applies to ``units``' base. ValueError says why it cannot be read."""
    m = _NUMBER.match(text)
    if not m:
        raise ValueError("is not a number")
    value, token = float(m.group(1)), m.group(2)
    if not token or token == units:
        return value
    want_scale, want_base = _split_unit(units or "")
    got = _split_unit(token, implicit_base=want_base)
    if got is None or want_scale is None or got[1] != want_base:
        raise ValueError(f"has a unit I cannot convert to {units or 'a plain number'}")
    return value * got[0] / want_scale


def _split_unit(unit: str, implicit_base: str | None = None) -> tuple[float | None, str | None] | None:
    unit = unit.replace("Ω", "Ohm")
    for base in BASE_UNITS:
        if unit.endswith(base) and unit[: len(unit) - len(base)] in PREFIXES:
            return PREFIXES[unit[: len(unit) - len(base)]], base
    if unit in PREFIXES:  # a bare prefix ("5m"): the parameter's own base unit
        return PREFIXES[unit], implicit_base if implicit_base is not None else ""
    return (None, None) if implicit_base is None else None


def format_quantity(value: float, units: str | None = None, digits: int = 6) -> str:
    """``value`` (in ``units``) as a short text that :func:`parse_quantity` reads back:
    ``0.005, "A"`` -> ``5 mA``, ``2e-05, "A"`` -> ``20 µA``, ``0.1, "V"`` -> ``0.1 V``.
    Values from 0.1 to 10^4 keep the unit as it is; so do units that already carry a
    prefix (``10 mV``) and G0. ``digits``: significant digits at most (3 for a measured
    figure in a message, 6 for a value to type back)."""
    units = units or ""
    text, prefix = _mantissa(value, units, digits)
    return f"{text} {prefix}{units}".rstrip()


def _mantissa(value: float, units: str, digits: int = 6) -> tuple[str, str]:
    plain = _digits(value, digits)
    magnitude = abs(float(plain))  # as rounded: 0.9997 mA at 3 digits is 1 mA, not 1e+03 µA
    if units not in BASE_UNITS or units == "G0" or not math.isfinite(value) or value == 0 \
            or 0.1 <= magnitude < 1e4:
        return plain, ""
    choices = [(p, s) for p, s in _WRITE if not (units == "s" and s > 1)]
    prefix, scale = choices[0]
    for p, s in choices:
        if magnitude >= s:
            prefix, scale = p, s
    return _digits(value / scale, digits), prefix


def _digits(x: float, digits: int) -> str:
    """``x`` to ``digits`` significant digits, but a whole part of up to 6 digits written
    out (12345 s, not 1.23e+04 s)."""
    whole = int(math.floor(math.log10(abs(x)))) + 1 if x and math.isfinite(x) and abs(x) >= 1 else 0
    return f"{x:.{max(digits, min(whole, 6))}g}"


def duration_text(seconds: float) -> str:
    """A duration for people: 42 s, 12.5 min, 7.3 h, 2.1 days."""
    if not math.isfinite(seconds):
        return "?"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


__all__ = ["parse_quantity", "format_quantity", "duration_text", "PREFIXES", "BASE_UNITS"]
