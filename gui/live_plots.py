"""The live views: pyqtgraph plots drawn from a :class:`labqc.gui.live_state.LiveState`.

Redrawn by a QTimer, never per chunk, and only when something changed: the timer ticks
every 45 ms and alternates between the main plot and the other views, so each is
redrawn at ~11 Hz (10 Hz with margin for a busy event loop) and no single tick repaints
everything.

- G/G0 against time, V, I or pulse number, with the half-quantum grid and the plateau
  overlay (labqc.gui.overlay: levels from the data on screen and the toolbar's R_s,
  labels placed without overlaps, the legend naming the detector they came from);
- I–V with log|I| and the compliance limits of the run on screen (as points for pulse
  procedures), or V against I for current sweeps;
- the G/G0 histogram (0.05 G0 bins), raw and R_s-corrected, over the whole run;
- the per-procedure tabs of labqc.gui.tab_views, chosen by labqc.gui.view_plan;
- every view's title names the run on screen.

Speed: peak downsampling and clip-to-view are set on the
PlotItem (options passed to a PlotDataItem are reset by addItem) for the time axis. V and
I are not monotonic, so against them clipping and automatic downsampling would be wrong;
those views draw the newest RECENT rows instead (the last cycles).
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QSplitter, QVBoxLayout, QWidget

from labqc.gui.live_state import LiveState
from labqc.gui.plateau_labels import PlateauLabels
from labqc.gui.plot_kit import RangeKeeper, fast, grid_lines, grow, make_plot, nice_ceiling, span
from labqc.gui.tab_views import TabViews
from labqc.gui.view_plan import ViewPlan, plan_for

RECENT = 50_000  # rows drawn against V or I, and in the I–V view
# Peak-downsampled blocks per pixel of the main plot against time. A block is drawn as
# its min and max, so one block per pixel column already draws the exact envelope; the
# paint time grows with the blocks (each a vertical stroke: ~3 ms per 10³ blocks), and
# pyqtgraph's default of 5 per pixel drew the same picture at 10 ms per trace and paint.
DOWNSAMPLE_FACTOR = 1.5
MAX_SYMBOLS = 5_000  # per-pulse points drawn with symbols up to this many
MAIN, SECONDARY = "main", "secondary"  # groups of views redrawn on alternate ticks
X_CHOICES = {"Time": ("t", "Time", "s"), "Voltage": ("v", "Voltage", "V"),
             "Current": ("i", "Current", "A"), "Pulse number": ("pulse", "Pulse number", "")}

MEASURED = pg.mkPen((150, 150, 150), width=1)
CORRECTED = pg.mkPen((31, 119, 180), width=1)
PLATEAU = pg.mkPen((230, 85, 13), width=3)
COMPLIANCE = pg.mkPen((214, 39, 40), width=1, style=Qt.PenStyle.DashLine)
VIEW_TITLES = {"main": "Conductance", "iv": "I–V", "vi": "V–I", "hist": "G histogram (0.05 G0 bins)"}


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
        self._compliance_drawn: tuple = ()
        self._state_drawn = None
        self._corrected_listed = True
        self.plan = plan_for("")
        self.run_name = ""
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

        self.main = make_plot("Conductance", ("G / G0", None), ("Time", "s"))
        fast(self.main.getPlotItem(), True)
        grid_lines(self.main)
        self.main.addLegend(offset=(-10, 10))
        self.measured_curve = self.main.plot(pen=MEASURED, name="G/G0 measured")
        self.corrected_curve = self.main.plot(pen=CORRECTED, name="G_corr/G0 (R_s removed)")
        # Into the ViewBox, not the PlotItem: the PlotItem's peak downsampling would merge
        # the (start, stop) pairs of neighbouring segments once there are a few thousand.
        self.plateau_curve = pg.PlotDataItem(pen=PLATEAU, connect="pairs", name="plateaus (online detector)")
        self.main.getViewBox().addItem(self.plateau_curve)
        self.main.getPlotItem().legend.addItem(self.plateau_curve, self.plateau_curve.name())
        for curve in (self.measured_curve, self.corrected_curve):
            # The dynamic range limit re-scans all 10⁶ samples for their bounds on every
            # setData; G/G0 has no outliers that large to guard against.
            curve.setDynamicRangeLimit(None)
        self.labels = PlateauLabels(self.main)

        self.iv = make_plot("I–V", ("|I|", "A"), ("Voltage", "V"))
        self.iv.setLogMode(y=True)
        self.iv.getAxis("left").enableAutoSIPrefix(False)  # decades of A, not of mA
        fast(self.iv.getPlotItem(), False)
        self.iv.addLegend(offset=(-10, -10))
        self.iv_curve = self.iv.plot(pen=pg.mkPen((44, 160, 44), width=1), name="|I| (newest points)")
        self.iv_marks = self.iv.plot(pen=pg.mkPen((214, 39, 40), width=3), connect="finite",
                                     name="in compliance")

        self.hist = make_plot("G histogram (0.05 G0 bins)", ("Counts", None), ("G / G0", None))
        grid_lines(self.hist, vertical=True)
        self.hist.addLegend(offset=(-10, 10))
        self.hist_raw = self.hist.plot(stepMode="center", pen=pg.mkPen((150, 150, 150)), name="measured")
        self.hist_curve = self.hist.plot(stepMode="center", fillLevel=0, pen=pg.mkPen((31, 119, 180)),
                                         brush=(31, 119, 180, 120), name="R_s corrected")

        self.tabs = TabViews()
        self.main_range = RangeKeeper(self.main)
        self.main.getViewBox().sigXRangeChanged.connect(self._downsample)
        self.iv_range = RangeKeeper(self.iv)
        self.hist_range = RangeKeeper(self.hist)

        bottom = QSplitter(Qt.Orientation.Horizontal)
        for w in (self.iv, self.hist, self.tabs):
            bottom.addWidget(w)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.main)
        split.addWidget(bottom)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        self.splitters = (split, bottom)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(split, 1)

    @property
    def plateau_labels(self) -> list:
        return self.labels.items

    # aliases kept for tests and benchmarks that reach the tab curves
    @property
    def ratio_curve(self):
        return self.tabs.ratio_curve

    @property
    def lag_curve(self):
        return self.tabs.lag_curve

    # ------------------------------------------------------------------ settings
    def _invalidate(self, *_) -> None:
        self._drawn = {}

    def _x_changed(self, text: str) -> None:
        key, label, units = X_CHOICES[text]
        self.main.setLabel("bottom", label, units=units or None)
        fast(self.main.getPlotItem(), key == "t")
        self.main_range.on, self.main_range.current = True, None
        self._invalidate()

    def set_x(self, text: str) -> None:
        self.x_choice.setCurrentText(text)

    def set_run_name(self, name: str) -> None:
        """Name the run on screen in every view's title (provenance of exports too)."""
        self.run_name = name
        self.main.setTitle(VIEW_TITLES["main"] + (f" — {name}" if name else ""))
        # The smaller views: the run on a second, smaller line, so that the title fits.
        small = f"<br><span style='font-size:8pt'>{name}</span>" if name else ""
        self.iv.setTitle(VIEW_TITLES["vi" if self.plan.iv == "vi" else "iv"] + small)
        self.hist.setTitle(VIEW_TITLES["hist"] + small)
        for plot in self.tabs.plots():
            plot.setTitle(self.tabs.titles[plot] + small)

    def show_view_for(self, procedure: str, parameters: dict[str, str] | None = None) -> ViewPlan:
        """Open the views the procedure's users look at (labqc.gui.view_plan)."""
        self.plan = plan_for(procedure, parameters)
        self.tabs.show_only(self.plan.tabs, self.plan.per_cycle)
        self.set_x(self.plan.x)
        vi = self.plan.iv == "vi"
        self.iv.setLogMode(y=not vi)
        self.iv.setLabel("left", "Voltage" if vi else "|I|", units="V" if vi else "A")
        self.iv.setLabel("bottom", "Current" if vi else "Voltage", units="A" if vi else "V")
        points = self.plan.iv == "points"
        self.iv_curve.setPen(None if points else pg.mkPen((44, 160, 44), width=1))
        self.iv_curve.setSymbol("o" if points else None)
        self.iv_curve.setSymbolSize(3)
        self.iv_curve.setSymbolPen(None)
        self.iv_curve.setSymbolBrush((44, 160, 44))
        self.iv_marks.setPen(None if points else pg.mkPen((214, 39, 40), width=3))
        self.iv_marks.setSymbol("o" if points else None)
        self.iv_marks.setSymbolBrush((214, 39, 40))
        self.iv_marks.setSymbolPen(None)
        legend = self.iv.getPlotItem().legend.getLabel(self.iv_curve)
        if legend is not None:
            legend.setText("V (newest points)" if vi else "|I| (newest points)")
        self.iv_range.on, self.iv_range.current = True, None
        self._compliance_drawn = ()
        self.set_run_name(self.run_name)
        self._invalidate()
        return self.plan

    # ------------------------------------------------------------------ drawing
    def tick(self) -> None:
        """Process the backlog under a budget, then redraw one group of views if its data
        changed: the main plot on even ticks, the I–V, histogram and tab on odd ones, so
        that each group is redrawn at ~11 Hz and no tick paints everything at once."""
        self.state.process()
        self._phase ^= 1
        if not self.redraw(groups=(MAIN,) if self._phase else (SECONDARY,)) and self.labels.stale:
            self._layout_labels()

    def redraw(self, force: bool = False, groups: tuple[str, ...] = (MAIN, SECONDARY)) -> bool:
        """Redraw the given groups of views whose data changed (all with ``force``)."""
        s = self.state
        if s is not self._state_drawn:  # another run or file: forget per-run drawing caches
            self._state_drawn = s
            for keeper in (self.main_range, self.iv_range, self.hist_range):
                keeper.current = None
            self.labels.hide()
            force = True
        key = (s.version, self.x_choice.currentText(), s.r_series)
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
                self.tabs.draw(s)
                self.secondary_redraws += 1
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
        self._legend_plateaus(s)
        if x is None:  # per pulse: read G/G0 after each pulse, else G/G0 on the pulse top
            px, py = s.pulse_read.result()
            if not px.size:
                px, py = s.pulse_g.result()
            few = px.size <= MAX_SYMBOLS
            self.measured_curve.setData(px, py, symbol="o" if few else None, symbolSize=4, symbolPen=None,
                                        symbolBrush=(90, 90, 90))
            self.corrected_curve.setData([], [])
            self.plateau_curve.setData([], [])
            self.labels.hide()
            if px.size:
                self.main_range.set((0.0, nice_ceiling(float(px[-1]) + 1.0)),
                                    (-0.5, nice_ceiling(max(float(np.nanmax(py)), 1.0) * 1.1)))
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
        self._legend_corrected(corrected)
        self._layout_labels()

    def _layout_labels(self) -> None:
        key_x = X_CHOICES[self.x_choice.currentText()][0]
        first = 0 if key_x == "t" else max(len(self.state.store) - RECENT, 0)
        self.labels.layout(self.state, key_x, first)

    def _legend_plateaus(self, s: LiveState) -> None:
        """The legend names where the plateaus on screen came from."""
        text = f"plateaus ({s.plateau_source})"
        label = self.main.getPlotItem().legend.getLabel(self.plateau_curve)
        if label is not None and label.text != text:
            label.setText(text)

    # ------------------------------------------------------------------ labels
    # ------------------------------------------------------------------ other views
    def _sync_compliance(self, s: LiveState) -> None:
        """Lines at the limits of the run on screen: current compliance on the I–V, the
        voltage limit on the V–I view."""
        vi = self.plan.iv == "vi"
        limits = s.voltage_limits if vi else s.compliance
        key = (id(s), vi, tuple(limits))
        if key == self._compliance_drawn:
            return
        self._compliance_drawn = key
        for line in self._compliance_lines:
            self.iv.removeItem(line)
        self._compliance_lines = []
        unit = "V" if vi else "A"
        shown = sorted(((name, value) for name, value in limits if value and value > 0), key=lambda item: item[1])
        for k, (name, value) in enumerate(shown):
            # Labels alternate between left and right so that close limits stay legible.
            for sign in ((1, -1) if vi else (1,)):
                line = pg.InfiniteLine(pos=sign * value if vi else np.log10(value), angle=0, pen=COMPLIANCE,
                                       movable=False, label=f"{name} {pg.siFormat(value, suffix=unit)}",
                                       labelOpts={"position": 0.03 if k % 2 == 0 else 0.97, "color": (214, 39, 40),
                                                  "anchors": [(0, 1), (0, 1)] if k % 2 == 0 else [(1, 1), (1, 1)]})
                self.iv.addItem(line)
                self._compliance_lines.append(line)

    def _draw_iv(self, s: LiveState, n: int) -> None:
        self._sync_compliance(s)
        first = max(n - RECENT, 0)
        v = s.store["v"][first:]
        i = s.store["i"][first:]
        comp = s.store["compliance"][first:]
        if self.plan.iv == "vi":  # V against I, linear
            self.iv_curve.setData(i, v)
            self._marks(i, v, comp)
            if v.size:
                limits = [abs(line.value()) for line in self._compliance_lines]
                top = max([float(np.max(np.abs(v)))] + limits)
                self.iv_range.set(span(float(np.min(i)), float(np.max(i))), span(-top if np.min(v) < 0 else 0.0, top))
            return
        i = np.maximum(np.abs(i), np.float32(1e-15))
        self.iv_curve.setData(v, i)
        self._marks(v, i, comp)
        if v.size:
            limits = [10 ** line.value() for line in self._compliance_lines]
            top = max([float(np.max(i))] + limits)
            decades = np.log10([float(np.min(i)), top])
            self.iv_range.set(span(float(np.min(v)), float(np.max(v))),
                              (float(np.floor(decades[0])), float(np.ceil(decades[1] + 0.6))))

    def _marks(self, x: np.ndarray, y: np.ndarray, comp: np.ndarray) -> None:
        """The points in compliance, drawn over the I–V: as points, or as a line with NaN
        elsewhere to break it."""
        if self.plan.iv == "points":
            self.iv_marks.setData(x[comp], y[comp])
        else:
            self.iv_marks.setData(np.where(comp, x, np.nan), np.where(comp, y, np.nan))

    def _draw_hist(self, s: LiveState) -> None:
        edges, counts = s.histogram.edges, s.histogram.counts
        nz = np.flatnonzero(counts)
        top = int(nz[-1]) + 2 if nz.size else 1
        self.hist_curve.setData(edges[: top + 1], counts[:top])
        if s.r_series > 0:  # raw and corrected differ only with an R_s
            raw = s.histogram_raw.counts
            self.hist_raw.setData(edges[: top + 1], raw[:top])
        else:
            self.hist_raw.setData([], [])
        self._hist_range(edges, counts)

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
        y_range = (-0.5, nice_ceiling(max(s.g_max, 1.0) * 1.05))
        if X_CHOICES[self.x_choice.currentText()][0] == "t":
            x0, width = float(x[0]), float(x[-1]) - float(x[0])
            if s.finished:  # nothing more will come: fit the run
                x_range = (x0, x0 + max(width, 1e-9) * 1.02)
            else:
                current = self.main_range.current
                hi = current[0][1] - x0 if current else 0.0
                x_range = (x0, x0 + grow(hi, width))
        else:
            x_range = span(float(np.nanmin(x)), float(np.nanmax(x)))
        self.main_range.set(x_range, y_range)

    def _hist_range(self, edges: np.ndarray, counts: np.ndarray) -> None:
        """Counts scaled to the tallest bin at G >= 0.5 G0: the HRS bin near 0 would
        otherwise flatten the quantum peaks (it is drawn, clipped at the top)."""
        nz = np.flatnonzero(counts)
        if not nz.size:
            return
        upper = counts[edges[:-1] >= 0.5]
        peak = int(upper.max()) if upper.size and upper.any() else int(counts.max())
        self.hist_range.set((0.0, nice_ceiling(float(edges[nz[-1] + 1]) + 0.25)),
                            (0.0, nice_ceiling(1.1 * peak)))


__all__ = ["LivePlots", "X_CHOICES", "RECENT"]
