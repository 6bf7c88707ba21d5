"""A curve that grows at its end, drawn as a cached history and a small live tail.

Painting a curve costs O(its points) on every paint, even when only its last points
changed (a trace of 2·10³ points ~1.5 ms, the plateau segments ~2 ms). :class:`SplitCurve`
draws the points up to some moment with a pixmap cache (Qt's DeviceCoordinateCache:
repainting it is a copy of the pixels, until its data or the view changes) and only the
points after that as a separate, small curve. :meth:`SplitCurve.refresh` moves everything
into the history (every few ticks, and whenever what was drawn before could have
changed); :meth:`SplitCurve.extend` redraws only the tail. Between two refreshes, the
history's points must stay as they were (a growing trace or list of segments, where only
the last ``live`` points may still change).
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtWidgets import QGraphicsItem


class SplitCurve:
    """``history`` (a PlotDataItem: it keeps its legend entry and what tests read back)
    plus a tail curve with the same pen in the same ViewBox.

    ``live``: how many last points may still change (they go to the tail at a refresh);
    ``overlap``: how many points before them the tail repeats (2 joins a trace's tail to
    its history; 0 for segments drawn in pairs).
    """

    def __init__(self, history: pg.PlotDataItem, view: pg.ViewBox, *, live: int = 2, overlap: int = 2,
                 connect: str = "all") -> None:
        self.history = history
        self.live, self.overlap = live, overlap
        history.curve.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.tail = pg.PlotCurveItem(pen=history.opts["pen"], connect=connect, skipFiniteCheck=False)
        self.tail.setZValue(history.zValue())
        view.addItem(self.tail, ignoreBounds=True)
        self.kept = 0  # points in the history
        self.age = 0  # redraws since the last refresh (kept by the caller)
        self.row = 0  # the caller's row count at the last refresh
        self._repeated = 0  # points at the tail's start that the history also draws

    def refresh(self, x: np.ndarray, y: np.ndarray, *, final: bool = False, **opts) -> None:
        """Everything into the history (the last ``live`` points into the tail unless
        ``final``: nothing more will change)."""
        keep = x.size if final else max(x.size - self.live, 0)
        keep -= keep % 2 if self.overlap == 0 else 0  # pairs stay pairs
        self.history.setData(x[:keep], y[:keep], **opts)
        self.kept = keep
        self.extend(x, y)

    def extend(self, x: np.ndarray, y: np.ndarray) -> None:
        """Redraw the tail: the points after the history (x, y: all points so far)."""
        start = max(self.kept - self.overlap, 0)
        self._repeated = self.kept - start
        if x.size <= self.kept or not x.size:
            self.tail.setData(np.zeros(0), np.zeros(0))
        else:
            self.tail.setData(np.asarray(x[start:], dtype=float), np.asarray(y[start:], dtype=float))

    def set_tail(self, x: np.ndarray, y: np.ndarray, repeated: int = 1) -> None:
        """Draw these points as the tail, the first ``repeated`` of them the history's last
        (the caller knows where the history ends)."""
        self.tail.setData(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
        self._repeated = repeated

    def getData(self) -> tuple[np.ndarray, np.ndarray]:
        """Every point drawn: the history's, then the tail's after the repeated ones."""
        hx, hy = self.history.getData()
        tx, ty = self.tail.getData()
        hx = np.zeros(0) if hx is None else hx
        hy = np.zeros(0) if hy is None else hy
        if tx is None or not len(tx):
            return hx, hy
        skip = min(self._repeated, hx.size)
        return np.concatenate([hx, tx[skip:]]), np.concatenate([hy, ty[skip:]])

    def clear(self) -> None:
        self.history.setData([], [])
        self.tail.setData(np.zeros(0), np.zeros(0))
        self.kept = 0


__all__ = ["SplitCurve"]
