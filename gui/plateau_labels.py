"""The labels of the plateau overlay on the conductance view: the longest plateaus in view
get their level as text, placed where it overlaps neither another label, the legend nor
the view's edge (labqc.gui.overlay.place_labels); a crowd is thinned, not stacked."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QPointF
from PyQt6.QtGui import QFontMetricsF
from PyQt6.QtWidgets import QGraphicsItem

from labqc.gui.live_state import LiveState
from labqc.gui.overlay import place_labels

MAX_LABELS = 8  # plateau labels on screen at most (fewer when they would overlap)
LABEL_CANDIDATES = 40  # the longest plateaus in view tried for a label
LABEL_COLOUR = (180, 60, 0)


class PlateauLabels:
    """Up to MAX_LABELS text items on ``plot``, laid out again when the overlay or the
    view changes (``stale``)."""

    def __init__(self, plot: pg.PlotWidget) -> None:
        self.plot = plot
        self.items = [pg.TextItem("", color=LABEL_COLOUR, anchor=(0, 0)) for _ in range(MAX_LABELS)]
        for label in self.items:
            # Laying out rich text costs ~1 ms per label and paint; cache the rendered text.
            label.textItem.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            label.hide()
            label.setZValue(1)  # above the traces and plateau lines (z 0 to 0.2)
            plot.addItem(label, ignoreBounds=True)
        self._metrics = QFontMetricsF(self.items[0].textItem.font())
        self._key: tuple = ()
        self.stale = True
        plot.getViewBox().sigRangeChanged.connect(self._view_changed)

    def _view_changed(self, *_) -> None:
        self.stale = True

    def hide(self) -> None:
        for label in self.items:
            label.hide()
        self._key = ()

    def layout(self, s: LiveState, key_x: str, first: int) -> None:
        """Label the longest plateaus of ``s`` in view (x: the store column ``key_x``, rows
        from ``first`` on)."""
        self.stale = False
        n = len(s.store)
        ov = s.overlay()
        if key_x == "pulse" or not n or not len(ov):
            self.hide()
            return
        vb = self.plot.getViewBox()
        (x0, x1), (y0, y1) = vb.viewRange()
        x = s.store.since(key_x, first)  # rows from ``first`` on
        a = np.clip(np.maximum(ov.start, first), first, n - 1) - first
        b = np.clip(ov.stop - 1, first, n - 1) - first  # spans ending before ``first`` are left out below
        xa, xb = x[a].astype(float), x[b].astype(float)
        lo, hi = np.minimum(xa, xb), np.maximum(xa, xb)
        inside = (ov.stop > first) & (hi >= x0) & (lo <= x1) & (ov.level >= y0) & (ov.level <= y1)
        idx = np.flatnonzero(inside)
        idx = idx[np.argsort(-(ov.stop[idx] - ov.start[idx]), kind="stable")][:LABEL_CANDIDATES]
        key = (id(s), tuple(idx), round(x0, 9), round(x1, 9), round(y0, 9), round(y1, 9), s.r_series,
               vb.width(), vb.height())
        if key == self._key:
            return
        self._key = key
        texts = [ov.label(int(k)) for k in idx]
        cands = []
        for k in idx:
            p0 = vb.mapViewToScene(QPointF(max(lo[k], x0), float(ov.level[k])))
            p1 = vb.mapViewToScene(QPointF(min(hi[k], x1), float(ov.level[k])))
            cands.append((p0.x(), p1.x(), p0.y(), 0.0))
        view = vb.sceneBoundingRect()
        legend = self.plot.getPlotItem().legend.sceneBoundingRect()
        margin = 2 * self.items[0].textItem.document().documentMargin() + 2.0

        def size(j: int) -> tuple[float, float]:  # as a TextItem draws it: text plus margins
            return self._metrics.horizontalAdvance(texts[j]) + margin, self._metrics.height() + margin

        placed = place_labels(cands, size, (view.left(), view.top(), view.right(), view.bottom()),
                              avoid=[(legend.left(), legend.top(), legend.right(), legend.bottom())],
                              most=MAX_LABELS)
        for slot, label in enumerate(self.items):
            if slot < len(placed):
                j, left, top = placed[slot]
                label.setText(texts[j])
                label.setPos(vb.mapSceneToView(QPointF(left, top)))
                label.show()
            else:
                label.hide()


__all__ = ["PlateauLabels", "MAX_LABELS"]
