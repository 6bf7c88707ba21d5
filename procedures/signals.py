"""Signals always win, and a lost connection ends a run with one clear sentence.

:class:`RunSignals` (``labqc run``, ``labqc plan run``): the first Ctrl-C (SIGINT) or
SIGTERM raises KeyboardInterrupt in the run, which then turns the outputs off and closes
its file; a watchdog ends the process ``WATCHDOG_S`` after that signal whatever the
connection is doing, saying that the output state is unknown. A second signal ends the
process at once, saying the same. While the runner cleans up (:func:`cleaning`) a
signal raises nothing, so the clean-up is not cut in half; the watchdog still bounds it.
SIGTERM is handled only where the platform has it (Windows has SIGINT and SIGBREAK).
"""
from __future__ import annotations

import os
import signal
import sys
import threading
from datetime import datetime
from typing import Any

#: Seconds from the first signal to the end of the process at the latest.
WATCHDOG_S = 9.0
#: Exit status of a run that lost its connection and turned the output off on reconnecting.
EXIT_CONNECTION_LOST = 3
#: Exit status of a run that ended without the output confirmed off (check the instrument).
EXIT_OUTPUT_UNKNOWN = 4

_cleaning = threading.Event()


def _signals() -> list[int]:
    return [getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGBREAK") if hasattr(signal, name)]


class RunSignals:
    """Install for the duration of a run (a context manager); ``received`` is the first
    signal's number, or None."""

    def __init__(self, watchdog_s: float = WATCHDOG_S) -> None:
        self.received: int | None = None
        self.watchdog_s = watchdog_s
        self._old: dict[int, Any] = {}
        self._timer: threading.Timer | None = None

    def __enter__(self) -> "RunSignals":
        for sig in _signals():
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except (OSError, ValueError):  # not the main thread, or not settable here
                pass
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received is not None:
            _hard_exit(signum, f"second {_name(signum)}: ending at once")
        self.received = signum
        self._timer = threading.Timer(self.watchdog_s, _hard_exit,
                                      (signum, f"the run did not end within {self.watchdog_s:g} s of {_name(signum)}"))
        self._timer.daemon = True
        self._timer.start()
        if not _cleaning.is_set():
            raise KeyboardInterrupt

    def __exit__(self, *exc) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for sig, old in self._old.items():
            signal.signal(sig, old)


def _name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _hard_exit(signum: int, why: str) -> None:
    """End the process now: the output state is unknown (rows already written are on disk)."""
    try:
        sys.stderr.write(f"labqc: {why}; the output state is unknown: check the instrument and "
                         f"switch its output off there (rows already written are on disk)\n")
        sys.stderr.flush()
    finally:
        os._exit(128 + signum)


def lost_sentence(resource: str, lost_at: datetime, rows: int, off: bool, reconnected: bool) -> str:
    """The one line that ends a run whose connection dropped."""
    head = f"connection to {resource} lost at {lost_at:%H:%M:%S} after {rows} rows"
    if off:
        return f"{head}; {'reconnected; ' if reconnected else ''}output off"
    return f"{head}; could not reconnect; the output may still be on: switch it off at the instrument"


def cleaning(on: bool) -> None:
    """Mark the runner's clean-up (outputs off, file closed) as under way or over."""
    (_cleaning.set if on else _cleaning.clear)()
