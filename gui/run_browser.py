"""The run catalog in the dashboard: filter runs by sample, device, procedure and date,
open one into the views, or pool a selection into the histogram view.

:class:`CatalogBrowser` reads the catalog (labqc.catalog) on demand: a query is a few
milliseconds, so it runs in the GUI thread; pooling reads every selected file
(labqc.pooled) and runs in a :class:`PoolWorker` thread. :meth:`CatalogBrowser.attach`
connects it to the main window: "Open" shows a run as the file browser does, "Pool"
shows the pooled R_s-corrected 0.05 G0 histogram (R_s per device) in the histogram view.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QDate, QThread, pyqtSignal
from PyQt6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDateEdit, QHBoxLayout, QLabel,
                             QLineEdit, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from labqc.catalog import Catalog, CatalogError, catalog_path
from labqc.pooled import Pool, PooledResult

COLUMNS = ("id", "started", "sample", "device", "procedure", "status", "rows", "file")
ANY = "(any)"


class PoolWorker(QThread):
    """Pools runs in a thread: ``done(PooledResult)`` or ``failed(message)``."""

    done = pyqtSignal(object)
    failed = pyqtSignal(str)

    def __init__(self, runs: list[dict], parent=None) -> None:
        super().__init__(parent)
        self.runs = runs

    def run(self) -> None:
        try:
            pool = Pool()
            for run in self.runs:
                pool.add(run)
            if not pool.used:
                raise ValueError(f"none of the {len(self.runs)} runs could be read")
            self.done.emit(pool.finish())
        except Exception as exc:  # one line in the log; the GUI goes on
            self.failed.emit(f"pooling failed: {exc}")


class CatalogBrowser(QWidget):
    """Filters, a table of runs, Open and Pool."""

    open_requested = pyqtSignal(object)  # Path of a results file
    pooled = pyqtSignal(object)  # PooledResult
    message = pyqtSignal(str)

    def __init__(self, directory: str | Path = "results", catalog: str | Path | None = None, parent=None) -> None:
        super().__init__(parent)
        self.path = catalog_path(catalog, beside=directory)
        self.runs: list[dict] = []
        self.worker: PoolWorker | None = None
        self.catalog_edit = QLineEdit(str(self.path))
        self.sample, self.device, self.procedure = (self._combo() for _ in range(3))
        self.use_dates = QCheckBox("from")
        self.since, self.until = QDateEdit(QDate.currentDate().addMonths(-1)), QDateEdit(QDate.currentDate())
        for edit in (self.since, self.until):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.status = QLabel("")
        self.open_button, self.pool_button = QPushButton("Open run"), QPushButton("Pool selection")
        refresh = QPushButton("Refresh")
        self._layout(refresh)
        refresh.clicked.connect(self.refresh)
        self.catalog_edit.editingFinished.connect(self._catalog_changed)
        for combo in (self.sample, self.device, self.procedure):
            combo.currentTextChanged.connect(lambda *_: self.query())
        for w in (self.since, self.until):
            w.dateChanged.connect(lambda *_: self.query())
        self.use_dates.toggled.connect(lambda *_: self.query())
        self.open_button.clicked.connect(self.open_selected)
        self.pool_button.clicked.connect(self.pool_selected)
        self.table.itemDoubleClicked.connect(lambda *_: self.open_selected())
        self.refresh()

    def _layout(self, refresh: QPushButton) -> None:
        top = QHBoxLayout()
        top.addWidget(QLabel("Catalog"))
        top.addWidget(self.catalog_edit, 1)
        top.addWidget(refresh)
        filters = QHBoxLayout()
        for label, w in (("Sample", self.sample), ("Device", self.device), ("Procedure", self.procedure)):
            filters.addWidget(QLabel(label))
            filters.addWidget(w, 1)
        filters.addWidget(self.use_dates)
        filters.addWidget(self.since)
        filters.addWidget(QLabel("to"))
        filters.addWidget(self.until)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.pool_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

    @staticmethod
    def _combo() -> QComboBox:
        combo = QComboBox()
        combo.addItem(ANY)
        return combo

    # ------------------------------------------------------------------ reading
    def _catalog_changed(self) -> None:
        text = self.catalog_edit.text().strip()
        if text and Path(text) != self.path:
            self.path = catalog_path(text)
            self.refresh()

    def refresh(self) -> None:
        """Reload the filter choices and the table from the catalog."""
        try:
            with Catalog(self.path, create=False) as cat:
                choices = {c: cat.distinct(c) for c in ("sample", "device", "procedure")}
        except CatalogError as exc:
            self.status.setText(str(exc))
            self._fill([])
            return
        for combo, column in ((self.sample, "sample"), (self.device, "device"), (self.procedure, "procedure")):
            current = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems([ANY] + [v for v in choices[column] if v])
            combo.setCurrentText(current if current in choices[column] else ANY)
            combo.blockSignals(False)
        self.query()

    def filters(self) -> dict:
        out: dict = {}
        for key, combo in (("sample", self.sample), ("device", self.device), ("procedure", self.procedure)):
            if combo.currentText() not in (ANY, ""):
                out[key] = [combo.currentText()]
        if self.use_dates.isChecked():
            since = self.since.date().toPyDate()
            until = self.until.date().toPyDate()
            out["since"] = datetime(since.year, since.month, since.day).timestamp()
            out["until"] = datetime(until.year, until.month, until.day, 23, 59, 59).timestamp()
        return out

    def query(self) -> list[dict]:
        try:
            with Catalog(self.path, create=False) as cat:
                runs = cat.runs(**self.filters())
        except CatalogError as exc:
            self.status.setText(str(exc))
            runs = []
        self._fill(runs)
        return runs

    def _fill(self, runs: list[dict]) -> None:
        self.runs = runs
        self.table.setRowCount(len(runs))
        for row, run in enumerate(runs):
            started = datetime.fromtimestamp(run["started"]).strftime("%Y-%m-%d %H:%M") if run["started"] else ""
            values = (run["id"], started, run["sample"], run["device"], run["procedure"], run["status"],
                      f"{run['rows']:,}", run["file"])
            for col, value in enumerate(values):
                item = QTableWidgetItem(str(value))
                item.setToolTip(run["path"])
                self.table.setItem(row, col, item)
        if runs:
            self.status.setText(f"{len(runs)} runs")

    def selected(self) -> list[dict]:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        return [self.runs[r] for r in rows]

    # ------------------------------------------------------------------ actions
    def open_selected(self) -> None:
        chosen = self.selected()
        if chosen:
            self.open_requested.emit(Path(chosen[0]["path"]))

    def pool_selected(self) -> PoolWorker | None:
        chosen = [r for r in (self.selected() or self.runs) if r["status"] != "running"]
        if not chosen or (self.worker is not None and self.worker.isRunning()):
            return None
        self.status.setText(f"pooling {len(chosen)} runs…")
        self.worker = PoolWorker(chosen, self)
        self.worker.done.connect(self._pooled)
        self.worker.failed.connect(self.status.setText)
        self.worker.failed.connect(self.message.emit)
        self.worker.start()
        return self.worker

    def _pooled(self, result: PooledResult) -> None:
        rs = ", ".join(f"{d} {r:.0f} Ω" for d, r in result.r_series.items())
        text = f"pooled {len(result.runs)} runs, {result.samples} samples; R_s per device: {rs or 'none'}"
        self.status.setText(text)
        self.message.emit(text)
        self.pooled.emit(result)

    # ------------------------------------------------------------------ the window
    def attach(self, window) -> None:
        """Connect to the main window (labqc.gui.app.MainWindow): open runs into its views,
        show pooled histograms in its histogram view, log to its log, refresh after runs."""
        self.open_requested.connect(window.open_file)
        self.message.connect(window.log.log)
        self.pooled.connect(lambda result: window._set_state(pooled_state(result)))
        window.manager.finished.connect(lambda *_: self.refresh())


def pooled_state(result: PooledResult):
    """A finished LiveState whose histogram is the pooled R_s-corrected one (the other
    views stay empty: pooled runs have no single trace)."""
    from labqc.gui.live_state import LiveState

    state = LiveState()
    edges = state.histogram.edges
    if edges.size != result.edges.size or not np.allclose(edges, result.edges):
        raise ValueError("the pooled histogram and the view have different bins")
    state.histogram.counts[:] = np.round(result.corrected).astype(np.int64)
    state.finish()
    state.version += 1
    return state


__all__ = ["CatalogBrowser", "PoolWorker", "pooled_state"]
