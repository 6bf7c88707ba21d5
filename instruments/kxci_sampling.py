"""4200A sampling (a retention) as system-mode sampling tests of bounded length.

A user-mode bias (``DV``) stays on until the host sends the next command, so a host that
dies during a retention would leave the device biased indefinitely. Here every stretch of
bias is a system-mode *sampling* test (a constant channel, ``NR`` readings every ``IN``
seconds after ``WT``; docs/keithley4200a.md, system mode) that the instrument ends by
itself with the SMU in standby (``ST ch,1``), and no test is planned longer than
:data:`TEST_LIMIT`. So a dead host leaves the device biased at most until the running
test's end (<= 30 s).

Readings close together share one test on an even grid: its interval is the smallest gap
among them divided by the smallest whole number that puts every requested instant on the
grid (within ``ON_GRID``), or else the finest grid the readings allow; each instant takes
the grid reading nearest it (at most half that interval away; the timestamps are the
instrument's). The readings between are taken and dropped. A reading far from the one before it
gets a test of its own whose ``WT`` ends at its instant; a gap longer than a test is held
by tests whose one reading is dropped. Between two tests the SMU is in standby for the few
milliseconds the next set-up takes.

Planning (:func:`sampling_tests`) is pure; :func:`run_sampling` talks to the instrument.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

import numpy as np

from labqc.instruments.errors import CapabilityError, ProtocolError
from labqc.instruments.kxci_format import num, parse_items
from labqc.instruments.kxci_messages import msg
from labqc.instruments.smu import KIND_POINT, READING, Sampling

if TYPE_CHECKING:
    from labqc.instruments.keithley4200a import Keithley4200A

#: Longest sampling test (instrument s): the most a dead host leaves the device biased.
TEST_LIMIT = 30.0
#: KXCI's sampling interval ``IN`` (s) and readings per test ``NR`` (docs/keithley4200a.md).
MIN_INTERVAL, MAX_INTERVAL, MAX_READINGS = 0.01, 10.0, 4096
#: A running test's buffer is read only this long after its first reading is due (s): an
#: empty buffer answers nothing, which KXCI reports as an error.
FIRST_MARGIN = 0.2
#: An instant this close to a grid reading is on the grid (s).
ON_GRID = 1e-4


@dataclass(frozen=True)
class SamplingTest:
    """Request readings ``a``..``b-1`` as one test: readings ``picks`` (0-based, one per
    request reading) of ``count`` taken ``interval`` s apart."""

    a: int
    b: int
    interval: float
    picks: np.ndarray

    @property
    def count(self) -> int:
        return int(self.picks[-1]) + 1

    @property
    def span(self) -> float:
        """Instrument s from the test's first reading to its last."""
        return (self.count - 1) * self.interval


def sampling_tests(times: np.ndarray, t_read: float, limit: float = TEST_LIMIT) -> list[SamplingTest]:
    """Group the instants ``times`` (s, increasing) into tests spanning at most half of
    ``limit`` from first to last reading (the other half is room for the ``WT`` before
    the first), with no gap inside a test above ``MAX_INTERVAL``. Raises CapabilityError
    when two instants are closer than one reading (``t_read``) or ``MIN_INTERVAL``."""
    times = np.asarray(times, dtype=float)
    n, span_max = len(times), limit / 2 - t_read
    tests, a = [], 0
    while a < n:
        b = a + 1
        while (b < n and times[b] - times[b - 1] <= MAX_INTERVAL and times[b] - times[a] <= span_max):
            b += 1
        offsets = times[a:b] - times[a]
        finest = max(MIN_INTERVAL, t_read, offsets[-1] / (MAX_READINGS - 1))
        gap = float(np.min(np.diff(offsets))) if b - a > 1 else finest
        if gap < finest * (1 - 1e-9):
            raise CapabilityError(f"The 4200A cannot sample {gap:g} s apart: one reading takes "
                                  f"{t_read:g} s and the sampling interval is at least {MIN_INTERVAL:g} s")
        tests.append(SamplingTest(a, b, *_grid(offsets, gap, finest)))
        a = b
    return tests


def _grid(offsets: np.ndarray, gap: float, finest: float) -> tuple[float, np.ndarray]:
    """(interval, picks): the coarsest gap / m (m = 1, 2, ...) not finer than ``finest``
    that puts every offset on the grid, else the finest such interval."""
    m = 1
    while True:
        interval = gap / m
        picks = np.rint(offsets / interval)
        if np.max(np.abs(picks * interval - offsets)) <= ON_GRID or gap / (m + 1) < finest:
            return interval, picks.astype(np.int64)
        m += 1


def run_sampling(drv: "Keithley4200A", s: Sampling, t_read: float) -> Iterator[np.ndarray]:
    """Run ``s`` as the tests :func:`sampling_tests` plans, streaming the kept readings."""
    plan = sampling_tests(s.times, t_read)  # may refuse before anything is sent
    k, ch = drv.kxci, drv.smu
    k.command(msg("exit_on_compliance", on=False))
    k.command(msg("standby_at_end", ch=ch, on=True))  # standby when each test ends, on the instrument
    k.command(msg("integration", nplc=float(s.nplc)))
    k.command(drv.range_floor_command(s.measure_range if s.source == "V" else None))
    level = float(num(s.level))  # as sent
    start = k.clock()  # the request's time 0
    for test in plan:
        # WT is the last setting sent, so the set-up's own time does not delay the reading.
        while start + float(s.times[test.a]) - k.clock() - t_read > TEST_LIMIT / 2:
            _setup(drv, s, 1, MIN_INTERVAL)  # hold across a long gap; its one reading is dropped
            wait = start + float(s.times[test.a]) - k.clock() - t_read
            yield from _run(drv, s, level, 1, min(wait - TEST_LIMIT / 4, TEST_LIMIT - t_read), t_read, None)
        _setup(drv, s, test.count, test.interval)
        wait = max(start + float(s.times[test.a]) - k.clock() - t_read, 0.0)
        yield from _run(drv, s, level, test.count, wait, t_read + test.span, test)


def _setup(drv: "Keithley4200A", s: Sampling, count: int, interval: float) -> None:
    """DE/SS/SM of one sampling test: our SMU a constant source with its compliance (so the
    limit is set before the test can energise), the others undefined."""
    k, ch = drv.kxci, drv.smu
    mode = 1 if s.source == "V" else 2
    k.command(msg("define_page"))
    k.command(msg("channel", ch=ch, mode=mode, func=3))  # function 3: constant
    for other in drv.smus:
        if other != ch:
            k.command(msg("undefine", ch=other))
    k.command(msg("source_page"))
    k.command(msg("constant", source=s.source, ch=ch, level=float(s.level), compliance=float(s.compliance)))
    k.command(msg("measure_page"))
    k.command(msg("display_list"))
    k.command(msg("list_names", ch=ch))
    k.command(msg("readings", count=int(count)))
    k.command(msg("interval", seconds=float(min(max(interval, MIN_INTERVAL), MAX_INTERVAL))))
    k.checkpoint()


def _run(drv: "Keithley4200A", s: Sampling, level: float, count: int, wait: float, rest: float,
         test: SamplingTest | None) -> Iterator[np.ndarray]:
    """Start the test set up last after ``WT wait`` and follow it (``wait + rest`` s; no
    DO before its first reading: an empty buffer answers nothing); ``test`` None: a hold."""
    k = drv.kxci
    expected = wait + rest
    first = expected - (test.span if test is not None else 0.0)  # when the first reading is due
    k.command(msg("wait_time", seconds=float(wait)))
    k.command(msg("run_page"))
    t0 = drv.follower.start()  # the test's timestamps count from ME1
    k.command(msg("run_test"))
    got = 0

    def fetch(final: bool) -> np.ndarray | None:
        nonlocal got
        if test is None or (not final and k.clock() < t0 + first + FIRST_MARGIN):
            return None
        i_items, v_items, t_items, m = drv.buffer()
        if m > count or (final and m != count):
            raise ProtocolError(f"the sampling test made {m} readings where it has {count}")
        kept = int(np.searchsorted(test.picks, m, side="left"))  # picks taken so far
        rows = test.picks[got:kept]
        i, ci = parse_items([i_items[p] for p in rows])
        v, cv = parse_items([v_items[p] for p in rows])
        stamps, _ = parse_items([t_items[p] for p in rows])
        out = np.zeros(len(rows), dtype=READING)
        out["t"] = np.maximum(t0 + stamps, drv.follower.t_last)
        out["source"], out["v"], out["i"] = level, v, i
        out["compliance"] = ci if s.source == "V" else cv
        out["index"] = np.arange(test.a + got, test.a + kept)
        out["kind"] = KIND_POINT
        if len(rows):
            drv.follower.stamp(out["t"][-1])
        got = kept
        return out

    yield from drv.follower.follow(expected, drv.system_busy, fetch)
