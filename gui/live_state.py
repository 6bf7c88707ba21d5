"""Everything the live views derive from the streamed rows, without Qt.

:class:`LiveState` owns the column store and, as rows arrive, feeds

- the online plateau detector (labqc.online) with measured G/G0 and the dashboard's R_s,
- the G/G0 histogram (labqc.views.Histogram, 0.05 G0 bins) with corrected G/G0,
- per-pulse means (pulse current I_i and G/G0 on the pulse top, read G/G0 after it),
- per-cycle reads split into LRS and HRS by the one rule of labqc.switching (after a SET
  branch LRS, after a RESET branch HRS, otherwise the first read of a cycle LRS),
- the retention samples (Segment "hold").

Detector and histogram work is done in :meth:`LiveState.process` under a sample budget,
so that a large backlog (a file just opened, a new R_s) is caught up over several redraw
ticks instead of blocking the GUI thread.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labqc.gui.stream_buffer import SEGMENT_CODES, Chunk, ColumnStore
from labqc.online import OnlineDetector
from labqc.switching import ReadRoles
from labqc.views import Histogram

PULSE, READ, HOLD = SEGMENT_CODES["pulse"], SEGMENT_CODES["read"], SEGMENT_CODES["hold"]
SET, RESET = SEGMENT_CODES["set"], SEGMENT_CODES["reset"]
MAX_PLATEAUS = 20_000  # drawn segments kept (oldest dropped)


@dataclass
class PlateauMark:
    start: int  # row index in the store
    stop: int | None  # exclusive; None while the plateau is open
    level: float  # corrected G/G0
    quantum: float | None
    confidence: float | None

    @property
    def label(self) -> str:
        if self.quantum is None:
            return f"{self.level:.2f} G0 ({'off-grid' if self.confidence else 'unassigned'})"  # 0: no verdict
        conf = "" if self.confidence is None else f", conf {100 * self.confidence:.0f} %"
        return f"{self.quantum:g} G0{conf}"


class Growing:
    """A growable 1-D float array (values appended at any index, zeros in between)."""

    def __init__(self) -> None:
        self.a = np.zeros(64)

    def add_at(self, index: np.ndarray, weights: np.ndarray) -> None:
        if not index.size:
            return
        top = int(index.max()) + 1
        if top > self.a.size:
            self.a = np.concatenate([self.a, np.zeros(max(top, 2 * self.a.size) - self.a.size)])
        self.a[:top] += np.bincount(index, weights=weights, minlength=top)


class PerIndexMean:
    """Running mean of values grouped by a non-negative integer (pulse or cycle number)."""

    def __init__(self) -> None:
        self.sums, self.counts = Growing(), Growing()

    def add(self, index: np.ndarray, values: np.ndarray) -> None:
        ok = np.isfinite(values) & (index >= 0)
        self.sums.add_at(index[ok].astype(np.int64), values[ok])
        self.counts.add_at(index[ok].astype(np.int64), np.ones(int(ok.sum())))

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(index, mean) of the indices seen so far."""
        n = self.counts.a
        k = np.flatnonzero(n > 0)
        return k.astype(float), self.sums.a[k] / n[k]


class LiveState:
    def __init__(self, r_series: float = 0.0, *, detector_options: dict | None = None) -> None:
        self.detector_options = detector_options or {}
        self.store = ColumnStore(r_series=r_series)
        self.reset(r_series)

    # ------------------------------------------------------------------ set-up
    def reset(self, r_series: float | None = None) -> None:
        """Forget everything (a new run)."""
        if r_series is not None:
            self.store.r_series = float(r_series)
        self.store.clear()
        self.detector = OnlineDetector(self.store.r_series, **self.detector_options)
        self.histogram = Histogram()
        self.plateaus: list[PlateauMark] = []
        self._arrays_key: tuple = ()
        self._closed: tuple[list, list, list] = ([], [], [])  # start, stop, level of all but the last
        self._trimmed = 0
        self._arrays = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))
        self.g_max = 0.0  # largest measured or corrected G/G0 so far (for the y range)
        self.fed_detector = 0
        self.fed_histogram = 0
        self.pulse_current = PerIndexMean()
        self.pulse_read = PerIndexMean()
        self.pulse_g = PerIndexMean()  # G/G0 on the pulse top
        self.lrs, self.hrs = PerIndexMean(), PerIndexMean()
        self.retention_rows: list[np.ndarray] = []
        self.read_roles = ReadRoles()
        self.version = 0  # bumped on every change the views should redraw
        self.finished = False

    @property
    def r_series(self) -> float:
        return self.store.r_series

    def set_series_resistance(self, ohms: float) -> None:
        """New R_s: the corrected column is recomputed, the histogram rebuilt (over the
        next ticks) and the detector uses it for the samples that follow."""
        self.detector.set_series_resistance(ohms)
        self.store.set_series_resistance(ohms)
        if len(self.store):
            self.g_max = max(float(np.nanmax(self.store["g"])), float(np.nanmax(self.store["gc"])))
        self.histogram.clear()
        self.fed_histogram = 0
        self.version += 1

    # ------------------------------------------------------------------ feeding
    def append(self, chunk: Chunk) -> None:
        """New rows (GUI thread): stored, and the cheap per-row views updated."""
        m = len(chunk["t"])
        if not m:
            return
        start = self.store.append(chunk)
        seg, pulse = chunk["segment"], chunk["pulse"]
        gc = self.store["gc"][start:]
        top = max(float(np.nanmax(chunk["g"], initial=0.0)), float(np.nanmax(gc, initial=0.0)))
        self.g_max = max(self.g_max, top)
        is_pulse = (seg == PULSE) & (pulse > 0)
        if is_pulse.any():
            self.pulse_current.add(pulse[is_pulse], chunk["i"][is_pulse])
            self.pulse_g.add(pulse[is_pulse], gc[is_pulse])
        is_read = seg == READ
        if is_read.any():
            with_pulse = is_read & (pulse > 0)
            if with_pulse.any():
                self.pulse_read.add(pulse[with_pulse], gc[with_pulse])
        lrs, hrs = self.read_roles.split(is_read, seg == SET, seg == RESET, chunk["cycle"])
        for target, sel in ((self.lrs, lrs), (self.hrs, hrs)):
            if sel.any():
                target.add(chunk["cycle"][sel].astype(np.int64), gc[sel])
        hold = np.flatnonzero(seg == HOLD)
        if hold.size:
            self.retention_rows.append(hold + start)
        self.version += 1

    def process(self, budget: int = 25_000) -> bool:
        """Feed the detector and the histogram with up to ``budget`` new samples each;
        True if anything changed."""
        n = len(self.store)
        changed = False
        if self.fed_detector < n:
            b = min(n, self.fed_detector + budget)
            events = self.detector.update(self.store["g"][self.fed_detector : b])
            self.fed_detector = b
            self._apply(events)
            changed = True
        if self.fed_histogram < n:
            b = min(n, self.fed_histogram + budget)
            self.histogram.add(self.store["gc"][self.fed_histogram : b])
            self.fed_histogram = b
            changed = True
        if self.finished and self.caught_up and self.plateaus and self.plateaus[-1].stop is None:
            self._apply(self.detector.finish())
            changed = True
        if changed:
            self.version += 1
        return changed

    @property
    def caught_up(self) -> bool:
        n = len(self.store)
        return self.fed_detector >= n and self.fed_histogram >= n

    @property
    def complete(self) -> bool:
        """The stream has ended and everything in it has been processed."""
        return self.finished and self.caught_up and not (self.plateaus and self.plateaus[-1].stop is None)

    def finish(self) -> None:
        """End of the stream: the open plateau is closed once the backlog is processed."""
        self.finished = True

    def _apply(self, events) -> None:
        for ev in events:
            if ev.kind == "plateau_start":
                self.plateaus.append(PlateauMark(ev.index, None, ev.level, ev.quantum, ev.confidence))
            elif ev.kind == "plateau_resume" and self.plateaus:  # the last plateau goes on
                self.plateaus[-1].stop = None
            elif ev.kind == "plateau_end" and self.plateaus and self.plateaus[-1].stop is None:
                p = self.plateaus[-1]
                p.stop, p.level, p.quantum, p.confidence = ev.index, ev.level, ev.quantum, ev.confidence
        if len(self.plateaus) > MAX_PLATEAUS:
            drop = len(self.plateaus) - MAX_PLATEAUS
            del self.plateaus[:drop]
            self._closed = ([], [], [])  # rebuilt on the next draw
            self._trimmed += drop

    # ------------------------------------------------------------------ views
    def plateau_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(start, stop, level) of every plateau as arrays; an open plateau ends at the
        newest sample the detector has seen. Rebuilt only when the list changed."""
        key = (len(self.plateaus), id(self.plateaus[-1]) if self.plateaus else 0,
               self.plateaus[-1].stop if self.plateaus else 0, self._trimmed)
        if self._arrays_key != key:
            closed = self._closed
            while len(closed[0]) < len(self.plateaus) - 1:  # new closed plateaus only
                p = self.plateaus[len(closed[0])]
                closed[0].append(p.start), closed[1].append(p.stop), closed[2].append(p.level)
            last = self.plateaus[-1] if self.plateaus else None
            tail = ([last.start], [-1 if last.stop is None else last.stop], [last.level]) if last else ([], [], [])
            self._arrays = (np.array(closed[0] + tail[0], dtype=np.int64),
                            np.array(closed[1] + tail[1], dtype=np.int64),
                            np.array(closed[2] + tail[2], dtype=float))
            self._arrays_key = key
        a, b, level = self._arrays
        return a, np.where(b < 0, self.fed_detector, b), level

    def plateau_segments(self, x: np.ndarray, first: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """x and y pairs of every plateau since row ``first`` (connect="pairs")."""
        a, b, level = self.plateau_arrays()
        keep = b > first
        if not keep.any() or not x.size:
            return np.zeros(0), np.zeros(0)
        a = np.clip(np.maximum(a[keep], first), 0, x.size - 1)
        b = np.clip(b[keep] - 1, 0, x.size - 1)
        xs = np.column_stack([x[a], x[b]]).ravel()
        ys = np.repeat(level[keep], 2)
        return xs, ys

    def retention(self) -> tuple[np.ndarray, np.ndarray]:
        """(time since the step before the hold ended in s, corrected G/G0) of the
        retention samples; t > 0 only, for a log time axis."""
        if not self.retention_rows:
            return np.zeros(0), np.zeros(0)
        rows = np.concatenate(self.retention_rows)
        if len(self.retention_rows) > 1:
            self.retention_rows = [rows]
        first = int(rows[0])
        t0 = float(self.store["t"][first - 1]) if first > 0 else 0.0  # end of the preparing step
        t = self.store["t"][rows] - t0
        keep = t > 0
        return t[keep], self.store["gc"][rows][keep]


__all__ = ["LiveState", "PlateauMark", "PerIndexMean"]
