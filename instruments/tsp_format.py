"""Text going to a TSP (Lua) instrument and bytes coming back from it.

Pure functions, no I/O, so each one is tested on its own:

- :func:`num` writes a number so that nA-level values survive (``1e-07``, never ``0.000000``);
- :func:`lua_table` builds a long Lua table on the instrument in messages of a few kB;
- :func:`parse_real64_block` reads a ``printbuffer`` reply in ``format.REAL64`` binary;
- :func:`parse_print` reads a TAB-separated ``print(...)`` reply;
- :func:`parse_error` reads one ``errorqueue.next()`` reply.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from labqc.instruments.errors import ProtocolError

#: Buffer status bit set when the limit (compliance) was in control (docs/keithley2614b.md, Readings).
STATUS_COMPLIANCE = 0x40
#: The instrument writes overflow and invalid readings as 9.91e37.
OVERFLOW = 1e37
#: Longest single message we send. The 2600B's input buffer is small and its size is not
#: published; libraries used on hardware send lines of ~700 bytes (50 values), so we stay
#: near that. ``labqc selftest`` sends a message of this length to the instrument.
MAX_MESSAGE_BYTES = 1000
#: Most values in one Lua table literal (what libraries used on hardware send per line).
MAX_TABLE_VALUES = 50


def num(x: float) -> str:
    """A number as TSP text with 9 significant digits: ``num(1e-7) == '1e-07'``.

    ``%f`` (PyMeasure's Keithley2600) turns 1e-7 into 0.000000; ``%.9g`` keeps nV and
    pA resolution on every range and is valid Lua. NaN and infinities are refused.
    """
    value = float(x)
    if not math.isfinite(value):
        raise ValueError(f"cannot send {x!r} to the instrument: not a finite number")
    if value == 0:
        return "0"
    return f"{value:.9g}"


def lua_table(name: str, values: Sequence[float], max_bytes: int = MAX_MESSAGE_BYTES,
              max_values: int = MAX_TABLE_VALUES) -> list[str]:
    """Messages that leave the Lua table ``name`` = ``values`` on the instrument.

    A short list is one message ``name = {a, b, c}``. A long one is built in pieces of at
    most ``max_bytes`` and ``max_values`` values: the first piece creates the table, each
    later piece copies a small table ``_C`` into place at an explicit offset (no ``#`` or
    ``table.getn``, so it runs on the instrument's Lua 5.0 and on newer Lua alike).
    """
    array = np.asarray(values, dtype=float).ravel()
    if array.size == 0:
        raise ValueError(f"the Lua table {name} would be empty")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"cannot send the Lua table {name}: it holds a value that is not a finite number")
    texts = [f"{v:.9g}" for v in array.tolist()]  # as num(), without a check per value
    # Piece boundaries from the running length of "a, b, c": one searchsorted per piece.
    ends = np.cumsum([len(t) + 2 for t in texts])
    budget = max_bytes - len(name) - 80  # room for the copy loop around a later piece
    messages: list[str] = []
    start = 0
    while start < len(texts):
        used = ends[start - 1] if start else 0
        stop = max(int(np.searchsorted(ends, used + budget, side="right")), start + 1)
        stop = min(stop, start + max_values)
        body = ", ".join(texts[start:stop])
        if start == 0:
            messages.append(f"{name} = {{{body}}}")
        else:
            messages.append(f"_C = {{{body}}} for k = 1, {stop - start} do {name}[{start} + k] = _C[k] end")
        start = stop
    return messages


def is_linear(levels: np.ndarray) -> bool:
    """True when ``levels`` is an evenly spaced ramp with a non-zero step (``linearv`` can
    replace ``listv``; a zero-step ramp is avoided because the 2600B may refuse it)."""
    n = len(levels)
    if n < 3 or levels[0] == levels[-1]:
        return False
    ramp = np.linspace(levels[0], levels[-1], n)
    scale = max(float(np.max(np.abs(levels))), 1e-300)
    return bool(np.all(np.abs(levels - ramp) <= 1e-12 * scale))


def real64_block_size(values: int) -> int:
    """Bytes of a REAL64 reply carrying ``values`` numbers: ``#0``, payload, ``\\n``."""
    return 2 + 8 * values + 1


def parse_real64_block(raw: bytes, columns: int) -> np.ndarray:
    """A little-endian REAL64 ``printbuffer`` reply as an (n, columns) float array.

    The reply is ``#0`` + 8-byte floats interleaved per buffer index + ``\\n``. The
    payload may itself contain 0x0A bytes, so the caller reads it by byte count.
    Overflow readings (9.91e37) become NaN.
    """
    if len(raw) < 3 or raw[:2] != b"#0" or raw[-1:] != b"\n":
        head = raw[:12]
        raise ProtocolError(f"expected a binary block '#0...\\n' from printbuffer, got {head!r}... "
                            f"({len(raw)} bytes)")
    payload = raw[2:-1]
    if len(payload) % (8 * columns):
        raise ProtocolError(f"a binary block of {len(payload)} bytes does not hold whole rows of "
                            f"{columns} 8-byte values")
    data = np.frombuffer(payload, dtype="<f8").reshape(-1, columns).copy()
    data[np.abs(data) > OVERFLOW] = np.nan
    return data


def parse_number(text: str) -> float:
    """One number printed by the instrument (``1.23457e-06``); overflow becomes NaN."""
    try:
        value = float(text)
    except ValueError:
        raise ProtocolError(f"expected a number from the instrument, got {text!r}") from None
    return math.nan if abs(value) > OVERFLOW else value


def parse_print(reply: str, count: int) -> list[str]:
    """The ``count`` TAB-separated fields of one ``print(a, b, ...)`` reply."""
    fields = reply.strip("\r\n").split("\t")
    if len(fields) != count:
        raise ProtocolError(f"expected {count} TAB-separated values from print(), got {reply!r}")
    return [f.strip() for f in fields]


def parse_bool(text: str) -> bool:
    if text == "true":
        return True
    if text == "false":
        return False
    raise ProtocolError(f"expected true or false from the instrument, got {text!r}")


def parse_error(reply: str) -> tuple[int, str]:
    """``errorqueue.next()`` → (code, message); code 0 means the queue was empty."""
    fields = reply.strip("\r\n").split("\t")
    if len(fields) < 2:
        raise ProtocolError(f"cannot read an error queue entry from {reply!r}")
    try:
        code = int(round(float(fields[0])))
    except ValueError:
        raise ProtocolError(f"cannot read an error code from {reply!r}") from None
    return code, fields[1].strip()
