"""Reading buffers of the simulated 2614B (``smua.nvbuffer1``, ``smua.makebuffer(n)``) and
the number formatting of ``print``/``printbuffer``.

A buffer keeps its columns in numpy arrays. Overlapped acquisitions (the trigger model,
``measure.overlappedY``) *reserve* indices up front: ``n`` then already reports the index
the last reading will have (docs/keithley2614b.md, "Not verified"), while
``filled`` counts the readings that exist at the instrument's present time. Whoever reads
an index that is reserved but not filled asks the buffer's ``waiter`` to advance the
instrument's time until it is.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

OVERFLOW = 9.91e37  # what the instrument returns for overflow and invalid readings
STATUS_COMPLIANCE = 0x40

COLUMNS = ("readings", "sourcevalues", "timestamps", "statuses")
#: Readings a dedicated buffer holds (docs/keithley2614b.md: > 50 000 with timestamps and source values).
NV_CAPACITY = 100_000
MAX_CAPACITY = 1_000_000


class TSPError(Exception):
    """An instrument error: the message is abandoned and ``code`` goes to the error queue."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def too_big(what: str) -> TSPError:
    return TSPError(1011, f"Parameter too big: {what}")


def too_small(what: str) -> TSPError:
    return TSPError(1012, f"Parameter too small: {what}")


def runtime(message: str) -> TSPError:
    return TSPError(-286, f"TSP Runtime error: {message}")


def lua_number(value, what: str) -> float:
    """A Lua number as a finite float, or the instrument's error."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise runtime(f"{what} must be a number, got {type(value).__name__}")
    x = float(value)
    if math.isnan(x):
        raise runtime(f"{what} is not a number (nan)")
    if math.isinf(x):
        raise too_big(f"{what} = {x}")
    return x


def lua_index(value, what: str) -> int:
    x = lua_number(value, what)
    if x != int(x):
        raise runtime(f"{what} must be a whole number, got {x}")
    return int(x)


class ReadingBuffer:
    """One reading buffer: readings with their source values, timestamps and statuses."""

    def __init__(self, capacity: int, *, dedicated: bool) -> None:
        self.capacity = int(capacity)
        self.dedicated = dedicated
        self.appendmode = 0
        self.collecttimestamps = 1
        self.collectsourcevalues = 0 if dedicated else 1
        self.timestampresolution = 1e-6
        self.cachemode = 1
        #: asks the instrument to advance its time until index ``i`` (1-based) is filled
        self.waiter: Callable[["ReadingBuffer", int], None] | None = None
        #: brings every acquisition up to the instrument's present time
        self.catch_up: Callable[[], None] | None = None
        self.clear()

    # --- storage ---------------------------------------------------------------------
    def clear(self) -> None:
        self._cols = {c: np.zeros(0) for c in COLUMNS}
        self.n = 0  # reserved (what bufferVar.n reports)
        self.filled = 0  # readings that exist now
        self.basetimestamp = 0.0  # instrument seconds of reading 1

    def reserve(self, count: int) -> int:
        """Reserve ``count`` indices for an acquisition; returns the 0-based first index.
        With appendmode off an acquisition starts over at index 1."""
        if not self.appendmode and self.filled == self.n:
            self.clear()
        start = self.n
        if start + count > self.capacity:
            raise TSPError(5042, f"Reading buffer full: {start + count} readings exceed the "
                                 f"capacity of {self.capacity}")
        self.n = start + count
        if len(self._cols["readings"]) < self.n:
            size = max(self.n, 2 * len(self._cols["readings"]), 64)
            for c in COLUMNS:
                grown = np.zeros(size)
                grown[: len(self._cols[c])] = self._cols[c]
                self._cols[c] = grown
        return start

    def store(self, start: int, readings, sourcevalues, times, statuses) -> None:
        """Write readings at 0-based ``start``; ``times`` are absolute instrument seconds."""
        readings = np.asarray(readings, dtype=float)
        stop = start + len(readings)
        if start == 0 and len(readings):
            self.basetimestamp = float(np.asarray(times, dtype=float).flat[0])
        self._cols["readings"][start:stop] = readings
        self._cols["sourcevalues"][start:stop] = sourcevalues
        self._cols["timestamps"][start:stop] = np.asarray(times, dtype=float) - self.basetimestamp
        self._cols["statuses"][start:stop] = statuses
        self.filled = max(self.filled, stop)

    def truncate(self, n: int) -> None:
        """An aborted acquisition: what was not measured is given back."""
        self.n = max(min(self.n, n), self.filled)

    # --- reading ---------------------------------------------------------------------
    def column(self, name: str) -> np.ndarray:
        return self._cols[name][: self.filled]

    def ensure(self, index: int) -> None:
        """Block (in simulated time) until 1-based ``index`` is filled, if it is reserved."""
        if index > self.filled and index <= self.n and self.waiter is not None:
            self.waiter(self, index)

    def values(self, name: str, first: int, last: int) -> np.ndarray:
        """1-based inclusive range of one column; outside 1..n reads 9.91e37 (the overflow value)."""
        idx = np.arange(first, last + 1)
        self.ensure(min(last, self.n))
        out = np.full(idx.shape, OVERFLOW)
        ok = (idx >= 1) & (idx <= self.filled)
        out[ok] = self._cols[name][idx[ok] - 1]
        return out


class BufferColumn:
    """``buf.readings``, ``buf.timestamps`` ...: a 1-based array view for Lua and printbuffer."""

    def __init__(self, buffer: ReadingBuffer, name: str) -> None:
        self.buffer = buffer
        self.name = name

    def lua_get(self, key):
        if key == "n":
            return self.buffer.n
        if isinstance(key, (int, float)) and not isinstance(key, bool):
            i = int(key)
            if i < 1 or i > self.buffer.n or i != key:
                return None  # like indexing past the end of a Lua table
            return float(self.buffer.values(self.name, i, i)[0])
        raise runtime(f"attempt to index a buffer column with {key!r}")

    def lua_len(self) -> int:
        return self.buffer.n

    __len__ = lua_len


class LuaBuffer:
    """The Lua face of a :class:`ReadingBuffer` (``smua.nvbuffer1``, ``mybuf``)."""

    RW = ("appendmode", "collecttimestamps", "collectsourcevalues", "timestampresolution", "cachemode")

    def __init__(self, buffer: ReadingBuffer) -> None:
        self.buffer = buffer
        self._columns = {c: BufferColumn(buffer, c) for c in COLUMNS}

    def lua_get(self, key):
        b = self.buffer
        if key in self._columns:
            if key == "timestamps" and not b.collecttimestamps:
                return None
            if key == "sourcevalues" and not b.collectsourcevalues:
                return None
            return self._columns[key]
        if key == "n":
            return b.n
        if key == "capacity":
            return b.capacity
        if key == "basetimestamp":
            return b.basetimestamp
        if key in self.RW:
            return getattr(b, key)
        if key == "clear":
            return self.clear
        if isinstance(key, (int, float)) and not isinstance(key, bool):
            return self._columns["readings"].lua_get(key)
        raise runtime(f"attempt to index field '{key}' of a reading buffer (a nil value)")

    def lua_set(self, key, value) -> None:
        if key not in self.RW:
            raise runtime(f"cannot set '{key}' of a reading buffer")
        x = lua_number(value, f"buffer.{key}")
        if key == "timestampresolution":
            if x <= 0:
                raise too_small(f"timestampresolution = {x}")
            self.buffer.timestampresolution = x
            return
        if x not in (0, 1):
            raise too_big(f"buffer.{key} = {x}") if x > 1 else too_small(f"buffer.{key} = {x}")
        if key.startswith("collect") and self.buffer.n and getattr(self.buffer, key) != int(x):
            raise TSPError(5043, f"Cannot change {key} of a buffer that holds readings; clear it first")
        setattr(self.buffer, key, int(x))

    def lua_len(self) -> int:
        return self.buffer.n

    __len__ = lua_len

    def clear(self, *_) -> None:
        if self.buffer.catch_up is not None:
            self.buffer.catch_up()
        if self.buffer.filled < self.buffer.n:
            raise TSPError(5044, "Cannot clear a reading buffer while an overlapped operation fills it")
        self.buffer.clear()


def as_column(arg) -> BufferColumn:
    """printbuffer accepts a buffer (its readings) or one of its subtables."""
    if isinstance(arg, LuaBuffer):
        return arg.lua_get("readings")
    if isinstance(arg, BufferColumn):
        return arg
    raise runtime("bad argument to 'printbuffer' (reading buffer expected)")


# --- number formatting ---------------------------------------------------------------------
def format_number(x: float, precision: int) -> str:
    """One number the way TSP ``print`` writes it: ``%.{p-1}e``."""
    return "%.*e" % (max(precision, 1) - 1, float(x))


def format_ascii(values: np.ndarray, precision: int, sep: str = ", ") -> str:
    """Many numbers, vectorised (printbuffer's ASCII form)."""
    if values.size == 0:
        return ""
    flat = values.ravel().tolist()
    # one %-format over a tuple runs in C: several times faster than np.char.mod
    return sep.join(["%%.%de" % (max(precision, 1) - 1)] * len(flat)) % tuple(flat)


def format_binary(values: np.ndarray, real64: bool, little: bool) -> bytes:
    """printbuffer's binary form: ``#0`` then raw IEEE floats (the terminator is added later)."""
    dtype = ("<" if little else ">") + ("f8" if real64 else "f4")
    return b"#0" + np.ascontiguousarray(values.ravel(), dtype=dtype).tobytes()
