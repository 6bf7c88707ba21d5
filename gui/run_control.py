"""Run control: instrument, procedure, parameter form, run queue, status and log.

- :class:`InstrumentBox`: the simulator (preset, seed, time scale; optionally one of the
  simulated lab's resources, e.g. the 4200A at GPIB0::17::INSTR) or a VISA resource.
- :class:`labqc.gui.parameter_form.ParameterForm`: the procedure's parameters.
- :class:`RunManager`: a queue of runs, one :class:`labqc.gui.worker.RunWorker` at a time.
  A run is announced (``started``) only once the instrument has accepted every request;
  abort says "Stopping…" at once, stops the current run (the runner turns the outputs
  off) and holds the queue.
- :class:`LogPanel`: a line-capped log that keeps following its newest line.

Requests are checked against the instrument's limits before a run is queued when the
instrument is known without opening it (labqc.gui.limits), else right after opening it.
"""
from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from PyQt6.QtCore import QObject, Qt, pyqtSignal
from PyQt6.QtWidgets import (QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                             QLineEdit, QListWidget, QPlainTextEdit, QProgressBar, QPushButton,
                             QScrollArea, QSpinBox, QVBoxLayout, QWidget)

from labqc.gui.limits import check_requests_offline
from labqc.gui.parameter_form import ParameterForm
from labqc.gui.resolution_view import ResolutionView
from labqc.gui.worker import RunWorker
from labqc.instruments.errors import CapabilityError
from labqc.instruments.connect import SIM_2614B, SIM_4200A, SIM_4200A_LAN
from labqc.instruments.target import PRESETS, Target, TargetError
from labqc.procedures import PROCEDURES
from labqc.procedures.base import LabqcProcedure, ParameterError
from labqc.procedures.runner import ABORTED, FINISHED, RunResult, default_path
from labqc.quantity import parse_quantity

LOG_LINES = 2_000
STATUS_LINES = 3  # the status keeps this height whatever its text, so the buttons stay put


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


# ---------------------------------------------------------------------------- log
class _Bridge(QObject):
    line = pyqtSignal(str)


class LogPanel(QPlainTextEdit):
    """Read-only log with a line cap; also receives the labqc loggers (any thread).

    It follows the newest line unless the user scrolled up, also while hidden behind
    another tab (Qt only follows a log whose view is at its end when a line arrives, and a
    hidden view's end does not move)."""

    def __init__(self, max_lines: int = LOG_LINES, parent=None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(max_lines)
        self.following = True
        self.verticalScrollBar().actionTriggered.connect(self._user_scrolled)
        self._bridge = _Bridge()
        self._bridge.line.connect(self._append)
        self.handler = _SignalHandler(self._bridge)
        self.handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                                    "%H:%M:%S"))
        for name in ("labqc", "procedures", "instruments", "gui"):
            logging.getLogger(name).addHandler(self.handler)

    def _user_scrolled(self, action: int) -> None:
        bar = self.verticalScrollBar()
        # Emitted with the slider already where the user's action puts it.
        self.following = bar.sliderPosition() >= bar.maximum() - 1

    def _append(self, line: str) -> None:
        self.appendPlainText(line)
        if self.following:
            self.verticalScrollBar().setValue(self.verticalScrollBar().maximum())

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.following:
            self.verticalScrollBar().setValue(self.verticalScrollBar().maximum())

    def log(self, message: str) -> None:
        self._append(f"{time.strftime('%H:%M:%S')} {message}")

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

    started = pyqtSignal(object)  # QueuedRun: the instrument accepted it, rows follow
    chunk = pyqtSignal(object)
    progress = pyqtSignal(object)
    finished = pyqtSignal(object, object)  # QueuedRun, RunResult or str (refused)
    stopping = pyqtSignal(object)  # QueuedRun: abort asked for, the instrument is stopping
    message = pyqtSignal(str)
    queue_changed = pyqtSignal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.queue: deque[QueuedRun] = deque()
        self.worker: RunWorker | None = None
        self.current: QueuedRun | None = None
        self.paused = False
        self.is_stopping = False

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
        """Stop the current run (outputs off when the runner returns); hold the queue.
        Returns at once: ``stopping`` now, ``finished`` when the instrument has stopped."""
        if self.worker is None or self.is_stopping:
            return
        self.paused = True
        self.is_stopping = True
        self.worker.abort()
        self.message.emit("abort requested; waiting for the instrument to stop")
        self.stopping.emit(self.current)

    def _next(self) -> None:
        if self.worker is not None or self.paused or not self.queue:
            return
        run = self.queue.popleft()
        self.queue_changed.emit()
        self.current = run
        worker = RunWorker(run.procedure, run.path, run.target)
        worker.accepted.connect(lambda r=run: self._accepted(r))
        worker.chunk.connect(self.chunk)
        worker.progress.connect(self.progress)
        worker.finished_run.connect(lambda result, r=run: self._done(r, result))
        worker.refused.connect(lambda msg, r=run: self._refused(r, msg))
        self.worker = worker
        self.message.emit(f"opening the instrument for {run.title}")
        worker.start()

    def _accepted(self, run: QueuedRun) -> None:
        self.started.emit(run)
        self.message.emit(f"started {run.title}")

    def _release(self) -> None:
        worker, self.worker = self.worker, None
        self.is_stopping = False
        if worker is not None:
            worker.wait()
            worker.deleteLater()

    def _done(self, run: QueuedRun, result: RunResult) -> None:
        self._release()
        self.finished.emit(run, result)
        self._next()

    def _refused(self, run: QueuedRun, msg: str) -> None:
        self._release()
        self.message.emit(f"{run.title} refused: {msg}")  # the one log line of a refusal
        self.paused = True
        self.finished.emit(run, msg)

    def shutdown(self, timeout_ms: int = 30_000) -> None:
        """Abort and wait (application closing): the runner leaves the outputs off."""
        self.queue.clear()
        if self.worker is not None:
            self.worker.abort()
            if self.worker.wait(timeout_ms):
                self._release()  # not busy any more, even before its queued signals arrive


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
        # The form is as wide as the panel; messages wrap instead of widening it.
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.form)
        # Under the form, of fixed height: the buttons below it never move.
        self.resolution = ResolutionView(self.form.build_quietly, self.instrument.target)
        self.directory = QLineEdit(str(directory))
        self.run_button = QPushButton("Run")
        self.abort_button = QPushButton("Abort")
        self.resume_button = QPushButton("Resume queue")
        self.clear_button = QPushButton("Clear queue")
        self.queue_list = QListWidget()
        self.queue_list.setMaximumHeight(80)
        self.status = QLabel("Idle")
        self.status.setWordWrap(True)
        self.status.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.status.setFixedHeight(STATUS_LINES * self.status.fontMetrics().lineSpacing() + 4)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.eta = QLabel("")
        self.eta.setFixedHeight(self.eta.fontMetrics().lineSpacing() + 4)
        self._t_start = 0.0
        self._claimed: set[Path] = set()  # results paths handed out this session

        layout = QVBoxLayout(self)
        layout.addWidget(self.instrument)
        row = QFormLayout()
        row.addRow("Procedure", self.procedure)
        row.addRow("Results folder", self.directory)
        layout.addLayout(row)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.resolution)
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
        self.form.changed.connect(self.resolution.schedule)
        self.instrument.kind.currentIndexChanged.connect(self.resolution.schedule)
        self.instrument.resource.currentTextChanged.connect(self.resolution.schedule)
        self.form.set_procedure(PROCEDURES[self.procedure.currentText()])
        self.run_button.clicked.connect(self.request_run)
        self.abort_button.clicked.connect(manager.abort)
        self.resume_button.clicked.connect(manager.resume)
        self.clear_button.clicked.connect(manager.clear)
        manager.queue_changed.connect(self._show_queue)
        manager.started.connect(self._started)
        manager.stopping.connect(self._stopping)
        manager.progress.connect(self._progress)
        manager.finished.connect(self._finished)
        self._update_buttons()

    def set_status(self, text: str) -> None:
        self.status.setText(text)
        self.status.setToolTip(text)

    def _refuse(self, message: str) -> None:
        self.form.message.setText(message)
        self.set_status(f"Refused: {message}")

    def request_run(self) -> QueuedRun | None:
        """Validate the form, check the requests against the instrument's limits when they
        are known, and queue a run; None (message shown, nothing queued) when refused."""
        try:
            target = self.instrument.target()
            proc = self.form.build()
            check_requests_offline(proc, target)
        except (ParameterError, CapabilityError) as exc:
            self._refuse(str(exc))
            self.manager.message.emit(f"{self.procedure.currentText()} refused: {exc}")
            return None
        self.form.message.setText("")
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
        self.abort_button.setEnabled(self.manager.busy and not self.manager.is_stopping)
        self.resume_button.setEnabled(self.manager.paused and bool(self.manager.queue) and not self.manager.busy)

    def _started(self, run: QueuedRun) -> None:
        self._t_start = time.monotonic()
        self.set_status(f"Running {run.title}")
        self.progress.setValue(0)
        self.eta.setText("")
        self._update_buttons()

    def _stopping(self, run: QueuedRun) -> None:
        self.set_status(f"Stopping… {run.title if run else ''} (turning the outputs off)")
        self.eta.setText("")
        self._update_buttons()

    def _progress(self, p) -> None:
        if self.manager.is_stopping:
            return  # a late progress report must not bring an ETA back
        self.progress.setValue(int(1000 * p.fraction))
        wall = time.monotonic() - self._t_start
        eta = wall * (1 - p.fraction) / p.fraction if p.fraction > 0 else float("nan")
        self.eta.setText(f"{100 * p.fraction:.1f} % · instrument {p.elapsed:,.1f} of ~{p.total:,.1f} s · "
                         f"ETA {eta:,.0f} s")

    def _finished(self, run: QueuedRun, result) -> None:
        if isinstance(result, RunResult):
            self.set_status(status_text(result))
            if result.status == FINISHED:
                self.progress.setValue(1000)
                self.eta.setText("done")
            else:
                self.eta.setText(f"stopped at {self.progress.value() / 10:.1f} %")
        else:
            self._refuse(str(result))
            self.eta.setText("")
        self._update_buttons()


__all__ = ["RunControl", "RunManager", "InstrumentBox", "LogPanel", "QueuedRun", "status_text"]
