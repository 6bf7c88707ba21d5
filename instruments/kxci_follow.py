"""Following a running 4200A test, and the timestamps the driver hands out.

:class:`RunFollower` is the part of a :class:`~labqc.instruments.keithley4200a.Keithley4200A`
session that the operation modules (keithley4200a.py, kxci_sampling.py, kxci_pulses.py)
share: the last timestamp handed out (so ``t`` never goes back across tests) and the loop
that polls a running test, fetching its readings as they come (docs/keithley4200a.md).
"""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from labqc.instruments.errors import InstrumentReportedError, InstrumentTimeout
from labqc.instruments.kxci_capabilities import CHUNK_SECONDS, STOP_SECONDS
from labqc.instruments.kxci_session import KXCI
from labqc.instruments.smu import empty_chunk


class RunFollower:
    """The timestamps and test-following of one KXCI session.

    ``t_last``: the last timestamp handed out (instrument s). ``live``: read data while a
    test runs; set False once this KXCI refuses it (-980), after which readings come at
    the end of each test.
    """

    def __init__(self, kxci: KXCI) -> None:
        self.kxci = kxci
        self.t_last = 0.0
        self.live = True

    def stamp(self, t: float) -> float:
        """Keep handed-out times monotonic within the session: ``t``, or the last one if later."""
        self.t_last = max(self.t_last, float(t))
        return self.t_last

    def start(self) -> float:
        """The time a test started now counts from: the session clock, never before ``t_last``."""
        return max(self.kxci.clock(), self.t_last)

    def follow(self, expected: float, busy: Callable[[], bool],
               fetch: Callable[[bool], np.ndarray | None]) -> Iterator[np.ndarray]:
        """Follow a running test that needs ``expected`` s, yielding its readings as they come.

        Idle, then poll ``busy()`` with idles of at most :data:`STOP_SECONDS` between polls.
        Every ``interval`` of instrument time (1 s, or a sixteenth of a long test, so that
        re-reading a growing buffer stays cheap) ``fetch(final=False)`` returns the readings
        taken since the last fetch; once the test is done ``fetch(final=True)`` returns the
        rest. Between fetches an empty chunk is yielded at least every STOP_SECONDS, so a
        caller can stop (and so abort) within one poll however long the test is. If this
        KXCI refuses data transfers during a test (-980), the readings come at the end
        instead. Gives up with InstrumentTimeout (and a device clear) when the test runs
        far over.
        """
        k = self.kxci
        interval = max(CHUNK_SECONDS, expected / 16)
        poll = min(STOP_SECONDS, max(0.005, 0.02 * expected))
        t_start = k.clock()
        give_up = t_start + expected + 10.0 + k.timeout
        next_fetch = t_start + interval
        last_yield = t_start
        k.idle(min(expected, interval, STOP_SECONDS))
        while True:
            running = busy()
            if not running or (self.live and k.clock() >= next_fetch):
                try:
                    chunk = fetch(not running)
                except InstrumentReportedError as exc:
                    if exc.code != -980 or not running:
                        raise
                    self.live = False  # "not valid during test execution": read at the end
                    chunk = None
                if chunk is not None and len(chunk):
                    last_yield = k.clock()
                    yield chunk
                next_fetch = k.clock() + interval
            if not running:
                return
            if k.clock() > give_up:
                k.device_clear()  # whatever holds the instrument up, stop it and resynchronise
                raise InstrumentTimeout(f"the 4200A is still busy {expected + 10 + k.timeout:g} s after a "
                                        f"{expected:g} s operation began")
            if k.clock() - last_yield >= STOP_SECONDS * (1 - 1e-9):
                last_yield = k.clock()
                yield empty_chunk(0)  # the caller may stop here
            left = t_start + expected - k.clock()
            k.idle(min(interval, left, STOP_SECONDS) if left > poll else poll)
