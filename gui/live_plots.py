"""The live views: pyqtgraph plots drawn from a :class:`labqc.gui.live_state.LiveState`.

Redrawn by one QTimer, never per chunk, and only when something changed: every tick
(25 ms) processes the rows that arrived since the last one and redraws the main plot,
in turn one of the other views (each at 10 Hz), so the main plot follows the stream at up
to 40 Hz and no tick repaints everything.

- G/G0 against time, V, I or pulse number, with the half-quantum grid and the plateau
  overlay (labqc.gui.overlay: levels from the data on screen and the toolbar's R_s,
  labels placed without overlaps, the legend naming the detector they came from);
- the I–V and the G/G0 histogram (labqc.gui.side_views);
- the per-procedure tabs of labqc.gui.tab_views, chosen by labqc.gui.view_plan;
- every view's title names the run on screen.

Speed: against time, every row is on screen, reduced to the min and max of each pixel
column (labqc.gui.envelope: a redraw while streaming folds in only the new rows). V and I
are not monotonic, so against them the views draw the newest RECENT rows instead (the
last cycles).
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QSplitter, QVBoxLayout, QWidget

from labqc.gui.envelope import ColumnEnvelope, pixel_steps
from labqc.gui.live_state import LiveState
from labqc.gui.plateau_labels import PlateauLabels
from labqc.gui.plot_kit import RangeKeeper, fast, grid_lines, grow, make_plot, nice_ceiling, span
from labqc.gui.side_views import RECENT, HistView, IVView
from labqc.gui.split_curve import SplitCurve
from labqc.gui.tab_views import TabViews
from labqc.gui.view_plan import ViewPlan, plan_for

TICK_MS = 25  # main plot at up to 40 Hz: 30 redraws/s with margin for a busy event loop
SECONDARY_EVERY = 4  # ticks per turn of the other views: each drawn on its own tick (10 Hz)
REFRESH_EVERY = 8  # main-plot redraws between moving a live tail into the cached history
STAGGER = 3  # ticks between the refreshes of the measured, corrected and plateau curves
MAX_SYMBOLS = 5_000  # per-pulse points drawn with symbols up to this many
MAIN, IV, HIST, TABS = "main", "iv", "hist", "tabs"  # groups of views redrawn together
SECONDARY = (IV, HIST, TABS)  # drawn on ticks 1, 2, 3 of each turn (tick 0: the main plot only)
X_CHOICES = {"Time": ("t", "Time", "s"), "Voltage": ("v", "Voltage", "V"),
             "Current": ("i", "Current", "A"), "Pulse number": ("pulse", "Pulse number", "")}

MEASURED = pg.mkPen((150, 150, 150), width=1)
CORRECTED = pg.mkPen((31, 119, 180), width=1)
PLATEAU = pg.mkPen((230, 85, 13), width=3)
VIEW_TITLES = {"main": "Conductance", "iv": "I–V", "vi": "V–I", "hist": "G histogram (0.05 G0 bins)"}


def _alias(view: str, name: str) -> property:
    """A read-only attribute that is ``name`` of the sub-view ``view``."""
    return property(lambda self: getattr(getattr(self, view), name))


class LivePlots(QWidget):
    """All live views of one LiveState; ``tick()`` processes the backlog and redraws."""

    redrawn = pyqtSignal()

    def __init__(self, state: LiveState, parent=None, *, interval_ms: int = TICK_MS) -> None:
        super().__init__(parent)
        self.state = state
        self.redraws = 0  # main-plot redraws
        self.secondary_redraws = 0  # I–V redraws
        self._ticks = 0
        self._drawn: dict[str, tuple] = {}
        self.envelope = ColumnEnvelope()
        self._envelope_for: tuple = ()
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
        fast(self.main.getPlotItem())
        grid_lines(self.main)
        self.main.addLegend(offset=(-10, 10))
        self.measured_curve = self.main.plot(pen=MEASURED, name="G/G0 measured")
        self.corrected_curve = self.main.plot(pen=CORRECTED, name="G_corr/G0 (R_s removed)")
        # Into the ViewBox, not the PlotItem: the PlotItem's settings (log mode,
        # downsampling) apply to traces, not to (start, stop) pairs of segments.
        self.plateau_curve = pg.PlotDataItem(pen=PLATEAU, connect="pairs", name="plateaus (online detector)")
        vb = self.main.getViewBox()
        vb.addItem(self.plateau_curve)
        self.main.getPlotItem().legend.addItem(self.plateau_curve, self.plateau_curve.name())
        for curve in (self.measured_curve, self.corrected_curve):
            # The dynamic range limit re-scans all samples for their bounds on every
            # setData; G/G0 has no outliers that large to guard against.
            curve.setDynamicRangeLimit(None)
        # Each drawn as a cached history and a live tail (labqc.gui.split_curve), stacked
        # measured < corrected < plateaus.
        self.splits = {}
        for z, (name, curve, kind) in enumerate((("measured", self.measured_curve, "finite"),
                                                 ("corrected", self.corrected_curve, "finite"),
                                                 ("plateaus", self.plateau_curve, "pairs"))):
            curve.setZValue(0.1 * z)
            self.splits[name] = SplitCurve(curve, vb, connect=kind, overlap=0 if kind == "pairs" else 2)
        self._split_key: tuple = ()
        self._labels_due = True  # lay the plateau labels out on this redraw
        self.labels = PlateauLabels(self.main)

        self.iv_view, self.hist_view = IVView(), HistView()
        self.iv, self.hist = self.iv_view.plot, self.hist_view.plot

        self.tabs = TabViews()
        self.main_range = RangeKeeper(self.main)
        # A new view range or width: the envelope is redone on the next tick.
        self.main.getViewBox().sigXRangeChanged.connect(self._main_stale)
        self.main.getViewBox().sigResized.connect(self._main_stale)

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

    # aliases kept for tests and benchmarks that reach the curves of the other views
    iv_curve = _alias("iv_view", "curve")
    _compliance_lines = _alias("iv_view", "compliance_lines")
    ratio_curve = _alias("tabs", "ratio_curve")
    lag_curve = _alias("tabs", "lag_curve")

    # ------------------------------------------------------------------ settings
    def _invalidate(self, *_) -> None:
        self._drawn = {}

    def _main_stale(self, *_) -> None:
        self._drawn.pop(MAIN, None)

    def _x_changed(self, text: str) -> None:
        key, label, units = X_CHOICES[text]
        self.main.setLabel("bottom", label, units=units or None)
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
        self.iv_view.set_mode(self.plan.iv)
        self.set_run_name(self.run_name)
        self._invalidate()
        return self.plan

    # ------------------------------------------------------------------ drawing
    def tick(self) -> None:
        """Take in the rows that arrived since the last tick and process the backlog under
        a budget, then redraw the main plot if its data or view changed, and one of the
        other views in turn: a paint of all views at once would block the event loop for
        the sum of their paint times."""
        self.state.process()
        self._ticks += 1
        turn = self._ticks % SECONDARY_EVERY
        groups = (MAIN, SECONDARY[turn - 1]) if 0 < turn <= len(SECONDARY) else (MAIN,)
        self._labels_due = turn == 0  # plateau labels follow at 10 Hz, on the lightest tick
        try:
            drawn = self.redraw(groups=groups)
        finally:
            self._labels_due = True
        if MAIN not in drawn and turn == 0 and self.labels.stale:
            self._layout_labels()

    def redraw(self, force: bool = False, groups: tuple[str, ...] = (MAIN,) + SECONDARY) -> list[str]:
        """Redraw the given groups of views whose data changed (all with ``force``);
        returns the groups redrawn."""
        s = self.state
        s.flush()
        if s is not self._state_drawn:  # another run or file: forget per-run drawing caches
            self._state_drawn = s
            for keeper in (self.main_range, self.iv_view.range, self.hist_view.range):
                keeper.current = None
            self.labels.hide()
            force = True
        key = (s.version, self.x_choice.currentText(), s.r_series)
        todo = [g for g in groups if force or self._drawn.get(g) != key]
        n = len(s.store)
        for group in todo:
            self._drawn[group] = key
            if group == MAIN:
                self._draw_main(s, n, force)
                self.info.setText(f"{n:,} points · {len(s.plateaus):,} plateaus · R_s {s.r_series:.0f} Ω")
                self.redraws += 1
            elif group == IV:
                self.iv_view.draw(s)
                self.secondary_redraws += 1  # counted for the I–V: the others follow in turn
            elif group == HIST:
                self.hist_view.draw(s)
            else:
                self.tabs.draw(s)
        if todo:
            self.redrawn.emit()
        return todo

    def _draw_main(self, s: LiveState, n: int, force: bool = False) -> None:
        key = X_CHOICES[self.x_choice.currentText()][0]
        corrected = s.r_series > 0
        splits = self.splits
        self._legend_plateaus(s)
        if key == "pulse":  # per pulse: read G/G0 after each pulse, else G/G0 on the pulse top
            px, py = s.pulse_read.result()
            if not px.size:
                px, py = s.pulse_g.result()
            few = px.size <= MAX_SYMBOLS
            splits["measured"].refresh(px, py, final=True, symbol="o" if few else None, symbolSize=4,
                                       symbolPen=None, symbolBrush=(90, 90, 90))
            splits["corrected"].clear()
            splits["plateaus"].clear()
            self._split_key = ()
            self.labels.hide()
            if px.size:
                self.main_range.set((0.0, nice_ceiling(float(px[-1]) + 1.0)),
                                    (-0.5, nice_ceiling(max(float(np.nanmax(py)), 1.0) * 1.1)))
            return
        self.measured_curve.setSymbol(None)
        first = 0 if key == "t" else max(n - RECENT, 0)
        x = rows = s.store.since(key, first)
        self._main_ranges(s, x)  # first: the envelope is taken for the range it will be seen in
        traces = [s.store["g"][first:]] + ([s.store["gc"][first:]] if corrected else [])
        if key == "t":
            x, traces = self._envelope(s, x, traces)
        else:  # a moving window of rows: only the points that move to another pixel
            x, traces = self._thin(x, traces)
        show_measured = self.show_measured.isChecked() or not corrected
        xs, ys = s.plateau_segments(rows, first)
        drawn = {"measured": (x, traces[0]) if show_measured else None,
                 "corrected": (x, traces[1]) if corrected else None, "plateaus": (xs, ys)}
        # The curves only grow at the end: redraw the tails, and move each into its cached
        # history every REFRESH_EVERY redraws, on different ticks (a refresh repaints the
        # whole curve), or all at once when the view changed. Against time the tail is the
        # envelope's last columns; against V or I (the newest RECENT rows, a moving window)
        # the rows since the last refresh, and rows leaving the window stay drawn until the
        # next refresh. Plateau lines against V or I are few: drawn whole every time.
        final = force or s.finished
        view = self.envelope.view if key == "t" else (key, tuple(map(tuple, self.main.getViewBox().viewRange())))
        split_key = (id(s), s.resets, s.r_series, show_measured, view, s.plateau_epoch)
        changed = final or split_key != self._split_key
        if changed:
            self._split_key = () if final else split_key
        for k, (name, data) in enumerate(drawn.items()):
            split = splits[name]
            window = key != "t" and name != "plateaus"
            if data is None:
                split.clear()
            elif changed or split.age >= REFRESH_EVERY or (key != "t" and not window):
                split.refresh(*data, final=final or key != "t")
                split.age = -STAGGER * k if changed else 0
                split.row = n
            elif window:  # the rows since the refresh, from the last one drawn then
                a = max(split.row - 1, first)
                split.set_tail(s.store.since(key, a), s.store["g" if name == "measured" else "gc"][a:n],
                               repeated=int(a == split.row - 1))
                split.age += 1
            else:
                split.extend(*data)
                split.age += 1
        self._legend_corrected(corrected)
        if force or self._labels_due:
            self._layout_labels()
        else:
            self.labels.stale = True

    def _envelope(self, s: LiveState, t: np.ndarray, traces: list[np.ndarray]):
        """The traces reduced to the min and max per pixel column of the view
        (labqc.gui.envelope); redone from the rows when the data changed in place."""
        token = (id(s), s.r_series, s.resets)
        if token != self._envelope_for:
            self._envelope_for = token
            self.envelope.invalidate()
        vb = self.main.getViewBox()
        x0, x1 = vb.viewRange()[0]
        return self.envelope.update(t, traces, x0, x1, int(round(vb.width())))

    def _thin(self, x: np.ndarray, traces: list[np.ndarray]):
        """The rows where any trace moves to another pixel of the view (labqc.gui.envelope
        .pixel_steps): a line through them differs from the full one by under a pixel."""
        vb = self.main.getViewBox()
        x_range, y_range = vb.viewRange()
        keep = np.zeros(x.size, dtype=bool)
        for y in traces:
            keep |= pixel_steps(x, y, tuple(x_range), tuple(y_range), vb.width(), vb.height())
        return x[keep], [y[keep] for y in traces]

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


__all__ = ["LivePlots", "X_CHOICES", "RECENT"]
