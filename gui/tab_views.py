"""The per-procedure views in the dashboard's tabs, each drawn from a LiveState:

- pulse trains: I_i/I_1 against pulse number, the polar plot (radius I_i/I_1, angle
  (i−1)·π) and the lag plot I_{i+1} against I_i with the unity line;
- potentiation/depression: G at the read against pulse number with the non-linearity
  fits of labqc.fits, A_LTP and A_LTD with their uncertainty in the legend;
- cycling: HRS and LRS per cycle (log), and the level per cycle on the quantum grid (the
  LRS read, or for current sweeps the highest G reached in each cycle);
- retention: G/G0 against log time.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QTabWidget

from labqc.gui.live_state import LiveState
from labqc.gui.plot_kit import grid_lines, make_plot
from labqc.gui.view_plan import TABS

BLUE, RED, PURPLE, GREY = (31, 119, 180), (214, 39, 40), (148, 103, 189), (120, 120, 120)


def _points(plot: pg.PlotWidget, colour, symbol: str = "o", name: str | None = None, line: bool = False):
    return plot.plot(pen=pg.mkPen(colour) if line else None, symbol=symbol, symbolSize=5, symbolBrush=colour,
                     symbolPen=None, name=name)


class TabViews(QTabWidget):
    """All tab views; :meth:`show_only` keeps the tabs a procedure needs."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.per_cycle = "lrs"
        self._fit_key: tuple = ()
        self.ratio = make_plot("Pulse train", ("I_i / I_1", None), ("Pulse number", None))
        self.ratio_curve = self.ratio.plot(pen=pg.mkPen(BLUE), symbol="o", symbolSize=4, symbolBrush=BLUE,
                                           symbolPen=None)
        self.polar = make_plot("Polar plot: radius I_i/I_1, angle (i−1)·π", ("I_i/I_1 · sin θ", None),
                               ("I_i/I_1 · cos θ", None))
        self.polar.setAspectLocked(True)
        self.polar_curve = _points(self.polar, BLUE)
        self.lag = make_plot("Lag plot", ("I_i+1", "A"), ("I_i", "A"))
        self.lag_diag = self.lag.plot(pen=pg.mkPen(GREY, style=Qt.PenStyle.DashLine))
        self.lag_curve = _points(self.lag, PURPLE)
        self.fit = make_plot("Potentiation / depression", ("G_read / G0", None), ("Pulse number", None))
        self.fit.addLegend(offset=(-10, 10))
        self.ltp_points = _points(self.fit, RED, name="LTP reads")
        self.ltd_points = _points(self.fit, BLUE, "s", name="LTD reads")
        self.ltp_curve = self.fit.plot(pen=pg.mkPen(RED, width=2), name="A_LTP fit")
        self.ltd_curve = self.fit.plot(pen=pg.mkPen(BLUE, width=2), name="A_LTD fit")
        self.fit_text = ""
        self.endurance = make_plot("Endurance", ("G_read / G0", None), ("Cycle", None))
        self.endurance.setLogMode(y=True)
        self.endurance.addLegend(offset=(10, 10))
        self.lrs_curve = _points(self.endurance, RED, name="LRS", line=True)
        self.hrs_curve = _points(self.endurance, BLUE, "s", name="HRS", line=True)
        self.level = make_plot("Level per cycle", ("G_corr / G0", None), ("Cycle", None))
        grid_lines(self.level)
        self.level_curve = _points(self.level, RED)
        self.retention = make_plot("Retention", ("G_corr / G0", None), ("Time after programming", "s"))
        self.retention.setLogMode(x=True)
        self.retention.getAxis("bottom").enableAutoSIPrefix(False)  # decades of s, not of ks
        grid_lines(self.retention)
        self.retention_curve = self.retention.plot(pen=pg.mkPen(BLUE), symbol="o", symbolSize=4,
                                                   symbolBrush=BLUE, symbolPen=None)
        self.pages = dict(zip(TABS, (self.ratio, self.polar, self.lag, self.fit, self.endurance, self.level,
                                     self.retention)))
        for name, w in self.pages.items():
            self.addTab(w, name)
        self.titles = {w: w.getPlotItem().titleLabel.text for w in self.pages.values()}

    def plots(self) -> list[pg.PlotWidget]:
        return list(self.pages.values())

    def show_only(self, names: tuple[str, ...], per_cycle: str = "lrs") -> None:
        """Show these tabs (the first in front), hide the others."""
        self.per_cycle = per_cycle
        self.titles[self.level] = "Level reached per cycle" if per_cycle == "max" else "LRS level per cycle"
        for k, name in enumerate(TABS):
            self.setTabVisible(k, name in names)
        if names:
            self.setCurrentIndex(TABS.index(names[0]))

    def shown(self) -> list[str]:
        return [name for k, name in enumerate(TABS) if self.isTabVisible(k)]

    # ------------------------------------------------------------------ drawing
    def draw(self, s: LiveState) -> None:
        self._draw_pulses(s)
        self._draw_fit(s)
        c, lrs = s.lrs.result()
        self.lrs_curve.setData(c, np.maximum(lrs, 1e-6))
        c, hrs = s.hrs.result()
        self.hrs_curve.setData(c, np.maximum(hrs, 1e-6))
        c, g = s.cycle_max.result() if self.per_cycle == "max" else s.lrs.result()
        self.level_curve.setData(c, g)
        if g.size and np.isfinite(g).any():  # from 0, so that the quantum grid is in view
            self.level.setYRange(0.0, max(1.0, float(np.nanmax(g)) * 1.15), padding=0)
        t, g = s.retention()
        self.retention_curve.setData(t, g)

    def _draw_pulses(self, s: LiveState) -> None:
        k, current = s.pulse_current.result()
        if current.size and current[0] != 0:
            ratio = current / current[0]
            self.ratio_curve.setData(k, ratio)
            theta = (k - 1) * np.pi
            self.polar_curve.setData(ratio * np.cos(theta), ratio * np.sin(theta))
            self.lag_curve.setData(current[:-1], current[1:])
            lo, hi = float(np.min(current)), float(np.max(current))
            self.lag_diag.setData([lo, hi], [lo, hi])
        else:
            for curve in (self.ratio_curve, self.polar_curve, self.lag_curve, self.lag_diag):
                curve.setData([], [])

    def _draw_fit(self, s: LiveState) -> None:
        """Reads of the LTP (phase 1) and LTD (phase 2) trains with their fits; refitted
        only when reads were added (a fit takes a few ms)."""
        k, g = s.pulse_read.result()
        _, phase = s.pulse_phase.result()
        if phase.size != k.size:
            return
        key = (id(s), k.size, s.r_series)
        if key == self._fit_key:
            return
        self._fit_key = key
        legend = self.fit.getPlotItem().legend
        for points, curve, which, kind in ((self.ltp_points, self.ltp_curve, 1, "LTP"),
                                           (self.ltd_points, self.ltd_curve, 2, "LTD")):
            sel = np.round(phase) == which
            points.setData(k[sel], g[sel])
            curve.setData([], [])
            legend.getLabel(curve).setText(f"A_{kind}: not fitted")
        # Imported here: SciPy's optimizer costs ~35 MB resident, needed only once reads are fitted.
        from labqc.fits import fit_potentiation_depression

        fits = fit_potentiation_depression(k, g, np.round(phase))
        texts = []
        for curve, kind, which in ((self.ltp_curve, "LTP", 1), (self.ltd_curve, "LTD", 2)):
            f = fits[kind]
            if f is None:
                continue
            first = float(k[np.round(phase) == which].min())
            p = np.linspace(1.0, f.p_max, 200)
            curve.setData(p + first - 1.0, f(p))
            text = f"A_{kind} = {f.a:.3g} ± {f.sigma_a:.2g} pulses"
            legend.getLabel(curve).setText(text)
            texts.append(text)
        self.fit_text = "; ".join(texts)


__all__ = ["TabViews"]
