"""The dashboard's two smaller live views, each drawn from a LiveState:

- :class:`IVView`: I–V with log|I| and the compliance limits of the run on screen (as
  points for pulse procedures), or V against I for current sweeps; the newest RECENT rows
  (the last cycles), with the points in compliance marked, each drawn only where it
  moves to another pixel (labqc.gui.envelope.pixel_steps);
- :class:`HistView`: the G/G0 histogram (0.05 G0 bins), raw and R_s-corrected, over the
  whole run, scaled to the quantum peaks.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt

from labqc.gui.envelope import pixel_steps
from labqc.gui.live_state import LiveState
from labqc.gui.plot_kit import RangeKeeper, fast, grid_lines, make_plot, nice_ceiling, span
# RECENT: rows drawn in the I–V view (and against V or I in the main view), the rows for
# which the store keeps V, I and Compliance.
from labqc.gui.stream_buffer import RECENT
COMPLIANCE = pg.mkPen((214, 39, 40), width=1, style=Qt.PenStyle.DashLine)
GREEN, RED = (44, 160, 44), (214, 39, 40)


class IVView:
    """The I–V plot (``plot``) and its curves; ``mode`` is the view plan's "iv", "points"
    or "vi" (labqc.gui.view_plan)."""

    def __init__(self) -> None:
        self.plot = make_plot("I–V", ("|I|", "A"), ("Voltage", "V"))
        self.plot.setLogMode(y=True)
        self.plot.getAxis("left").enableAutoSIPrefix(False)  # decades of A, not of mA
        fast(self.plot.getPlotItem())
        self.plot.addLegend(offset=(-10, -10))
        self.curve = self.plot.plot(pen=pg.mkPen(GREEN, width=1), name="|I| (newest points)")
        self.marks = self.plot.plot(pen=pg.mkPen(RED, width=3), connect="finite", name="in compliance")
        self.range = RangeKeeper(self.plot)
        self.compliance_lines: list[pg.InfiniteLine] = []
        self._compliance_drawn: tuple = ()
        self.mode = "iv"

    def set_mode(self, mode: str) -> None:
        """Axes, pens and legend for the view plan's I–V mode."""
        self.mode = mode
        vi, points = mode == "vi", mode == "points"
        self.plot.setLogMode(y=not vi)
        self.plot.setLabel("left", "Voltage" if vi else "|I|", units="V" if vi else "A")
        self.plot.setLabel("bottom", "Current" if vi else "Voltage", units="A" if vi else "V")
        self.curve.setPen(None if points else pg.mkPen(GREEN, width=1))
        self.curve.setSymbol("o" if points else None)
        self.curve.setSymbolSize(3)
        self.curve.setSymbolPen(None)
        self.curve.setSymbolBrush(GREEN)
        self.marks.setPen(None if points else pg.mkPen(RED, width=3))
        self.marks.setSymbol("o" if points else None)
        self.marks.setSymbolBrush(RED)
        self.marks.setSymbolPen(None)
        legend = self.plot.getPlotItem().legend.getLabel(self.curve)
        if legend is not None:
            legend.setText("V (newest points)" if vi else "|I| (newest points)")
        self.range.on, self.range.current = True, None
        self._compliance_drawn = ()

    def _sync_compliance(self, s: LiveState) -> None:
        """Lines at the limits of the run on screen: current compliance on the I–V, the
        voltage limit on the V–I view."""
        vi = self.mode == "vi"
        limits = s.voltage_limits if vi else s.compliance
        key = (id(s), vi, tuple(limits))
        if key == self._compliance_drawn:
            return
        self._compliance_drawn = key
        for line in self.compliance_lines:
            self.plot.removeItem(line)
        self.compliance_lines = []
        unit = "V" if vi else "A"
        shown = sorted(((name, value) for name, value in limits if value and value > 0), key=lambda item: item[1])
        for k, (name, value) in enumerate(shown):
            # Labels alternate between left and right so that close limits stay legible.
            for sign in ((1, -1) if vi else (1,)):
                line = pg.InfiniteLine(pos=sign * value if vi else np.log10(value), angle=0, pen=COMPLIANCE,
                                       movable=False, label=f"{name} {pg.siFormat(value, suffix=unit)}",
                                       labelOpts={"position": 0.03 if k % 2 == 0 else 0.97, "color": RED,
                                                  "anchors": [(0, 1), (0, 1)] if k % 2 == 0 else [(1, 1), (1, 1)]})
                self.plot.addItem(line)
                self.compliance_lines.append(line)

    def draw(self, s: LiveState) -> None:
        self._sync_compliance(s)
        first = max(len(s.store) - RECENT, 0)
        v, i, comp = (s.store.since(name, first) for name in ("v", "i", "compliance"))
        if self.mode == "vi":  # V against I, linear
            x, y, shown_y = i, v, v
            if v.size:
                limits = [abs(line.value()) for line in self.compliance_lines]
                top = max([float(np.max(np.abs(v)))] + limits)
                self.range.set(span(float(np.min(i)), float(np.max(i))), span(-top if np.min(v) < 0 else 0.0, top))
        else:
            x, y = v, np.maximum(np.abs(i), np.float32(1e-15))
            shown_y = np.log10(y)  # what the log axis draws
            if v.size:
                limits = [10 ** line.value() for line in self.compliance_lines]
                top = max([float(np.max(y))] + limits)
                decades = np.log10([float(np.min(y)), top])
                self.range.set(span(float(np.min(v)), float(np.max(v))),
                               (float(np.floor(decades[0])), float(np.ceil(decades[1] + 0.6))))
        # Only the points that move to another pixel (the range is set first, so the
        # pixels are those it will be seen in): ~4x fewer to paint for a sweep.
        vb = self.plot.getViewBox()
        x_range, y_range = vb.viewRange()
        keep = pixel_steps(x, shown_y, tuple(x_range), tuple(y_range), vb.width(), vb.height())
        change = np.flatnonzero(comp[1:] != comp[:-1])
        keep[change] = keep[change + 1] = True  # where compliance starts and ends stays exact
        x, y, comp = x[keep], y[keep], comp[keep]
        self.curve.setData(x, y)
        self._marks(x, y, comp)

    def _marks(self, x: np.ndarray, y: np.ndarray, comp: np.ndarray) -> None:
        """The points in compliance, drawn over the I–V: as points, or as a line with NaN
        elsewhere to break it."""
        if self.mode == "points":
            self.marks.setData(x[comp], y[comp])
        else:
            self.marks.setData(np.where(comp, x, np.nan), np.where(comp, y, np.nan))


class HistView:
    """The G/G0 histogram plot (``plot``): R_s-corrected, and measured when R_s > 0."""

    def __init__(self) -> None:
        self.plot = make_plot("G histogram (0.05 G0 bins)", ("Counts", None), ("G / G0", None))
        grid_lines(self.plot, vertical=True)
        self.plot.addLegend(offset=(-10, 10))
        self.raw = self.plot.plot(stepMode="center", pen=pg.mkPen((150, 150, 150)), name="measured")
        self.curve = self.plot.plot(stepMode="center", fillLevel=0, pen=pg.mkPen((31, 119, 180)),
                                    brush=(31, 119, 180, 120), name="R_s corrected")
        self.range = RangeKeeper(self.plot)

    def draw(self, s: LiveState) -> None:
        edges, counts = s.histogram.edges, s.histogram.counts
        nz = np.flatnonzero(counts)
        top = int(nz[-1]) + 2 if nz.size else 1
        self.curve.setData(edges[: top + 1], counts[:top])
        if s.r_series > 0:  # raw and corrected differ only with an R_s
            raw = s.histogram_raw.counts
            self.raw.setData(edges[: top + 1], raw[:top])
        else:
            self.raw.setData([], [])
        self._range(edges, counts, nz)

    def _range(self, edges: np.ndarray, counts: np.ndarray, nz: np.ndarray) -> None:
        """Counts scaled to the tallest bin at G >= 0.5 G0: the HRS bin near 0 would
        otherwise flatten the quantum peaks (it is drawn, clipped at the top). ``nz``:
        the bins with counts."""
        if not nz.size:
            return
        upper = counts[edges[:-1] >= 0.5]
        peak = int(upper.max()) if upper.size and upper.any() else int(counts.max())
        self.range.set((0.0, nice_ceiling(float(edges[nz[-1] + 1]) + 0.25)), (0.0, nice_ceiling(1.1 * peak)))


__all__ = ["IVView", "HistView", "RECENT"]
