"""The labqc dashboard's main window: run control on the left, live views in the middle,
the run browser and the log below.

Data path: RunWorker (its own thread: instrument, results file) → ``chunk`` signal,
queued to the GUI thread → LiveState.queue → taken in (numpy copies) and redrawn by LivePlots on
its 40 Hz timer. The GUI thread never talks to the instrument and never re-reads a file
that is being written.
"""
from __future__ import annotations

import gc
import sys
from pathlib import Path

import pyqtgraph as pg
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import (QApplication, QDockWidget, QDoubleSpinBox, QFileDialog, QLabel,
                             QMainWindow, QMessageBox, QScrollArea, QTabWidget, QToolBar)

from labqc.gui import lean_imports  # noqa: F401  (first: PyMeasure without IPython)
from labqc.gui.files import (FileLoader, RunBrowser, RunRecord, compliance_limits, export_png, provenance,
                             run_title, voltage_limits)
from labqc.gui import heap, settings
from labqc.gui.live_plots import LivePlots
from labqc.gui.live_state import LiveState
from labqc.gui.run_browser import CatalogBrowser
from labqc.gui.run_control import LogPanel, QueuedRun, RunControl, RunManager, status_text
from labqc.online import warm_up
from labqc.procedures.runner import RunResult

pg.setConfigOptions(background="w", foreground="k", antialias=False)
DEFAULT_TITLE = "labqc — quantum-conductance dashboard"


class MainWindow(QMainWindow):
    def __init__(self, *, preset: str | None = None, seed: int | None = None, resource: str | None = None,
                 directory: str | Path | None = None, restore: bool = True) -> None:
        """``preset``, ``seed``, ``resource``, ``directory``: None takes the remembered
        value (labqc.gui.settings), else the default; ``restore=False`` ignores what was
        remembered."""
        super().__init__()
        given = {k for k, v in (("preset", preset), ("seed", seed), ("resource", resource)) if v is not None}
        self.directory_given = directory is not None
        if resource and preset is None:
            preset = ""  # a resource alone is an instrument, not the simulated lab
        preset, seed = ("bfo" if preset is None else preset), (0 if seed is None else seed)
        resource, directory = resource or "", ("results" if directory is None else directory)
        self.setWindowTitle(DEFAULT_TITLE)
        self.state = LiveState()  # what the views show
        self.live_state: LiveState | None = None  # where the running run's rows go
        self.live_record: RunRecord | None = None
        self.loaders: list[FileLoader] = []
        self._closing = False  # Yes was answered to "Abort the run and close?"

        self.manager = RunManager(self)
        self.plots = LivePlots(self.state)
        self.setCentralWidget(self.plots)
        self.control = RunControl(self.manager, preset=preset, seed=seed, resource=resource,
                                  directory=directory)
        self.log = LogPanel()
        self.browser = RunBrowser()
        self._dock("Run control", self.control, Qt.DockWidgetArea.LeftDockWidgetArea)
        bottom = QTabWidget()
        bottom.addTab(self.log, "Log")
        bottom.addTab(self.browser, "Runs")
        self.catalog_browser = CatalogBrowser(directory)  # the run catalog (gui/run_browser.py)
        # Scrolled, so that its row of filters does not set the window's minimum width.
        catalog_scroll = QScrollArea()
        catalog_scroll.setWidgetResizable(True)
        catalog_scroll.setWidget(self.catalog_browser)
        bottom.addTab(catalog_scroll, "Catalog")
        self.bottom = bottom
        log_dock = self._dock("Log and runs", bottom, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.resizeDocks([log_dock], [140], Qt.Orientation.Vertical)
        self._toolbar()

        self.manager.started.connect(self._run_started)
        self.manager.chunk.connect(self._on_chunk)
        self.manager.finished.connect(self._run_finished)
        self.manager.message.connect(self.log.log)
        self.browser.chosen.connect(self.show_record)
        self.catalog_browser.attach(self)
        self.resize(1500, 950)
        if restore:
            settings.restore(self, keep=given)
        self.control.run_button.clicked.connect(lambda: settings.save(self))
        self._heap_timer = QTimer(self)  # freed chunk memory back to the system (gui/heap.py)
        self._heap_timer.setInterval(heap.EVERY_MS)
        self._heap_timer.timeout.connect(heap.give_back)
        self._heap_timer.start()
        warm_up()  # the detector's compiled loop, loaded before a run rather than at its first tick
        # A full garbage collection walks every tracked object: with Qt, pyqtgraph, pandas
        # and numpy imported that is ~10⁵ objects and 50-80 ms on the GUI thread, at a
        # random tick of a run. Start-up objects live as long as the window, so they are
        # collected once now and then left out of the collector's walks (closeEvent
        # gives them back).
        gc.collect()
        gc.freeze()

    # ------------------------------------------------------------------ layout
    def _dock(self, title: str, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        return dock

    def _toolbar(self) -> None:
        bar = QToolBar("Main", self)
        bar.setObjectName("main toolbar")
        self.addToolBar(bar)
        open_action = QAction("Open results…", self)
        open_action.setShortcut(QKeySequence.StandardKey.Open)
        open_action.triggered.connect(self._open_dialog)
        export_action = QAction("Export PNG…", self)
        export_action.triggered.connect(self._export_dialog)
        bar.addAction(open_action)
        bar.addAction(export_action)
        bar.addSeparator()
        bar.addWidget(QLabel(" Series resistance R_s "))
        self.r_series = QDoubleSpinBox()
        self.r_series.setRange(0.0, 1e6)
        self.r_series.setDecimals(1)
        self.r_series.setSingleStep(10.0)
        self.r_series.setSuffix(" Ω")
        self.r_series.setKeyboardTracking(False)
        self.r_series.valueChanged.connect(self.set_series_resistance)
        bar.addWidget(self.r_series)

    # ------------------------------------------------------------------ runs
    def _run_started(self, run: QueuedRun) -> None:
        """The instrument accepted the run: a fresh state, shown with its own views."""
        proc = run.procedure
        name = type(proc).__name__
        params = {p.name: str(p) for p in proc.parameter_objects().values()}
        state = LiveState(r_series=float(getattr(proc, "r_series", 0.0) or 0.0))
        state.compliance, state.voltage_limits = compliance_limits(params), voltage_limits(params)
        state.provenance, state.parameters = provenance(run.path, name, params), params
        self.live_state = state
        self.live_record = RunRecord(title=run.path.name, path=run.path, procedure=name, state=state,
                                     note="running")
        self.browser.pinned = self.live_record
        self.browser.add(self.live_record)
        self._show_state(state, name)

    def _on_chunk(self, chunk) -> None:
        """Rows of the running run go to its own state, whichever run is on screen (taken in
        at the views' next tick, several chunks at once)."""
        if self.live_state is not None:
            self.live_state.queue(chunk)

    def _run_finished(self, run: QueuedRun, result) -> None:
        if self.live_state is not None:
            self.live_state.finish()
        self.live_state = None
        self.browser.pinned = None
        self.browser.trim()
        if isinstance(result, RunResult):
            self.log.log(f"{run.title}: {status_text(result)}; data in {result.path}")
            if self.live_record is not None and self.live_record.path == run.path:
                self.live_record.note = f"{result.status}, {result.rows:,} rows"
                self.browser.refresh(self.live_record)
        # A refusal was logged once by the manager; a refused run was never shown.

    # ------------------------------------------------------------------ views
    def _set_state(self, state: LiveState) -> None:
        self.state = state
        self.plots.state = state
        self.plots.redraw(force=True)

    def _show_state(self, state: LiveState, procedure: str) -> None:
        """Put a run on screen: its views (labqc.gui.view_plan), its R_s in the toolbar, its
        name in the window title and in every view."""
        self.plots.show_view_for(procedure, state.parameters)
        self.r_series.blockSignals(True)
        self.r_series.setValue(state.r_series)
        self.r_series.blockSignals(False)
        title = run_title(state.provenance)
        self.plots.set_run_name(title)
        self.setWindowTitle(f"labqc — {title} ({procedure})" if title else DEFAULT_TITLE)
        self._set_state(state)

    def set_series_resistance(self, ohms: float) -> None:
        """The dashboard's R_s: corrected trace, histogram and detector follow."""
        self.state.set_series_resistance(float(ohms))
        self.log.log(f"series resistance set to {ohms:g} Ω")

    def show_record(self, record: RunRecord) -> None:
        """Show a run of the browser (re-read from its file if its arrays were dropped).
        A run in progress keeps streaming into its own state meanwhile."""
        if record.state is None:
            self.open_file(record.path, record=record)
            return
        self.browser.touch(record)
        self._show_loaded(record)

    def _show_loaded(self, record: RunRecord, header: dict | None = None) -> None:
        self._show_state(record.state, record.procedure)
        self.log.log(f"showing {record.title}: {record.note}")

    def open_file(self, path: str | Path, record: RunRecord | None = None) -> FileLoader:
        """Read a results file in a thread and show it when ready."""
        loader = FileLoader(path)
        self.loaders.append(loader)

        def loaded(new: RunRecord, header: dict) -> None:
            if record is None:
                self.browser.add(new)
                target = new
            else:
                record.state, record.note = new.state, new.note
                target = record
            self.browser.touch(target)  # shown runs are the newest: never trimmed while shown
            self._show_loaded(target, header)

        loader.loaded.connect(loaded)
        loader.failed.connect(self.log.log)
        loader.finished.connect(lambda: self.loaders.remove(loader))
        self.log.log(f"opening {path}")
        loader.start()
        return loader

    def _open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a results file", "", "Results (*.csv);;All (*)")
        if path:
            self.open_file(path)

    def default_export_path(self) -> Path:
        """<data file stem>_dashboard.png beside the data file of the run on screen."""
        for record in self.browser.records:
            if record.state is self.state:
                return record.path.with_name(f"{record.path.stem}_dashboard.png")
        return Path(self.control.directory.text().strip() or "results") / "dashboard.png"

    def _export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the views as PNG", str(self.default_export_path()),
                                              "PNG (*.png)")
        if path:
            self.export_png(path)

    def export_png(self, path: str | Path, whole_window: bool = False) -> Path:
        """The live views (or the whole window) as a PNG."""
        self.plots.redraw(force=True)
        out = export_png(self if whole_window else self.plots, path)
        self.log.log(f"exported {out}")
        return out

    def ask(self, question: str) -> bool:
        """A Yes/No question (No by default)."""
        reply = QMessageBox.question(self, "labqc", question, QMessageBox.StandardButton.Yes
                                     | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        return reply == QMessageBox.StandardButton.Yes

    def closeEvent(self, event) -> None:
        """Closing during a run asks first; Yes aborts the run and the window closes once
        the runner has turned the outputs off (the window stays responsive meanwhile)."""
        if self.manager.busy:
            event.ignore()
            if not self._closing and self.ask("A run is in progress. Abort the run and close?"):
                self._closing = True
                self.manager.queue.clear()
                self.manager.finished.connect(lambda *_: QTimer.singleShot(0, self.close))
                self.manager.abort()
            return
        self.manager.shutdown()
        settings.save(self)
        for loader in list(self.loaders):
            loader.wait()
        self.log.detach()
        gc.unfreeze()
        super().closeEvent(event)


def main(*, preset: str | None = None, seed: int | None = None, resource: str | None = None,
         argv: list[str] | None = None) -> int:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    window = MainWindow(preset=preset, seed=seed, resource=resource)
    window.show()
    return app.exec()


__all__ = ["MainWindow", "main"]
