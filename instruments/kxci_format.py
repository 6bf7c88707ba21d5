"""KXCI text on the wire: numbers out (12-character fields) and replies in (status letters,
DO lists, PMU data points, error strings). Pure functions, no I/O.

The formats, and which sources confirm them, are in docs/keithley4200a.md.
"""
from __future__ import annotations

import re

import numpy as np

from labqc.instruments.errors import ProtocolError

#: KXCI reads at most 12 characters per numeric field, with at most 2 exponent digits.
MAX_FIELD = 12

# --- numbers out ----------------------------------------------------------------------


def num(x: float) -> str:
    """``x`` as a KXCI numeric field: ``%.6g`` (fewer digits if needed), <= 12 characters.

    Python's ``repr`` can give 17 significant digits and 3-digit exponents; KXCI rejects both.
    Values smaller in magnitude than 1e-99 are sent as 0.
    """
    x = float(x)
    if not np.isfinite(x):
        raise ValueError(f"cannot send {x!r} to the 4200A: numbers must be finite")
    if x == 0 or abs(x) < 1e-99:
        return "0"
    for digits in (6, 5, 4, 3):
        text = "%.*g" % (digits, x)
        mantissa, _, exponent = text.partition("e")
        if len(text) <= MAX_FIELD and len(exponent.lstrip("+-")) <= 2:
            return text
    raise ValueError(f"{x!r} does not fit a 12-character KXCI field with a 2-digit exponent")


def nums(values) -> str:
    """A comma-separated list of KXCI numeric fields."""
    return ",".join(num(v) for v in np.asarray(values, dtype=float).ravel())


# --- replies in -----------------------------------------------------------------------

_SPOT = re.compile(r"^\s*([A-Z])([A-Z])([VI])\s*([-+0-9.Ee]+)\s*$")
_ERROR = re.compile(r"^(.*?)\s*\((-?\d+)\)\s*$", re.S)

#: Status letters of TV/TI and DO items. Only C means the channel's own limit was in control.
STATUS = {
    "N": "normal",
    "C": "this channel in compliance",
    "T": "another channel in compliance",
    "V": "overflow (A/D saturated)",
    "X": "oscillation",
    "L": "interval too short",
}


def clean(reply: str) -> str:
    """Strip what KCon terminators and NUL framing leave around a reply."""
    return reply.strip().strip("\0").strip()


def parse_spot(reply: str) -> tuple[float, bool, str]:
    """A user-mode ``TV``/``TI`` reply such as ``NAI 22.329E-09`` or ``CAI1.0E-4``.

    Returns (value, compliance, status letter). ``compliance`` is True for ``C``.
    """
    m = _SPOT.match(clean(reply))
    if not m:
        raise ProtocolError(f"the 4200A answered a TV/TI query with {reply!r}, not a reading")
    status, _channel, _quantity, value = m.groups()
    try:
        return float(value), status == "C", status
    except ValueError:
        raise ProtocolError(f"the 4200A sent an unreadable number in {reply!r}") from None


#: Deletes the status letters (every upper-case letter but the exponent's E).
_NO_LETTERS = str.maketrans("", "", "ABCDFGHIJKLMNOPQRSTUVWXYZ")


def do_items(reply: str) -> list[str]:
    """The items of a ``DO 'name'`` reply (``N 4.3555E-15,C1.0E-4,...``), not yet parsed.

    A running test's buffer is re-read as it grows; splitting is cheap, so callers parse
    only the items they have not seen (:func:`parse_items`)."""
    text = clean(reply)
    return text.split(",") if text else []


def parse_items(items: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Values and compliance flags (status letter ``C``) of DO items; items without a
    letter (timestamps) count as normal."""
    if not items:
        return np.zeros(0), np.zeros(0, dtype=bool)
    flags = np.array([item.lstrip()[:1] == "C" for item in items])
    numbers = ",".join(items).translate(_NO_LETTERS).split(",")
    try:
        values = np.array(numbers, dtype=float)
    except ValueError:
        bad = next(k for k, x in enumerate(numbers) if not _is_float(x))
        raise ProtocolError(f"item {bad} of a DO reply is {items[bad]!r}, not a reading") from None
    return values, flags


def parse_do(reply: str, expected: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A whole ``DO 'name'`` reply as (values, compliance flags); ``expected``: the number
    of readings the test made, checked when given."""
    items = do_items(reply)
    if expected is not None and len(items) != expected:
        raise ProtocolError(f"a DO reply held {len(items)} readings where the test made {expected}")
    return parse_items(items)


def _is_float(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def parse_error(reply: str) -> tuple[int, str]:
    """A ``:ERROR:LAST:GET`` reply ``<message> (<code>)`` as (code, message); an empty
    reply (no error) gives (0, "")."""
    text = clean(reply)
    m = _ERROR.match(text)
    if not m:
        return 0, text
    return int(m.group(2)), m.group(1).strip()


def parse_int(reply: str, what: str) -> int:
    """An integer reply (``SP``, ``:PMU:TEST:STATUS?``, ``:PMU:DATA:COUNT?``)."""
    text = clean(reply)
    try:
        return int(float(text))
    except ValueError:
        raise ProtocolError(f"the 4200A answered {what} with {reply!r}, not an integer") from None


def parse_pmu_points(reply: str, status_columns: tuple[int, ...]) -> np.ndarray:
    """A ``:PMU:DATA:GET`` reply: points separated by ``;``, values by ``,``; the values at
    ``status_columns`` are status words in hex (e.g. ``01020021``), the rest decimal.

    Returns a float array of shape (points, values per point); status words are exact in
    float64. Spot-mean points are ``V,I,T,S`` or ``VH,IH,TH,SH,VL,IL,TL,SL``.
    """
    text = clean(reply).rstrip(";")
    points = [p for p in text.split(";") if p.strip()] if text else []
    if not points:
        return np.empty((0, 0))
    width = points[0].count(",") + 1
    out = np.empty((len(points), width))
    for k, point in enumerate(points):
        parts = point.split(",")
        if len(parts) != width:
            raise ProtocolError(f"PMU point {k} is {point!r}: expected {width} values like the first")
        try:
            out[k] = [int(p.strip(), 16) if c in status_columns else float(p) for c, p in enumerate(parts)]
        except ValueError:
            raise ProtocolError(f"PMU point {k} is {point!r}, which is not numbers and a hex status") from None
    return out


# --- the PMU status word (docs/keithley4200a.md, PMU) ---------------------------------------

PMU_LIMIT_SHIFT = 12  # bits 12-15: 1 source compliance, 2 I threshold, 4 V threshold, 8 power threshold
PMU_SOURCE_COMPLIANCE = 0x1
PMU_I_THRESHOLD = 0x2
PMU_POWER_THRESHOLD = 0x8


def pmu_limit_bits(status: np.ndarray) -> np.ndarray:
    """Bits 12-15 of each status word (0 when no limit acted)."""
    return (np.asarray(status, dtype=np.int64) >> PMU_LIMIT_SHIFT) & 0xF


def pmu_compliance(status: np.ndarray) -> np.ndarray:
    """True where the status word reports source compliance, the current threshold or the
    power threshold (bits 12, 13 and 15), as the PMU's own test modules set them; KXCI's own tests set none,
    and none of them holds the current (docs/keithley4200a.md). The voltage threshold (bit 14)
    does not count."""
    bits = pmu_limit_bits(status)
    return (bits & (PMU_SOURCE_COMPLIANCE | PMU_I_THRESHOLD | PMU_POWER_THRESHOLD)) != 0


def pmu_overflow(status: np.ndarray) -> np.ndarray:
    """True where the V (bits 8-9) or I (bits 10-11) measurement overflowed its range."""
    return ((np.asarray(status, dtype=np.int64) >> 8) & 0xF) != 0


def pmu_v_overflow(status: np.ndarray) -> np.ndarray:
    """True where the voltage measurement overflowed its range (bits 8-9)."""
    return ((np.asarray(status, dtype=np.int64) >> 8) & 0x3) != 0


def pmu_i_overflow(status: np.ndarray) -> np.ndarray:
    """True where the current measurement overflowed its range (bits 10-11)."""
    return ((np.asarray(status, dtype=np.int64) >> 10) & 0x3) != 0
