"""Give memory the dashboard freed back to the system, where the C library allows it.

Rows arrive as many small arrays (one set per chunk, made in the worker thread and freed
in the GUI thread once copied into the store). glibc keeps such freed blocks in its
heaps for reuse and returns them to the system only at the top of a heap, so a streaming
dashboard's resident memory creeps up by what fragmentation holds: ~7-9 MB at 1.2·10⁶
rows (benchmarks/dashboard.py). ``malloc_trim(0)`` hands the free pages back (0.1-0.5 ms
on the GUI thread while 2·10⁴ rows/s stream in). Every 2 s, the benchmark's RSS read
anywhere from 0 to ~6 MB above what a trim leaves; every EVERY_MS that spread is a
fraction of it. Other C libraries (Windows, macOS, musl) have no such call, or do this
themselves: there :func:`give_back` does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

EVERY_MS = 250  # how often the dashboard gives memory back (gui/app.py)


def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


_TRIM = _malloc_trim()


def give_back() -> bool:
    """Return free heap pages to the system; False where the platform cannot."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True


__all__ = ["give_back", "EVERY_MS"]
