"""The live views: pyqtgraph plots drawn from a :class:`gui.live_state.LiveState`.

Redrawn by a QTimer (10 Hz), never per chunk, and only when something changed:

- G/G0 against time, V, I or pulse number, with the half-quantum grid and the plateaus of
  the online detector as segments labelled with their level and confidence;
- I–V with log|I|, the compliance limits as lines and the points in compliance marked;
- the G/G0 histogram (0.05 G0 bins) accumulated over the whole run;
- tabs: I_i/I_1 and the lag plot of pulse trains, HRS/LRS per cycle (endurance),
  G/G0 against log time (retention).

Speed (reference pymeasure.md §6.3): peak downsampling and clip-to-view are set on the
PlotItem (options passed to a PlotDataItem are reset by addItem) for the time axis. V and
I are not monotonic, so against them clipping and automatic downsampling would be wrong;
those views draw the newest RECENT rows instead (the last cycles).
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import (QCheckBox, QComboBox, QHBoxLayout, QLabel, QSplitter, QTabWidget,
                             QVBoxLayout, QWidget)

from gui.live_state import LiveState

RECENT = 50_000  # rows drawn against V or I, and in the I–V view
MAX_LABELS = 8  # plateau labels on screen (the newest ones)
MAX_MARKS = 2_000  # compliance points marked in the I–V view (the newest ones)
GRID_MAX = 25.0  # G0: half-quantum lines up to here
X_CHOICES = {"Time": ("t", "Time", "s"), "Voltage": ("v", "Voltage", "V"),
             "Current": ("i", "Current", "A"), "Pulse number": ("pulse", "Pulse number", "")}

MEASURED = pg.mkPen((150, 150, 150), width=1)
CORRECTED = pg.mkPen((31, 119, 180), width=1)
PLATEAU = pg.mkPen((230, 85, 13), width=3)
COMPLIANCE = pg.mkPen((214, 39, 40), width=1, style=Qt.PenStyle.DashLine)


def _plot(title: str, left: tuple[str, str | None], bottom: tuple[str, str | None]) -> pg.PlotWidget:
    w = pg.PlotWidget(title=title)
    w.setLabel("left", left[0], units=left[1])
    w.setLabel("bottom", bottom[0], units=bottom[1])
    w.showGrid(x=True, y=True, alpha=0.15)
    w.setMenuEnabled(True)
    return w


def _fast(item: pg.PlotItem, monotonic_x: bool) -> None:
    """PlotItem-level peak downsampling and clip-to-view (monotonic x only)."""
    if monotonic_x:
        item.setDownsampling(auto=True, mode="peak")
        item.setClipToView(True)
    else:
        item.setDownsampling(ds=1, auto=False, mode="peak")
        item.setClipToView(False)


def _grid_lines(plot: pg.PlotWidget, vertical: bool = False) -> None:
    """Lines at n·G0 (solid) and (n+½)·G0 (dotted)."""
    for k in range(1, int(2 * GRID_MAX) + 1):
        whole = k % 2 == 0
        pen = pg.mkPen((120, 120, 120, 110 if whole else 70), width=1,
                       style=Qt.PenStyle.SolidLine if whole else Qt.PenStyle.DotLine)
        line = pg.InfiniteLine(pos=k / 2, angle=90 if vertical else 0, pen=pen, movable=False)
        line.setZValue(-10)
        plot.addItem(line, ignoreBounds=True)


class LivePlots(QWidget):
    """All live views of one LiveState; ``tick()`` processes the backlog and redraws."""

    redrawn = pyqtSignal()

    def __init__(self, state: LiveState, parent=None, *, interval_ms: int = 100) -> None:
        super().__init__(parent)
        self.state = state
        self.redraws = 0
        self._drawn = (-1, None)
        self._compliance_lines: list[pg.InfiniteLine] = []
        self._build()
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.x_choice = QComboBox()
        self.x_choice.addItems(list(X_CHOICES))
        self.x_choice.currentTextChanged.connect(self._x_changed)
        self.show_measured = QCheckBox("measured trace")
        self.show_measured.setChecked(True)
        self.show_measured.toggled.connect(self._invalidate)
        self.info = QLabel("")
        bar = QHBoxLayout()
        bar.addWidget(QLabel("G/G0 against"))
        bar.addWidget(self.x_choice)
        bar.addWidget(self.show_measured)
        bar.addStretch(1)
        bar.addWidget(self.info)

        self.main = _plot("Conductance", ("G / G0", None), ("Time", "s"))
        _fast(self.main.getPlotItem(), True)
        _grid_lines(self.main)
        self.main.addLegend(offset=(-10, 10))
        self.measured_curve = self.main.plot(pen=MEASURED, name="G/G0 measured")
        self.corrected_curve = self.main.plot(pen=CORRECTED, name="G_corr/G0")
        self.plateau_curve = self.main.plot(pen=PLATEAU, connect="pairs", name="plateaus (online)")
        self.plateau_labels = [pg.TextItem("", color=(180, 60, 0), anchor=(0, 1)) for _ in range(MAX_LABELS)]
        for label in self.plateau_labels:
            self.main.addItem(label, ignoreBounds=True)

        self.iv = _plot("I–V", ("|I|", "A"), ("Voltage", "V"))
        self.iv.setLogMode(y=True)
        self.iv.getAxis("left").enableAutoSIPrefix(False)  # decades of A, not of mA
        _fast(self.iv.getPlotItem(), False)
        self.iv.addLegend(offset=(-10, -10))
        self.iv_curve = self.iv.plot(pen=pg.mkPen((44, 160, 44), width=1), name=f"last {RECENT:,} points")
        self.iv_marks = self.iv.plot(pen=None, symbol="o", symbolSize=4, symbolPen=None,
                                     symbolBrush=(214, 39, 40), name="in compliance")

        self.hist = _plot("G histogram (0.05 G0 bins)", ("Counts", None), ("G_corr / G0", None))
        _grid_lines(self.hist, vertical=True)
        self.hist_curve = self.hist.plot(stepMode="center", fillLevel=0, pen=pg.mkPen((31, 119, 180)),
                                         brush=(31, 119, 180, 120))

        self.ratio = _plot("Pulse train", ("I_i / I_1", None), ("Pulse number", None))
        self.ratio_curve = self.ratio.plot(pen=pg.mkPen((31, 119, 180)), symbol="o", symbolSize=4,
                                           symbolBrush=(31, 119, 180), symbolPen=None)
        self.lag = _plot("Lag plot", ("I_i+1", "A"), ("I_i", "A"))
        self.lag_diag = self.lag.plot(pen=pg.mkPen((120, 120, 120), style=Qt.PenStyle.DashLine))
        self.lag_curve = self.lag.plot(pen=None, symbol="o", symbolSize=5, symbolBrush=(148, 103, 189),
                                       symbolPen=None)
        self.endurance = _plot("Endurance", ("G_read / G0", None), ("Cycle", None))
        self.endurance.setLogMode(y=True)
        self.endurance.addLegend(offset=(10, 10))
        self.lrs_curve = self.endurance.plot(pen=pg.mkPen((214, 39, 40)), symbol="o", symbolSize=5,
                                             symbolBrush=(214, 39, 40), symbolPen=None, name="LRS")
        self.hrs_curve = self.endurance.plot(pen=pg.mkPen((31, 119, 180)), symbol="s", symbolSize=5,
                                             symbolBrush=(31, 119, 180), symbolPen=None, name="HRS")
        self.retention = _plot("Retention", ("G_corr / G0", None), ("Time after programming", "s"))
        self.retention.setLogMode(x=True)
        _grid_lines(self.retention)
        self.retention_curve = self.retention.plot(pen=pg.mkPen((31, 119, 180)), symbol="o", symbolSize=4,
                                                   symbolBrush=(31, 119, 180), symbolPen=None)

        self.tabs = QTabWidget()
        for name, w in (("I_i/I_1", self.ratio), ("Lag", self.lag), ("HRS/LRS", self.endurance),
                        ("Retention", self.retention)):
            self.tabs.addTab(w, name)

        bottom = QSplitter(Qt.Orientation.Horizontal)
        for w in (self.iv, self.hist, self.tabs):
            bottom.addWidget(w)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.main)
        split.addWidget(bottom)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(split, 1)

    # ------------------------------------------------------------------ settings
    def _invalidate(self, *_) -> None:
        self._drawn = (-1, None)

    def _x_changed(self, text: str) -> None:
        key, label, units = X_CHOICES[text]
        self.main.setLabel("bottom", label, units=units or None)
        _fast(self.main.getPlotItem(), key == "t")
        self.main.enableAutoRange()
        self._invalidate()

    def set_x(self, text: str) -> None:
        self.x_choice.setCurrentText(text)

    def set_compliance(self, limits: list[tuple[str, float]]) -> None:
        """Horizontal lines at the compliance limits (label, amperes) of the I–V view."""
        for line in self._compliance_lines:
            self.iv.removeItem(line)
        self._compliance_lines = []
        for name, amps in limits:
            if not amps or amps <= 0:
                continue
            line = pg.InfiniteLine(pos=np.log10(amps), angle=0, pen=COMPLIANCE, movable=False,
                                   label=f"{name} {pg.siFormat(amps, suffix='A')}",
                                   labelOpts={"position": 0.05, "color": (214, 39, 40), "anchors": [(0, 1), (0, 1)]})
            self.iv.addItem(line)
            self._compliance_lines.append(line)

    def show_view_for(self, procedure: str) -> None:
        """Bring forward the tab that fits the procedure."""
        tab = {"PulseTrain": "I_i/I_1", "Endurance": "HRS/LRS", "Retention": "Retention",
               "VoltageSweep": "HRS/LRS", "SetReset": "HRS/LRS", "CurrentSweep": "HRS/LRS"}.get(procedure)
        if tab:
            names = [self.tabs.tabText(k) for k in range(self.tabs.count())]
            self.tabs.setCurrentIndex(names.index(tab))

    # ------------------------------------------------------------------ drawing
    def tick(self) -> None:
        """Process the backlog under a budget, then redraw if anything changed."""
        self.state.process()
        self.redraw()

    def redraw(self, force: bool = False) -> bool:
        key = (self.state.version, self.x_choice.currentText())
        if key == self._drawn and not force:
            return False
        self._drawn = key
        s = self.state
        n = len(s.store)
        self._draw_main(s, n)
        self._draw_iv(s, n)
        edges, counts = s.histogram.edges, s.histogram.counts
        nz = np.flatnonzero(counts)
        top = int(nz[-1]) + 2 if nz.size else 1
        self.hist_curve.setData(edges[: top + 1], counts[:top])
        self._hist_range(edges, counts)
        self._draw_tabs(s)
        n_pl = len(s.plateaus)
        self.info.setText(f"{n:,} points · {n_pl:,} plateaus · R_s {s.r_series:g} Ω")
        self.redraws += 1
        self.redrawn.emit()
        return True

    def _main_xy(self, s: LiveState, n: int):
        key = X_CHOICES[self.x_choice.currentText()][0]
        if key == "t":
            return s.store["t"], 0
        if key == "pulse":
            return None, 0
        first = max(n - RECENT, 0)
        return s.store[key][first:], first

    def _draw_main(self, s: LiveState, n: int) -> None:
        x, first = self._main_xy(s, n)
        corrected = s.r_series > 0
        if x is None:  # per pulse: read G/G0 after each pulse, else G/G0 on the pulse top
            px, py = s.pulse_read.result()
            if not px.size:
                px, py = s.pulse_g.result()
            self.measured_curve.setData(px, py)
            self.corrected_curve.setData([], [])
            self.plateau_curve.setData([], [])
            self._place_labels([], [], [])
            return
        show_measured = self.show_measured.isChecked() or not corrected
        self.measured_curve.setData(x, s.store["g"][first:]) if show_measured else self.measured_curve.setData([], [])
        self.corrected_curve.setData(x, s.store["gc"][first:]) if corrected else self.corrected_curve.setData([], [])
        full_x = s.store[X_CHOICES[self.x_choice.currentText()][0]]
        xs, ys = s.plateau_segments(full_x, first)
        self.plateau_curve.setData(xs, ys, connect="pairs")
        recent = s.plateaus[-MAX_LABELS:]
        self._place_labels([full_x[min(p.start, n - 1)] if n else 0 for p in recent if p.start >= first],
                           [p.level for p in recent if p.start >= first],
                           [p.label for p in recent if p.start >= first])

    def _place_labels(self, xs, ys, texts) -> None:
        for k, label in enumerate(self.plateau_labels):
            if k < len(texts):
                label.setText(texts[k])
                label.setPos(float(xs[k]), float(ys[k]))
                label.show()
            else:
                label.hide()

    def _draw_iv(self, s: LiveState, n: int) -> None:
        first = max(n - RECENT, 0)
        v = s.store["v"][first:]
        i = np.maximum(np.abs(s.store["i"][first:]), 1e-15)
        self.iv_curve.setData(v, i)
        comp = np.flatnonzero(s.store["compliance"][first:])[-MAX_MARKS:]
        self.iv_marks.setData(v[comp], i[comp])

    def _hist_range(self, edges: np.ndarray, counts: np.ndarray) -> None:
        """Scale counts to the tallest bin at G >= 0.5 G0: the HRS bin near 0 would
        otherwise flatten the quantum peaks (it is drawn, clipped at the top)."""
        upper = counts[edges[:-1] >= 0.5]
        peak = int(upper.max()) if upper.size else 0
        if peak > 0:
            self.hist.setYRange(0, 1.15 * peak, padding=0)
        elif counts.any():
            self.hist.setYRange(0, 1.15 * int(counts.max()), padding=0)

    def _draw_tabs(self, s: LiveState) -> None:
        k, current = s.pulse_current.result()
        if current.size and current[0] != 0:
            self.ratio_curve.setData(k, current / current[0])
            self.lag_curve.setData(current[:-1], current[1:])
            lo, hi = float(np.min(current)), float(np.max(current))
            self.lag_diag.setData([lo, hi], [lo, hi])
        c, lrs = s.lrs.result()
        self.lrs_curve.setData(c, np.maximum(lrs, 1e-6))
        c, hrs = s.hrs.result()
        self.hrs_curve.setData(c, np.maximum(hrs, 1e-6))
        t, g = s.retention()
        self.retention_curve.setData(t, g)


__all__ = ["LivePlots", "X_CHOICES", "RECENT"]
