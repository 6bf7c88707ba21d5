"""The live views: pyqtgraph plots drawn from a :class:`labqc.gui.live_state.LiveState`.

Redrawn by a QTimer, never per chunk, and only when something changed: the timer ticks
every 45 ms and alternates between the main plot and the other views, so each is
redrawn at ~11 Hz (10 Hz with margin for a busy event loop) and no single tick repaints
everything.

- G/G0 against time, V, I or pulse number, with the half-quantum grid and the plateaus of
  the online detector as segments labelled with their level and confidence;
- I–V with log|I|, the compliance limits as lines and the points in compliance marked;
- the G/G0 histogram (0.05 G0 bins) accumulated over the whole run;
- tabs: I_i/I_1 and the lag plot of pulse trains, HRS/LRS per cycle (endurance),
  G/G0 against log time (retention).

Speed: peak downsampling and clip-to-view are set on the
PlotItem (options passed to a PlotDataItem are reset by addItem) for the time axis. V and
I are not monotonic, so against them clipping and automatic downsampling would be wrong;
those views draw the newest RECENT rows instead (the last cycles).
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import (QCheckBox, QComboBox, QGraphicsItem, QHBoxLayout, QLabel, QSplitter,
                             QTabWidget, QVBoxLayout, QWidget)

from labqc.gui.live_state import LiveState

RECENT = 50_000  # rows drawn against V or I, and in the I–V view
MAX_LABELS = 8  # plateau labels on screen (the longest of the newest ones)
# Peak-downsampled blocks per pixel of the main plot against time. A block is drawn as
# its min and max, so one block per pixel column already draws the exact envelope; the
# paint time grows with the blocks (each a vertical stroke: ~3 ms per 10³ blocks), and
# pyqtgraph's default of 5 per pixel drew the same picture at 10 ms per trace and paint.
DOWNSAMPLE_FACTOR = 1.5
MAX_SYMBOLS = 5_000  # per-pulse points drawn with symbols up to this many
GRID_MAX = 25.0  # G0: half-quantum lines up to here
GRID_SPAN = 1e9  # the grid lines run from -GRID_SPAN to +GRID_SPAN along the other axis
MAIN, SECONDARY = "main", "secondary"  # groups of views redrawn on alternate ticks
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
    for name in ("left", "bottom", "top", "right"):
        # Replaying an axis' text costs ~3 ms per paint offscreen; a pixmap cache makes an
        # unchanged axis a blit (pyqtgraph's update() on a range change invalidates it).
        w.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    return w


def _fast(item: pg.PlotItem, monotonic_x: bool) -> None:
    """PlotItem-level peak downsampling and clip-to-view (monotonic x only). The factor
    is set per trace by LivePlots._downsample: pyqtgraph's automatic one first copies
    the finite x values (10 MB at 10⁶ float64 samples) on every setData and view change."""
    item.setDownsampling(ds=1, auto=False, mode="peak")
    item.setClipToView(monotonic_x)


def _grid_lines(plot: pg.PlotWidget, vertical: bool = False) -> None:
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


def _nice_ceiling(x: float) -> float:
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


def _grow(hi: float, value: float) -> float:
    """Upper limit that jumps ahead by a quarter when ``value`` reaches it."""
    return hi if 0 < value <= hi else _nice_ceiling(max(value, 1e-9) * 1.25)


def _span(lo: float, hi: float) -> tuple[float, float]:
    """A coarse symmetric-ish range around [lo, hi] (each side a nice number)."""
    a = -_nice_ceiling(-lo * 1.05) if lo < 0 else 0.0
    b = _nice_ceiling(hi * 1.05) if hi > 0 else 0.0
    if a == b:
        a, b = a - 1.0, b + 1.0
    return float(a), float(b)


class LivePlots(QWidget):
    """All live views of one LiveState; ``tick()`` processes the backlog and redraws."""

    redrawn = pyqtSignal()

    def __init__(self, state: LiveState, parent=None, *, interval_ms: int = 45) -> None:
        super().__init__(parent)
        self.state = state
        self.redraws = 0  # main-plot redraws
        self.secondary_redraws = 0
        self._phase = 0
        self._drawn: dict[str, tuple] = {}
        self._compliance_lines: list[pg.InfiniteLine] = []
        self._labels: list = []
        self._state_drawn = None
        self._corrected_listed = True
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
        self.corrected_curve = self.main.plot(pen=CORRECTED, name="G_corr/G0 (R_s removed)")
        # Into the ViewBox, not the PlotItem: the PlotItem's peak downsampling would merge
        # the (start, stop) pairs of neighbouring segments once there are a few thousand.
        self.plateau_curve = pg.PlotDataItem(pen=PLATEAU, connect="pairs", name="plateaus (online)")
        self.main.getViewBox().addItem(self.plateau_curve)
        self.main.getPlotItem().legend.addItem(self.plateau_curve, self.plateau_curve.name())
        for curve in (self.measured_curve, self.corrected_curve):
            # The dynamic range limit re-scans all 10⁶ samples for their bounds on every
            # setData; G/G0 has no outliers that large to guard against.
            curve.setDynamicRangeLimit(None)
        self.plateau_labels = [pg.TextItem("", color=(180, 60, 0), anchor=(0, 1)) for _ in range(MAX_LABELS)]
        for label in self.plateau_labels:
            # Laying out rich text costs ~1 ms per label and paint; cache the rendered text.
            label.textItem.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            self.main.addItem(label, ignoreBounds=True)

        self.iv = _plot("I–V", ("|I|", "A"), ("Voltage", "V"))
        self.iv.setLogMode(y=True)
        self.iv.getAxis("left").enableAutoSIPrefix(False)  # decades of A, not of mA
        _fast(self.iv.getPlotItem(), False)
        self.iv.addLegend(offset=(-10, -10))
        self.iv_curve = self.iv.plot(pen=pg.mkPen((44, 160, 44), width=1), name="|I| (newest points)")
        self.iv_marks = self.iv.plot(pen=pg.mkPen((214, 39, 40), width=3), connect="finite",
                                     name="in compliance")

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
        self.retention.getAxis("bottom").enableAutoSIPrefix(False)  # decades of s, not of ks
        _grid_lines(self.retention)
        self.retention_curve = self.retention.plot(pen=pg.mkPen((31, 119, 180)), symbol="o", symbolSize=4,
                                                   symbolBrush=(31, 119, 180), symbolPen=None)

        self.main_range = RangeKeeper(self.main)
        self.main.getViewBox().sigXRangeChanged.connect(self._downsample)
        self.iv_range = RangeKeeper(self.iv)
        self.hist_range = RangeKeeper(self.hist)

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
        self._drawn = {}

    def _x_changed(self, text: str) -> None:
        key, label, units = X_CHOICES[text]
        self.main.setLabel("bottom", label, units=units or None)
        _fast(self.main.getPlotItem(), key == "t")
        self.main_range.on, self.main_range.current = True, None
        self._invalidate()

    def set_x(self, text: str) -> None:
        self.x_choice.setCurrentText(text)

    def set_compliance(self, limits: list[tuple[str, float]]) -> None:
        """Horizontal lines at the compliance limits (label, amperes) of the I–V view."""
        for line in self._compliance_lines:
            self.iv.removeItem(line)
        self._compliance_lines = []
        limits = [(name, amps) for name, amps in limits if amps and amps > 0]
        for k, (name, amps) in enumerate(sorted(limits, key=lambda item: item[1])):
            # Labels alternate between left and right so that close limits stay legible.
            line = pg.InfiniteLine(pos=np.log10(amps), angle=0, pen=COMPLIANCE, movable=False,
                                   label=f"{name} {pg.siFormat(amps, suffix='A')}",
                                   labelOpts={"position": 0.03 if k % 2 == 0 else 0.97, "color": (214, 39, 40),
                                              "anchors": [(0, 1), (0, 1)] if k % 2 == 0 else [(1, 1), (1, 1)]})
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
        """Process the backlog under a budget, then redraw one group of views if its data
        changed: the main plot on even ticks, the I–V, histogram and tab on odd ones, so
        that each group is redrawn at ~11 Hz and no tick paints everything at once."""
        self.state.process()
        self._phase ^= 1
        self.redraw(groups=(MAIN,) if self._phase else (SECONDARY,))

    def redraw(self, force: bool = False, groups: tuple[str, ...] = (MAIN, SECONDARY)) -> bool:
        """Redraw the given groups of views whose data changed (all with ``force``)."""
        s = self.state
        if s is not self._state_drawn:  # another run or file: forget per-run drawing caches
            self._state_drawn, self._labels = s, []
            for keeper in (self.main_range, self.iv_range, self.hist_range):
                keeper.current = None
            force = True
        key = (s.version, self.x_choice.currentText())
        todo = [g for g in groups if force or self._drawn.get(g) != key]
        if not todo:
            return False
        n = len(s.store)
        for group in todo:
            self._drawn[group] = key
            if group == MAIN:
                self._draw_main(s, n)
                self.info.setText(f"{n:,} points · {len(s.plateaus):,} plateaus · R_s {s.r_series:.0f} Ω")
                self.redraws += 1
            else:
                self._draw_iv(s, n)
                self._draw_hist(s)
                self._draw_tabs(s)
                self.secondary_redraws += 1
        self.redrawn.emit()
        return True

    def _draw_hist(self, s: LiveState) -> None:
        edges, counts = s.histogram.edges, s.histogram.counts
        nz = np.flatnonzero(counts)
        top = int(nz[-1]) + 2 if nz.size else 1
        self.hist_curve.setData(edges[: top + 1], counts[:top])
        self._hist_range(edges, counts)

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
            few = px.size <= MAX_SYMBOLS
            self.measured_curve.setData(px, py, symbol="o" if few else None, symbolSize=4, symbolPen=None,
                                        symbolBrush=(90, 90, 90))
            self.corrected_curve.setData([], [])
            self.plateau_curve.setData([], [])
            self._place_labels([], [], [])
            if px.size:
                self.main_range.set((0.0, _nice_ceiling(float(px[-1]) + 1.0)),
                                    (-0.5, _nice_ceiling(max(float(np.nanmax(py)), 1.0) * 1.1)))
            return
        self.measured_curve.setSymbol(None)
        self._downsample()
        show_measured = self.show_measured.isChecked() or not corrected
        self.measured_curve.setData(x, s.store["g"][first:]) if show_measured else self.measured_curve.setData([], [])
        self.corrected_curve.setData(x, s.store["gc"][first:]) if corrected else self.corrected_curve.setData([], [])
        self._main_ranges(s, x)
        full_x = s.store[X_CHOICES[self.x_choice.currentText()][0]]
        xs, ys = s.plateau_segments(full_x, first)
        self.plateau_curve.setData(xs, ys, connect="pairs")
        # Labels for the longest of the recent plateaus (short steps would pile up).
        recent = [p for p in s.plateaus[-5 * MAX_LABELS:] if p.start >= first]
        recent.sort(key=lambda p: (p.stop if p.stop is not None else s.fed_detector) - p.start, reverse=True)
        recent = sorted(recent[:MAX_LABELS], key=lambda p: p.start)
        self._place_labels([full_x[min(p.start, n - 1)] for p in recent] if n else [],
                           [p.level for p in recent], [p.label for p in recent])
        self._legend_corrected(corrected)

    def _downsample(self, *_) -> None:
        """Peak-downsample the traces against time to DOWNSAMPLE_FACTOR blocks per pixel
        of the samples in view (time is increasing, so two bisections find them)."""
        t = self.state.store["t"]
        ds = 1
        if X_CHOICES[self.x_choice.currentText()][0] == "t" and t.size:
            vb = self.main.getViewBox()
            x0, x1 = vb.viewRange()[0]
            shown = int(np.searchsorted(t, x1)) - int(np.searchsorted(t, x0))
            ds = max(1, int(shown / max(vb.width() * DOWNSAMPLE_FACTOR, 1.0)))
        for curve in (self.measured_curve, self.corrected_curve):
            # A new factor re-does the downsampling at once, so while streaming in (the
            # ideal factor creeping up every tick) the current one is kept within ±20 %.
            current = curve.opts["downsample"]
            if curve.opts["autoDownsample"] or not 0.8 * ds <= current <= 1.2 * ds:
                curve.setDownsampling(ds=ds, auto=False, method="peak")

    def _legend_corrected(self, corrected: bool) -> None:
        """The corrected trace is listed in the legend only while R_s > 0 (else it equals
        the measured one and is not drawn)."""
        if corrected == self._corrected_listed:
            return
        self._corrected_listed = corrected
        legend = self.main.getPlotItem().legend
        if corrected:
            legend.addItem(self.corrected_curve, self.corrected_curve.name())
        else:
            legend.removeItem(self.corrected_curve)

    def _main_ranges(self, s: LiveState, x: np.ndarray) -> None:
        """Time: from the first sample to a limit that jumps ahead by a quarter; V or I:
        the recent rows' span. G/G0 from -0.5 to a nice ceiling of the largest value."""
        if not x.size:
            return
        y_range = (-0.5, _nice_ceiling(max(s.g_max, 1.0) * 1.05))
        if X_CHOICES[self.x_choice.currentText()][0] == "t":
            x0, span = float(x[0]), float(x[-1]) - float(x[0])
            if s.finished:  # nothing more will come: fit the run
                x_range = (x0, x0 + max(span, 1e-9) * 1.02)
            else:
                current = self.main_range.current
                hi = current[0][1] - x0 if current else 0.0
                x_range = (x0, x0 + _grow(hi, span))
        else:
            x_range = _span(float(np.nanmin(x)), float(np.nanmax(x)))
        self.main_range.set(x_range, y_range)

    def _place_labels(self, xs, ys, texts) -> None:
        wanted = list(zip(texts, (float(x) for x in xs), (float(y) for y in ys)))
        if wanted == self._labels:
            return  # a TextItem re-lays out its text on every setText
        self._labels = wanted
        for k, label in enumerate(self.plateau_labels):
            if k < len(wanted):
                text, x, y = wanted[k]
                label.setText(text)
                label.setPos(x, y)
                label.show()
            else:
                label.hide()

    def _draw_iv(self, s: LiveState, n: int) -> None:
        first = max(n - RECENT, 0)
        v = s.store["v"][first:]
        i = np.maximum(np.abs(s.store["i"][first:]), np.float32(1e-15))
        self.iv_curve.setData(v, i)
        # The points in compliance, drawn over the curve (NaN elsewhere breaks the line).
        comp = s.store["compliance"][first:]
        self.iv_marks.setData(np.where(comp, v, np.nan), np.where(comp, i, np.nan))
        if v.size:
            limits = [10 ** line.value() for line in self._compliance_lines]
            top = max([float(np.max(i))] + limits)
            decades = np.log10([float(np.min(i)), top])
            self.iv_range.set(_span(float(np.min(v)), float(np.max(v))),
                              (float(np.floor(decades[0])), float(np.ceil(decades[1] + 0.3))))

    def _hist_range(self, edges: np.ndarray, counts: np.ndarray) -> None:
        """Counts scaled to the tallest bin at G >= 0.5 G0: the HRS bin near 0 would
        otherwise flatten the quantum peaks (it is drawn, clipped at the top)."""
        nz = np.flatnonzero(counts)
        if not nz.size:
            return
        upper = counts[edges[:-1] >= 0.5]
        peak = int(upper.max()) if upper.size and upper.any() else int(counts.max())
        self.hist_range.set((0.0, _nice_ceiling(float(edges[nz[-1] + 1]) + 0.25)),
                            (0.0, _nice_ceiling(1.1 * peak)))

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
