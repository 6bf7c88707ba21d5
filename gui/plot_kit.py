"""Small pieces every dashboard view uses: a plot with units and cached axes, the
half-quantum grid, coarse "nice" ranges and :class:`RangeKeeper`."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtWidgets import QGraphicsItem

GRID_MAX = 25.0  # G0: half-quantum lines up to here
GRID_SPAN = 1e9  # the grid lines run from -GRID_SPAN to +GRID_SPAN along the other axis


def make_plot(title: str, left: tuple[str, str | None], bottom: tuple[str, str | None]) -> pg.PlotWidget:
    w = pg.PlotWidget(title=title)
    w.setLabel("left", left[0], units=left[1])
    w.setLabel("bottom", bottom[0], units=bottom[1])
    w.showGrid(x=True, y=True, alpha=0.15)
    w.setMenuEnabled(True)
    for name in ("left", "bottom", "top", "right"):
        # Replaying an axis' text costs ~3 ms per paint offscreen; a pixmap cache makes an
        # unchanged axis a blit (pyqtgraph's update() on a range change invalidates it).
        w.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    return w


def fast(item: pg.PlotItem) -> None:
    """No pyqtgraph downsampling or clip-to-view: traces against time come already reduced
    to the pixels in view (labqc.gui.envelope), and the others are not monotonic in x
    (clipping and block downsampling would be wrong there)."""
    item.setDownsampling(ds=1, auto=False, mode="peak")
    item.setClipToView(False)


def grid_lines(plot: pg.PlotWidget, vertical: bool = False) -> None:
    """Lines at n·G0 (darker) and (n+½)·G0 (fainter): two path items, not 50 InfiniteLines
    (whose bounding rects are recomputed on every view change)."""
    for whole in (True, False):
        levels = np.arange(1.0 if whole else 0.5, GRID_MAX + 0.25, 1.0)
        span = np.tile([-GRID_SPAN, GRID_SPAN], levels.size)
        at = np.repeat(levels, 2)
        # Solid, opaque pens: a dash pattern along a line this long, or blending a
        # translucent one, costs milliseconds per paint. These greys are what the former
        # translucent ones (110 at alpha 120, 150 at alpha 55) looked like on white.
        pen = pg.mkPen((187, 187, 187) if whole else (232, 232, 232), width=1)
        x, y = (at, span) if vertical else (span, at)
        item = pg.PlotCurveItem(x, y, connect="pairs", pen=pen)
        item.setZValue(-10)
        # Into the ViewBox, not the PlotItem: the PlotItem's downsampling and log-mode
        # settings apply to its curves, which a fixed grid is not.
        plot.getViewBox().addItem(item, ignoreBounds=True)


def nice_ceiling(x: float) -> float:
    """The smallest of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8 × 10^k that is >= x."""
    k = 10.0 ** np.floor(np.log10(x))
    for m in (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0):
        if m * k >= x:
            return m * k
    return 10.0 * k


class RangeKeeper:
    """Ranges a view follows while the user has not zoomed or panned it.

    pyqtgraph's own auto-range recomputes the data bounds and moves the range a little on
    every new chunk, which re-renders the axes and re-does the downsampling during the
    paint. Here ranges only change in coarse steps. Zooming or panning stops following;
    the view's "A" (auto-range) button starts it again.
    """

    def __init__(self, plot: pg.PlotWidget) -> None:
        self.vb = plot.getViewBox()
        self.on = True
        self.current = None
        self.vb.disableAutoRange()
        self.vb.sigRangeChangedManually.connect(self._manual)
        self.vb.sigStateChanged.connect(self._state)

    def _manual(self, *_) -> None:
        self.on = False

    def _state(self, *_) -> None:
        if any(self.vb.autoRangeEnabled()):
            self.vb.disableAutoRange()
            self.on, self.current = True, None

    def set(self, x_range: tuple[float, float], y_range: tuple[float, float]) -> None:
        if not self.on or not all(np.isfinite(x_range + y_range)):
            return
        if x_range[1] <= x_range[0] or y_range[1] <= y_range[0]:
            return
        if (x_range, y_range) != self.current:
            self.current = (x_range, y_range)
            self.vb.setRange(xRange=x_range, yRange=y_range, padding=0)


def grow(hi: float, value: float) -> float:
    """Upper limit that jumps ahead by a quarter when ``value`` reaches it."""
    return hi if 0 < value <= hi else nice_ceiling(max(value, 1e-9) * 1.25)


def span(lo: float, hi: float) -> tuple[float, float]:
    """A coarse symmetric-ish range around [lo, hi] (each side a nice number)."""
    a = -nice_ceiling(-lo * 1.05) if lo < 0 else 0.0
    b = nice_ceiling(hi * 1.05) if hi > 0 else 0.0
    if a == b:
        a, b = a - 1.0, b + 1.0
    return float(a), float(b)


__all__ = ["make_plot", "fast", "grid_lines", "nice_ceiling", "RangeKeeper", "grow", "span", "GRID_MAX"]
