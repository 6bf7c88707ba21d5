"""Everything the live views derive from the streamed rows, without Qt.

:class:`LiveState` owns the column store and, as rows arrive, feeds

- the online plateau detector (labqc.online) with measured G/G0 and the dashboard's R_s
  (where the plateaus are; what is drawn for them is labqc.gui.overlay's),
- the G/G0 histogram (labqc.views.Histogram, 0.05 G0 bins) with corrected G/G0,
- per-pulse means (pulse current I_i and G/G0 on the pulse top, read G/G0 after it),
- per-cycle reads split into LRS and HRS by the one rule of labqc.switching (after a SET
  branch LRS, after a RESET branch HRS, otherwise the first read of a cycle LRS),
- the retention samples (Segment "hold").

Detector and histogram work is done in :meth:`LiveState.process` under a sample budget,
so that a large backlog (a file just opened, a new R_s) is caught up over several redraw
ticks instead of blocking the GUI thread. Chunks of a running run are queued
(:meth:`LiveState.queue`) and taken in together at the next tick (:meth:`LiveState.flush`),
so many small chunks cost one append per redraw, not one each.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labqc.gui.overlay import OPEN_TAIL, Overlay, build_overlay, join_overlays, span_stats
from labqc.gui.stream_buffer import FIELDS, SEGMENT_CODES, Chunk, ColumnStore
from labqc.online import OnlineDetector
from labqc.switching import ReadRoles
from labqc.views import Histogram

PULSE, READ, HOLD = SEGMENT_CODES["pulse"], SEGMENT_CODES["read"], SEGMENT_CODES["hold"]
SET, RESET = SEGMENT_CODES["set"], SEGMENT_CODES["reset"]
MAX_PLATEAUS = 20_000  # drawn segments kept (oldest dropped)
QUEUE_ROWS = 20_000  # queued rows taken in at once even between ticks (a run not on screen)


@dataclass
class PlateauMark:
    start: int  # row index in the store
    stop: int | None  # exclusive; None while the plateau is open
    level: float  # corrected G/G0
    quantum: float | None
    confidence: float | None


class Growing:
    """A growable 1-D float array (values appended at any index, ``fill`` in between)."""

    def __init__(self, fill: float = 0.0) -> None:
        self.fill = fill
        self.a = np.full(64, fill)

    def reserve(self, top: int) -> None:
        """Room for indices [0, top) (doubling, so appends cost amortised O(1))."""
        if top > self.a.size:
            self.a = np.concatenate([self.a, np.full(max(top, 2 * self.a.size) - self.a.size, self.fill)])

    def add_at(self, index: np.ndarray, weights: np.ndarray) -> None:
        if not index.size:
            return
        top = int(index.max()) + 1
        self.reserve(top)
        self.a[:top] += np.bincount(index, weights=weights, minlength=top)


class PerIndexMean:
    """Running mean of values grouped by a non-negative integer (pulse or cycle number)."""

    def __init__(self) -> None:
        self.sums, self.counts = Growing(), Growing()

    def add(self, index: np.ndarray, values: np.ndarray) -> None:
        ok = np.isfinite(values) & (index >= 0)
        index = index[ok].astype(np.int64)
        self.sums.add_at(index, values[ok])
        self.counts.add_at(index, np.ones(index.size))

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(index, mean) of the indices seen so far."""
        n = self.counts.a
        k = np.flatnonzero(n > 0)
        return k.astype(float), self.sums.a[k] / n[k]


class PerIndexMax:
    """Running maximum of values grouped by a non-negative integer (cycle number)."""

    def __init__(self) -> None:
        self.top = Growing(-np.inf)

    def add(self, index: np.ndarray, values: np.ndarray) -> None:
        ok = np.isfinite(values) & (index >= 0)
        if not ok.any():
            return
        index = index[ok].astype(np.int64)
        self.top.reserve(int(index.max()) + 1)
        np.maximum.at(self.top.a, index, values[ok])

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        a = self.top.a
        k = np.flatnonzero(np.isfinite(a))
        return k.astype(float), a[k]


class LiveState:
    def __init__(self, r_series: float = 0.0, *, detector_options: dict | None = None) -> None:
        self.detector_options = detector_options or {}
        self.store = ColumnStore(r_series=r_series)
        self.resets = 0  # how often the rows were forgotten (views cache per reset)
        self.reset(r_series)

    # ------------------------------------------------------------------ set-up
    def reset(self, r_series: float | None = None) -> None:
        """Forget everything (a new run)."""
        if r_series is not None:
            self.store.r_series = float(r_series)
        self.store.clear()
        self.resets += 1
        self._queued: list[Chunk] = []
        self._queued_rows = 0
        self.detector = OnlineDetector(self.store.r_series, **self.detector_options)
        self.histogram = Histogram()
        self.histogram_raw = Histogram()  # of measured G/G0 (independent of R_s)
        self.fed_raw = 0
        self.plateaus: list[PlateauMark] = []
        self._trimmed = 0
        # start, stop, statistics of the closed plateaus (all but the last), for the list
        # of plateaus and the trimming in _arrays_key; the overlay of those at an R_s
        self._arrays_key: tuple = ()
        self._arrays = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros((0, 4)))
        self._closed_overlay: tuple[float, int, Overlay] | None = None
        self._overlay_key: tuple = ()
        self._overlay: Overlay | None = None
        self.g_max = 0.0  # largest measured or corrected G/G0 so far (for the y range)
        self.fed_detector = 0
        self.fed_histogram = 0
        self._new_derived()
        self.retention_rows: list[np.ndarray] = []
        self.version = 0  # bumped on every change the views should redraw
        self.finished = False
        self.plateau_source = "online detector"  # or "offline, file"
        self.compliance: list[tuple[str, float]] = []  # (name, A) limits of this run's I–V
        self.voltage_limits: list[tuple[str, float]] = []  # (name, V) limits (current sweeps)
        self.provenance: dict[str, str] = {}  # file, procedure, sample, device
        self.parameters: dict[str, str] = {}  # the run's parameters, name -> text

    def _new_derived(self) -> None:
        """Empty per-pulse and per-cycle views (filled by :meth:`_derive`)."""
        self.pulse_current = PerIndexMean()
        self.pulse_read = PerIndexMean()
        self.pulse_g = PerIndexMean()  # G/G0 on the pulse top
        self.pulse_phase = PerIndexMean()  # the Cycle of each read pulse (LTP 1, LTD 2)
        self.cycle_max = PerIndexMax()  # highest corrected G/G0 of each cycle
        self.lrs, self.hrs = PerIndexMean(), PerIndexMean()
        self.read_roles = ReadRoles()

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
        current = self.pulse_current  # measured current: the same at any R_s
        self._new_derived()  # per-pulse and per-cycle G follow the new correction too
        self.pulse_current = current
        self._derive(0)
        self.version += 1

    # ------------------------------------------------------------------ feeding
    def append(self, chunk: Chunk) -> None:
        """New rows (GUI thread): stored, and the cheap per-row views updated."""
        m = len(chunk["t"])
        if not m:
            return
        start = self.store.append(chunk)
        self._derive(start, chunk["i"])
        seg = chunk["segment"]
        hold = np.flatnonzero(seg == HOLD)
        if hold.size:
            self.retention_rows.append(hold + start)
        self.version += 1

    def queue(self, chunk: Chunk) -> None:
        """New rows, taken in at the next :meth:`flush` (or at once when many are waiting)."""
        m = len(chunk["t"])
        if not m:
            return
        self._queued.append(chunk)
        self._queued_rows += m
        if self._queued_rows >= QUEUE_ROWS:
            self.flush()

    def flush(self) -> None:
        """Append the queued chunks as one."""
        if not self._queued:
            return
        chunks, self._queued, self._queued_rows = self._queued, [], 0
        if len(chunks) == 1:
            self.append(chunks[0])
        else:
            self.append({name: np.concatenate([c[name] for c in chunks]) for name in FIELDS})

    def _derive(self, start: int, current: np.ndarray | None = None) -> None:
        """The cheap per-row views from the store's rows ``start`` on (vectorised);
        ``current``: those rows' I (the store keeps it for the newest rows only), None
        to leave the per-pulse current as it is."""
        st = self.store
        seg, pulse, cycle, gc = (st.since(name, start) for name in ("segment", "pulse", "cycle", "gc"))
        if not seg.size:
            return
        top = max(float(np.nanmax(st.since("g", start), initial=0.0)), float(np.nanmax(gc, initial=0.0)))
        self.g_max = max(self.g_max, top)
        self.cycle_max.add(cycle.astype(np.int64), gc)
        is_pulse = (seg == PULSE) & (pulse > 0)
        if is_pulse.any():
            if current is not None:
                self.pulse_current.add(pulse[is_pulse], current[is_pulse])
            self.pulse_g.add(pulse[is_pulse], gc[is_pulse])
        is_read = seg == READ
        if is_read.any():
            with_pulse = is_read & (pulse > 0)
            if with_pulse.any():
                self.pulse_read.add(pulse[with_pulse], gc[with_pulse])
                ok = with_pulse & np.isfinite(gc)
                self.pulse_phase.add(pulse[ok], cycle[ok].astype(float))
        lrs, hrs = self.read_roles.split(is_read, seg == SET, seg == RESET, cycle)
        for target, sel in ((self.lrs, lrs), (self.hrs, hrs)):
            if sel.any():
                target.add(cycle[sel].astype(np.int64), gc[sel])

    def process(self, budget: int = 25_000) -> bool:
        """Feed the detector and the histogram with up to ``budget`` new samples each;
        True if anything changed."""
        self.flush()
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
        if self.fed_raw < n:
            b = min(n, self.fed_raw + budget)
            self.histogram_raw.add(self.store["g"][self.fed_raw : b])
            self.fed_raw = b
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
        return self.fed_detector >= n and self.fed_histogram >= n and self.fed_raw >= n

    @property
    def complete(self) -> bool:
        """The stream has ended and everything in it has been processed."""
        return self.finished and self.caught_up and not (self.plateaus and self.plateaus[-1].stop is None)

    def finish(self) -> None:
        """End of the stream: the open plateau is closed once the backlog is processed."""
        self.flush()
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
            self._trimmed += drop  # the per-plateau caches are rebuilt on the next draw

    # ------------------------------------------------------------------ views
    def plateau_spans(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(start, stop, statistics) of every plateau: spans as arrays, an open one ending
        at the newest sample the detector has seen, and the robust statistics of each
        span's measured samples (labqc.gui.overlay.span_stats; a closed span's once, so a
        call costs O(new plateaus), not O(plateaus))."""
        self._check_closed()
        g = self.store["g"]
        a, b, stats = self._arrays
        done = a.size
        if done < len(self.plateaus) - 1:  # closed since the last call
            new = self.plateaus[done:len(self.plateaus) - 1]
            a = np.concatenate([a, np.array([p.start for p in new], dtype=np.int64)])
            b = np.concatenate([b, np.array([p.stop for p in new], dtype=np.int64)])
            rows = np.array([span_stats(g[p.start:p.stop]) for p in new], dtype=float).reshape(-1, 4)
            stats = np.concatenate([stats, rows])
            self._arrays = (a, b, stats)
        last = self.plateaus[-1] if self.plateaus else None
        if last is not None:  # the newest plateau: open (growing) or just closed, recomputed
            stop = self.fed_detector if last.stop is None else last.stop
            tail = span_stats(g[max(last.start, stop - OPEN_TAIL):stop])
            a, b = np.append(a, last.start), np.append(b, stop)
            stats = np.vstack([stats, np.array(tail, dtype=float)[None, :]])
        return a, b, stats

    def _check_closed(self) -> None:
        """Forget the per-plateau caches when the plateaus were replaced or trimmed."""
        key = (id(self.plateaus), self._trimmed)
        if key != self._arrays_key:
            self._arrays_key = key
            self._arrays = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros((0, 4)))
            self._closed_overlay = None

    @property
    def plateau_epoch(self) -> tuple:
        """Changes when plateaus already drawn may be drawn differently (the list replaced,
        the oldest trimmed); otherwise plateaus only change or are added at the end."""
        self._check_closed()
        return self._arrays_key

    def overlay(self) -> Overlay:
        """The plateaus to draw for the data and the R_s on screen (labqc.gui.overlay); the
        closed plateaus' part is extended, not rebuilt, as plateaus close."""
        a, b, stats = self.plateau_spans()
        r = self.store.r_series
        key = (a.size, int(b[-1]) if b.size else 0, r, self._arrays_key)
        if key == self._overlay_key:
            return self._overlay
        k = max(a.size - 1, 0)  # the closed spans: all but the newest
        closed = self._closed_overlay
        if closed is None or closed[0] != r or closed[1] > k:
            closed = (r, 0, build_overlay(a[:0], b[:0], stats[:0], r))
        if closed[1] < k:
            part = build_overlay(a[closed[1]:k], b[closed[1]:k], stats[closed[1]:k], r)
            closed = (r, k, join_overlays(closed[2], part))
        self._closed_overlay = closed
        self._overlay = join_overlays(closed[2], build_overlay(a[k:], b[k:], stats[k:], r))
        self._overlay_key = key
        return self._overlay

    def plateau_segments(self, x: np.ndarray, first: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """x and y pairs of every drawn plateau since row ``first`` (connect="pairs"); ``x``
        holds the rows from ``first`` on (store.since)."""
        ov = self.overlay()
        keep = ov.stop > first
        if not keep.any() or not x.size:
            return np.zeros(0), np.zeros(0)
        a = np.clip(np.maximum(ov.start[keep], first) - first, 0, x.size - 1)
        b = np.clip(ov.stop[keep] - 1 - first, 0, x.size - 1)
        xs = np.column_stack([x[a], x[b]]).ravel()
        ys = np.repeat(ov.level[keep], 2)
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


__all__ = ["LiveState", "PlateauMark", "PerIndexMean", "PerIndexMax"]
