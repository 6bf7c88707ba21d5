"""`labqc gui --watch STATION`: a remote station's live run in the dashboard's views, read-only.

Data path: ChunkWatcher (labqc.procedures.station_stream, a SUB socket on the coordinator's
data proxy) in a QThread → each published chunk as the dashboard's Chunk
(gui/stream_buffer.chunk_from_rows), queued to the GUI thread → LiveState.append, whose
online plateau detector runs as for a local run → LivePlots. The window has no run
control: a watcher can only listen (the station takes control only from the directors it
trusts, through `labqc lab`).
"""
from __future__ import annotations

import sys
import threading

from PyQt6.QtCore import QThread, pyqtSignal
from PyQt6.QtWidgets import QApplication, QLabel, QMainWindow

from labqc.gui import lean_imports  # noqa: F401  (first: PyMeasure without IPython)
from labqc.gui.live_plots import LivePlots
from labqc.gui.live_state import LiveState
from labqc.gui.stream_buffer import chunk_from_rows
from labqc.online import warm_up
from labqc.procedures.station_stream import ChunkWatcher


class WatchThread(QThread):
    run_started = pyqtSignal(dict)  # the header of a run's first chunk (plan, run, procedure)
    chunk = pyqtSignal(object)      # a Chunk, converted in this thread
    run_ended = pyqtSignal(dict)

    def __init__(self, station: str, host: str, port: int, parent=None) -> None:
        super().__init__(parent)
        self.station, self.host, self.port = station, host, port
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        watcher = ChunkWatcher(self.station, self.host, self.port)
        current = None
        try:
            while not self._stop.is_set():
                got = watcher.receive(timeout_s=0.25)
                if got is None:
                    continue
                header, frame = got
                if frame is None:
                    self.run_ended.emit(header)
                    current = None
                    continue
                if current != header["run"]:  # a new run, or the middle of one when we joined
                    current = header["run"]
                    self.run_started.emit(header)
                self.chunk.emit(chunk_from_rows(frame))
        finally:
            watcher.close()


class WatchWindow(QMainWindow):
    """The live views of one station's running run; nothing in it can control the station."""

    def __init__(self, station: str, host: str = "127.0.0.1", port: int = 11099) -> None:
        super().__init__()
        self.station = station
        self.setWindowTitle(f"labqc — watching station {station} (read-only)")
        self.state = LiveState()
        self.joined_mid_run = False
        self.plots = LivePlots(self.state)
        self.setCentralWidget(self.plots)
        self.status = QLabel(f"waiting for a run on {station} ({host}:{port})")
        self.statusBar().addWidget(self.status)
        self.thread_ = WatchThread(station, host, port, self)
        self.thread_.run_started.connect(self._run_started)
        self.thread_.chunk.connect(self._on_chunk)
        self.thread_.run_ended.connect(self._run_ended)
        warm_up()  # the detector's compiled loop, loaded before the first chunk
        self.thread_.start()
        self.resize(1300, 850)

    def _run_started(self, header: dict) -> None:
        self.state = LiveState()
        self.plots.state = self.state
        if header.get("procedure"):
            self.plots.show_view_for(header["procedure"])
        self.joined_mid_run = header.get("seq", 0) != 0  # the rows before were not seen here
        joined = " (joined mid-run)" if self.joined_mid_run else ""
        self.status.setText(f"{self.station}: {header.get('plan', '')} {header.get('plan_run', '')}{joined}".strip())
        self.plots.redraw(force=True)

    def _on_chunk(self, chunk) -> None:
        self.state.append(chunk)

    def _run_ended(self, header: dict) -> None:
        self.state.finish()
        self.status.setText(f"{self.status.text()}: {header.get('status', '')}, {header.get('rows', 0):,} rows")

    def closeEvent(self, event) -> None:
        self.thread_.stop()
        self.thread_.wait(3000)
        super().closeEvent(event)


def main(station: str, host: str = "127.0.0.1", port: int = 11099, argv: list[str] | None = None) -> int:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    window = WatchWindow(station, host, port)
    window.show()
    return app.exec()


__all__ = ["WatchWindow", "WatchThread", "main"]
