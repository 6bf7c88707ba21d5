"""A QThread that runs one procedure with :func:`labqc.procedures.runner.run_procedure`.

The instrument is opened, checked, driven and closed in this thread only; the GUI thread
never calls it. What the run produces reaches the GUI as queued Qt signals:

- ``accepted()``: the instrument is open and can do every request; the run starts now
  (the views are cleared for it only then, so a refused run leaves the screen alone);
- ``chunk(dict)``: the rows of one batch as numpy columns (labqc.gui.stream_buffer), converted
  here so that the GUI thread only copies arrays;
- ``progress(object)``: labqc.procedures.base.Progress;
- ``finished_run(object)``: the RunResult (finished / aborted / failed, outputs off);
- ``refused(str)``: the run never started (bad parameters, the instrument cannot do a
  request, the instrument cannot be opened), one sentence.

:meth:`abort` only sets a flag; the procedure polls it after every chunk, and the
drivers hand back a chunk (empty if need be) at least every second or so of a long wait
(instruments/keithley2614b.py, PATIENCE), so a stop is prompt; the runner turns the
outputs off before it returns.
"""
from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QThread, pyqtSignal

from labqc.gui.stream_buffer import chunk_from_rows
from labqc.instruments.target import Target
from labqc.procedures.base import LabqcProcedure


class RunWorker(QThread):
    accepted = pyqtSignal()
    chunk = pyqtSignal(object)
    progress = pyqtSignal(object)
    finished_run = pyqtSignal(object)
    refused = pyqtSignal(str)

    def __init__(self, procedure: LabqcProcedure, path: str | Path, target: Target | None = None,
                 parent=None) -> None:
        super().__init__(parent)
        self.procedure = procedure
        self.target = target if target is not None else Target()
        self.path = Path(path)
        self._stop = threading.Event()
        self.result = None

    def abort(self) -> None:
        self._stop.set()

    @property
    def abort_requested(self) -> bool:
        return self._stop.is_set()

    def _listen(self, topic: str, payload: Any) -> None:
        if topic == "batch":
            self.chunk.emit(chunk_from_rows(payload))
        elif topic == "progress":
            self.progress.emit(payload)

    def run(self) -> None:  # in the worker thread
        from labqc.procedures.runner import check_requests, run_procedure

        stack = contextlib.ExitStack()  # outputs off and the connection closed at the end
        try:
            self.procedure.validate()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            smu = stack.enter_context(self.target.session())
        except Exception as exc:  # refused before anything was energised; one sentence
            self.refused.emit(str(exc) or type(exc).__name__)
            return
        with stack:
            try:
                check_requests(self.procedure, smu)
            except Exception as exc:
                self.refused.emit(str(exc) or type(exc).__name__)
                return
            self.accepted.emit()
            try:
                self.result = run_procedure(self.procedure, self.path, target=self.target, smu=smu,
                                            listeners=[self._listen], should_stop=self._stop.is_set)
            except Exception as exc:  # e.g. the results file exists: nothing was energised
                self.refused.emit(str(exc) or type(exc).__name__)
                return
        self.finished_run.emit(self.result)


__all__ = ["RunWorker"]
