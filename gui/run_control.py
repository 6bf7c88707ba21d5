"""Run control: instrument, procedure, parameter form, run queue, status and log.

- :class:`InstrumentBox`: the simulator (preset, seed, time scale; optionally one of the
  simulated lab's resources, e.g. the 4200A at GPIB0::17::INSTR) or a VISA resource.
- :class:`ParameterForm`: generated from the procedure's Parameters (units, defaults,
  help as tool tips); values may carry SI prefixes (``5mA``); each bad value and the
  procedure's own ``validate()`` sentence is shown inline, and nothing runs until the form
  is valid.
- :class:`RunManager`: a queue of runs, one :class:`labqc.gui.worker.RunWorker` at a time;
  abort stops the current run (the runner turns the outputs off) and holds the queue.
- :class:`LogPanel`: a line-capped log (QPlainTextEdit.setMaximumBlockCount).
"""
from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QObject, Qt, pyqtSignal
from PyQt6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                             QLineEdit, QListWidget, QPlainTextEdit, QProgressBar, QPushButton,
                             QScrollArea, QSpinBox, QVBoxLayout, QWidget)

from labqc.gui.worker import RunWorker
from labqc.instruments.connect import SIM_2614B, SIM_4200A, SIM_4200A_LAN
from labqc.instruments.target import PRESETS, Target, TargetError
from labqc.procedures import PROCEDURES
from labqc.procedures.base import (BooleanParameter, LabqcProcedure, ListParameter, ParameterError,
                             parameter_specs)
from labqc.procedures.cli import parse_value
from labqc.quantity import parse_quantity
from labqc.procedures.runner import ABORTED, FINISHED, RunResult, default_path

LOG_LINES = 2_000
ERROR_STYLE = "color: #c0392b;"


# ---------------------------------------------------------------------------- instrument
class InstrumentBox(QGroupBox):
    """Which instrument: the simulator, or a VISA resource."""

    def __init__(self, preset: str = "bfo", seed: int = 0, resource: str = "", parent=None) -> None:
        super().__init__("Instrument", parent)
        self.kind = QComboBox()
        self.kind.addItems(["Simulator", "VISA resource"])
        self.resource = QComboBox()
        self.resource.setEditable(True)
        self.resource.addItems(["", SIM_2614B, SIM_4200A, SIM_4200A_LAN])
        self.resource.lineEdit().setPlaceholderText("built-in simulated 2614B")
        self.preset = QComboBox()
        self.preset.addItems(list(PRESETS))
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.time_scale = QLineEdit("0")
        self.time_scale.setToolTip("wall seconds per instrument second (0: as fast as possible)")
        form = QFormLayout(self)
        form.addRow("Kind", self.kind)
        form.addRow("Resource", self.resource)
        form.addRow("Preset", self.preset)
        form.addRow("Seed", self.seed)
        form.addRow("Time scale", self.time_scale)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.preset.setCurrentText(preset)
        self.seed.setValue(int(seed))
        self.resource.setCurrentText(resource)
        if resource and not preset:
            self.kind.setCurrentIndex(1)
        self._kind_changed()

    @property
    def simulated(self) -> bool:
        return self.kind.currentIndex() == 0

    def _kind_changed(self, *_) -> None:
        for w in (self.preset, self.seed, self.time_scale):
            w.setEnabled(self.simulated)
        self.resource.lineEdit().setPlaceholderText(
            "built-in simulated 2614B" if self.simulated else "e.g. GPIB0::26::INSTR")

    def target(self) -> Target:
        """Where the run is measured; ParameterError (one sentence) when it cannot be."""
        resource = self.resource.currentText().strip()
        if not self.simulated:
            if not resource:
                raise ParameterError("give the VISA resource of the instrument (e.g. GPIB0::26::INSTR) "
                                     "or choose the simulator")
            return Target(resource)
        try:
            scale = parse_quantity(self.time_scale.text().strip() or "0")
        except ValueError as exc:
            raise ParameterError(f"Time scale {self.time_scale.text()!r} {exc}") from None
        try:
            return Target(resource, self.preset.currentText(), int(self.seed.value()), scale)
        except TargetError as exc:
            raise ParameterError(str(exc)) from None


# ---------------------------------------------------------------------------- parameters
class ParameterForm(QWidget):
    """The parameters of one procedure class, with inline messages."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.cls: type[LabqcProcedure] | None = None
        self.fields: dict[str, tuple[Any, QWidget, QLabel]] = {}
        self.layout_ = QFormLayout(self)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setStyleSheet(ERROR_STYLE)

    def set_procedure(self, cls: type[LabqcProcedure]) -> None:
        while self.layout_.rowCount():
            self.layout_.removeRow(0)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setStyleSheet(ERROR_STYLE)
        self.cls, self.fields = cls, {}
        for attr, param in parameter_specs(cls):
            widget = self._editor(param)
            widget.setToolTip(cls.HELP.get(attr, param.name))
            error = QLabel("")
            error.setStyleSheet(ERROR_STYLE)
            error.hide()
            units = getattr(param, "units", None)
            box = QWidget()
            row = QHBoxLayout(box)
            row.setContentsMargins(0, 0, 0, 0)
            row.addWidget(widget, 1)
            row.addWidget(QLabel(units or ""))
            col = QVBoxLayout()
            col.setSpacing(0)
            holder = QWidget()
            holder.setLayout(col)
            col.setContentsMargins(0, 0, 0, 0)
            col.addWidget(box)
            col.addWidget(error)
            self.layout_.addRow(param.name, holder)
            self.fields[attr] = (param, widget, error)
            if isinstance(widget, QLineEdit):
                widget.editingFinished.connect(lambda a=attr: self._check_field(a))
        self.layout_.addRow(self.message)

    @staticmethod
    def _editor(param: Any) -> QWidget:
        if isinstance(param, BooleanParameter):
            w = QCheckBox()
            w.setChecked(bool(param.value))
            return w
        if isinstance(param, ListParameter):
            w = QComboBox()
            w.addItems([str(c) for c in param.choices])
            w.setCurrentText(str(param.value))
            return w
        w = QLineEdit(f"{param.value:g}" if isinstance(param.value, float) else str(param.value))
        return w

    def text(self, attr: str) -> str:
        _, w, _ = self.fields[attr]
        if isinstance(w, QCheckBox):
            return "true" if w.isChecked() else "false"
        if isinstance(w, QComboBox):
            return w.currentText()
        return w.text()

    def set_value(self, attr: str, text: str) -> None:
        _, w, _ = self.fields[attr]
        if isinstance(w, QCheckBox):
            w.setChecked(text.lower() in ("true", "1", "yes", "on"))
        elif isinstance(w, QComboBox):
            w.setCurrentText(text)
        else:
            w.setText(text)

    def _check_field(self, attr: str) -> str:
        """Check one value; show and return its message ('' when fine)."""
        param, _, error = self.fields[attr]
        text = self.text(attr)
        try:
            parse_value(param, text)
            msg = ""
        except ValueError as exc:
            msg = f"{param.name} {text!r} {exc}"
        error.setText(msg)
        error.setVisible(bool(msg))
        return msg

    def build(self) -> LabqcProcedure:
        """The procedure with the form's values; ParameterError (one sentence, also shown
        in the form) when a value or the procedure's validate() refuses them."""
        assert self.cls is not None
        try:
            messages = [m for m in (self._check_field(a) for a in self.fields) if m]
            if messages:
                raise ParameterError(messages[0])
            proc = self.cls()
            specs = dict(parameter_specs(self.cls))
            values = {a: self.text(a) for a in self.fields}
            for attr, text in values.items():
                param = specs[attr]
                try:
                    setattr(proc, attr, param.convert(parse_value(param, str(text))))
                except ValueError as exc:
                    raise ParameterError(f"{param.name} {text!r} {exc}") from None
            proc.validate()
        except ParameterError as exc:
            self.message.setText(str(exc))
            raise
        self.message.setText("")
        return proc


# ---------------------------------------------------------------------------- log
class _Bridge(QObject):
    line = pyqtSignal(str)


class LogPanel(QPlainTextEdit):
    """Read-only log with a line cap; also receives the labqc loggers (any thread)."""

    def __init__(self, max_lines: int = LOG_LINES, parent=None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(max_lines)
        self._bridge = _Bridge()
        self._bridge.line.connect(self.appendPlainText)
        self.handler = _SignalHandler(self._bridge)
        self.handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                                    "%H:%M:%S"))
        for name in ("labqc", "procedures", "instruments", "gui"):
            logging.getLogger(name).addHandler(self.handler)

    def log(self, message: str) -> None:
        self.appendPlainText(f"{time.strftime('%H:%M:%S')} {message}")

    def detach(self) -> None:
        for name in ("labqc", "procedures", "instruments", "gui"):
            logging.getLogger(name).removeHandler(self.handler)


class _SignalHandler(logging.Handler):
    def __init__(self, bridge: _Bridge) -> None:
        super().__init__(logging.INFO)
        self.bridge = bridge

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.bridge.line.emit(self.format(record))
        except RuntimeError:  # the panel is gone (application closing)
            pass


# ---------------------------------------------------------------------------- queue
@dataclass
class QueuedRun:
    procedure: LabqcProcedure
    path: Path
    target: Target

    @property
    def title(self) -> str:
        return f"{type(self.procedure).__name__} → {self.path.name}"


class RunManager(QObject):
    """A queue of runs executed one after the other in a RunWorker thread."""

    started = pyqtSignal(object)  # QueuedRun
    chunk = pyqtSignal(object)
    progress = pyqtSignal(object)
    finished = pyqtSignal(object, object)  # QueuedRun, RunResult or None (refused)
    message = pyqtSignal(str)
    queue_changed = pyqtSignal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.queue: deque[QueuedRun] = deque()
        self.worker: RunWorker | None = None
        self.current: QueuedRun | None = None
        self.paused = False

    @property
    def busy(self) -> bool:
        return self.worker is not None

    def enqueue(self, run: QueuedRun) -> None:
        self.queue.append(run)
        self.queue_changed.emit()
        self.message.emit(f"queued {run.title}")
        self.paused = False
        self._next()

    def resume(self) -> None:
        self.paused = False
        self._next()

    def clear(self) -> None:
        self.queue.clear()
        self.queue_changed.emit()

    def abort(self) -> None:
        """Stop the current run (outputs off when the runner returns); hold the queue."""
        if self.worker is not None:
            self.paused = True
            self.worker.abort()
            self.message.emit("abort requested; waiting for the instrument to stop")

    def _next(self) -> None:
        if self.worker is not None or self.paused or not self.queue:
            return
        run = self.queue.popleft()
        self.queue_changed.emit()
        self.current = run
        worker = RunWorker(run.procedure, run.path, run.target)
        worker.chunk.connect(self.chunk)
        worker.progress.connect(self.progress)
        worker.finished_run.connect(lambda result, r=run: self._done(r, result))
        worker.refused.connect(lambda msg, r=run: self._refused(r, msg))
        self.worker = worker
        self.started.emit(run)
        self.message.emit(f"started {run.title}")
        worker.start()

    def _release(self) -> None:
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.wait()
            worker.deleteLater()

    def _done(self, run: QueuedRun, result: RunResult) -> None:
        self._release()
        self.finished.emit(run, result)
        self._next()

    def _refused(self, run: QueuedRun, msg: str) -> None:
        self._release()
        self.message.emit(f"{run.title} refused: {msg}")
        self.paused = True
        self.finished.emit(run, msg)

    def shutdown(self, timeout_ms: int = 30_000) -> None:
        """Abort and wait (application closing): the runner leaves the outputs off."""
        self.queue.clear()
        if self.worker is not None:
            self.worker.abort()
            self.worker.wait(timeout_ms)


def status_text(result: RunResult) -> str:
    """One line on how a run ended; the runner turned the outputs off in every case."""
    if result.status == FINISHED:
        return f"Finished — {result.rows:,} rows, outputs off"
    if result.status == ABORTED:
        return f"Aborted — outputs off ({result.rows:,} rows kept)"
    return f"Failed — outputs off: {result.error}"


# ---------------------------------------------------------------------------- panel
class RunControl(QWidget):
    """The left-hand panel: instrument, procedure, parameters, buttons, queue, status."""

    def __init__(self, manager: RunManager, *, preset: str = "bfo", seed: int = 0, resource: str = "",
                 directory: str | Path = "results", parent=None) -> None:
        super().__init__(parent)
        self.manager = manager
        self.instrument = InstrumentBox(preset, seed, resource)
        self.procedure = QComboBox()
        self.procedure.addItems(list(PROCEDURES))
        self.form = ParameterForm()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form)
        self.directory = QLineEdit(str(directory))
        self.run_button = QPushButton("Run")
        self.abort_button = QPushButton("Abort")
        self.resume_button = QPushButton("Resume queue")
        self.clear_button = QPushButton("Clear queue")
        self.queue_list = QListWidget()
        self.queue_list.setMaximumHeight(80)
        self.status = QLabel("Idle")
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.eta = QLabel("")
        self._t_start = 0.0
        self._claimed: set[Path] = set()  # results paths handed out this session

        layout = QVBoxLayout(self)
        layout.addWidget(self.instrument)
        row = QFormLayout()
        row.addRow("Procedure", self.procedure)
        row.addRow("Results folder", self.directory)
        layout.addLayout(row)
        layout.addWidget(scroll, 1)
        buttons = QHBoxLayout()
        for b in (self.run_button, self.abort_button):
            buttons.addWidget(b)
        layout.addLayout(buttons)
        buttons2 = QHBoxLayout()
        for b in (self.resume_button, self.clear_button):
            buttons2.addWidget(b)
        layout.addLayout(buttons2)
        layout.addWidget(QLabel("Queue"))
        layout.addWidget(self.queue_list)
        layout.addWidget(self.status)
        layout.addWidget(self.progress)
        layout.addWidget(self.eta)

        self.procedure.currentTextChanged.connect(lambda name: self.form.set_procedure(PROCEDURES[name]))
        self.form.set_procedure(PROCEDURES[self.procedure.currentText()])
        self.run_button.clicked.connect(self.request_run)
        self.abort_button.clicked.connect(manager.abort)
        self.resume_button.clicked.connect(manager.resume)
        self.clear_button.clicked.connect(manager.clear)
        manager.queue_changed.connect(self._show_queue)
        manager.started.connect(self._started)
        manager.progress.connect(self._progress)
        manager.finished.connect(self._finished)
        self._update_buttons()

    def request_run(self) -> QueuedRun | None:
        """Validate the form and queue a run; None (message shown) when refused."""
        try:
            target = self.instrument.target()
            proc = self.form.build()
        except ParameterError as exc:
            self.form.message.setText(str(exc))
            self.status.setText(f"Refused: {exc}")
            return None
        path = default_path(proc, self.directory.text().strip() or "results")
        stem, n = path.stem, 1
        while path in self._claimed:  # queued within the same second as another run
            n += 1
            path = path.with_name(f"{stem}-q{n}.csv")
        self._claimed.add(path)
        run = QueuedRun(proc, path, target)
        self.manager.enqueue(run)
        self._update_buttons()
        return run

    def _show_queue(self) -> None:
        self.queue_list.clear()
        self.queue_list.addItems([r.title for r in self.manager.queue])
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.abort_button.setEnabled(self.manager.busy)
        self.resume_button.setEnabled(self.manager.paused and bool(self.manager.queue) and not self.manager.busy)

    def _started(self, run: QueuedRun) -> None:
        self._t_start = time.monotonic()
        self.status.setText(f"Running {run.title}")
        self.progress.setValue(0)
        self.eta.setText("")
        self._update_buttons()

    def _progress(self, p) -> None:
        self.progress.setValue(int(1000 * p.fraction))
        wall = time.monotonic() - self._t_start
        eta = wall * (1 - p.fraction) / p.fraction if p.fraction > 0 else float("nan")
        self.eta.setText(f"{100 * p.fraction:.1f} % · instrument {p.elapsed:,.1f} of ~{p.total:,.1f} s · "
                         f"ETA {eta:,.0f} s")

    def _finished(self, run: QueuedRun, result) -> None:
        if isinstance(result, RunResult):
            self.status.setText(status_text(result))
            if result.status == FINISHED:
                self.progress.setValue(1000)
                self.eta.setText("done")
        else:
            self.status.setText(f"Refused: {result}")
        self._update_buttons()


__all__ = ["RunControl", "RunManager", "ParameterForm", "InstrumentBox", "LogPanel", "QueuedRun",
           "status_text"]
