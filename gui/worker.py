"""A QThread that runs one procedure with :func:`labqc.procedures.runner.run_procedure`.

The instrument is opened, driven and closed in this thread only; the GUI thread never
calls it. What the run produces reaches the GUI as queued Qt signals:

- ``chunk(dict)``: the rows of one batch as numpy columns (labqc.gui.stream_buffer), converted
  here so that the GUI thread only copies arrays;
- ``progress(object)``: labqc.procedures.base.Progress;
- ``finished_run(object)``: the RunResult (finished / aborted / failed, outputs off);
- ``refused(str)``: the run never started (bad parameters, the instrument cannot do a
  request, the instrument cannot be opened), one sentence.

:meth:`abort` only sets a flag; the runner polls it after every chunk, stops, and turns
the outputs off before it returns.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QThread, pyqtSignal

from labqc.gui.stream_buffer import chunk_from_frame
from labqc.instruments.target import Target
from labqc.procedures.base import LabqcProcedure


class RunWorker(QThread):
    chunk = pyqtSignal(object)
    progress = pyqtSignal(object)
    finished_run = pyqtSignal(object)
    refused = pyqtSignal(str)

    def __init__(self, procedure: LabqcProcedure, path: str | Path, target: Target | None = None,
                 parent=None) -> None:
        super().__init__(parent)
        self.procedure = procedure
        self.target = target
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
            self.chunk.emit(chunk_from_frame(payload))
        elif topic == "progress":
            self.progress.emit(payload)

    def run(self) -> None:  # in the worker thread
        from labqc.procedures.runner import run_procedure

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.result = run_procedure(self.procedure, self.path, target=self.target, listeners=[self._listen],
                                        should_stop=self._stop.is_set)
        except Exception as exc:  # refused before anything was energised; one sentence
            self.refused.emit(str(exc) or type(exc).__name__)
            return
        self.finished_run.emit(self.result)


__all__ = ["RunWorker"]
