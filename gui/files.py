"""Past runs: open results files into the live views, export PNGs, and the run browser.

- :func:`load_run` reads a results file (``pandas.read_csv(comment="#")`` through
  labqc.results.read_data) into a :class:`labqc.gui.live_state.LiveState`; its plateaus come
  from the offline detector (labqc.plateaus.analyze, R_s estimated by the comb fit unless
  one is given), not from the online one. :class:`FileLoader` does it in a thread.
- :func:`export_png` grabs a widget (the plot area) into a PNG.
- :class:`RunBrowser` lists runs; only the newest ``keep`` keep their arrays in memory,
  older ones fall back to their file path and are re-read when selected.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QThread, pyqtSignal
from PyQt6.QtWidgets import QListWidget, QListWidgetItem, QWidget

from labqc.gui.live_state import LiveState, PlateauMark
from labqc.gui.stream_buffer import chunk_from_frame
from labqc.quantity import parse_quantity
from labqc.results import read_data, read_header

KEEP_IN_MEMORY = 4  # runs whose arrays stay in memory


@dataclass
class RunRecord:
    """One run in the browser: always its file, its arrays only while recent."""

    title: str
    path: Path
    procedure: str = ""  # class name, e.g. "VoltageSweep"
    state: LiveState | None = None
    note: str = ""

    @property
    def in_memory(self) -> bool:
        return self.state is not None


def procedure_name(header: dict) -> str:
    return (header.get("procedure") or "").rsplit(".", 1)[-1]


def _limit(text: str, unit: str) -> float | None:
    """A parameter's text as a value in ``unit`` ("0.005 A", "5 mA" -> 0.005 for "A"), or
    None when it is in another unit or none (a unitless factor is not a current)."""
    value, _, units = str(text).strip().partition(" ")
    units = units.strip().replace("µ", "u")
    if not units.endswith(unit) or "/" in units or len(units) > len(unit) + 1:
        return None
    try:
        return parse_quantity(f"{value}{units}", unit)
    except ValueError:
        return None


def compliance_limits(parameters: dict[str, str]) -> list[tuple[str, float]]:
    """(name, amperes) of the compliance parameters in a header's or a procedure's
    parameters ("SET compliance": "0.005 A"); a read's limit is not what bounds the I–V."""
    out = []
    for name, text in parameters.items():
        if "compliance" not in name.lower() or "read" in name.lower():
            continue
        amps = _limit(text, "A")
        if amps is not None and amps > 0:
            out.append((name, amps))
    return out


def voltage_limits(parameters: dict[str, str]) -> list[tuple[str, float]]:
    """(name, volts) of the voltage limits of a current-sourcing procedure ("Voltage
    limit": "2 V"), drawn on its V–I view."""
    out = []
    for name, text in parameters.items():
        volts = _limit(text, "V") if "limit" in name.lower() else None
        if volts is not None and volts > 0:
            out.append((name, volts))
    return out


def provenance(path: Path, procedure: str, parameters: dict[str, str]) -> dict[str, str]:
    """What names a run on screen and in exports: its file, procedure, sample and device
    (when the run recorded them)."""
    out = {"file": Path(path).name, "procedure": procedure}
    for key in ("Sample", "Device"):
        if str(parameters.get(key, "")).strip():
            out[key.lower()] = str(parameters[key]).strip()
    return out


def run_title(prov: dict[str, str]) -> str:
    """"VoltageSweep-20260101-120000.csv · sample W3 · device NW1"."""
    parts = [prov.get("file", "")] + [f"{k} {prov[k]}" for k in ("sample", "device") if prov.get(k)]
    return " · ".join(p for p in parts if p)


def load_run(path: str | Path, r_series: float | None = None) -> tuple[RunRecord, dict]:
    """Read a results file into a RunRecord with a finished LiveState; also the header.
    OSError/ValueError (one sentence) when the file cannot be read as a results file."""
    path = Path(path)
    header = read_header(path)
    frame = read_data(path)
    missing = {"Time (s)", "Voltage (V)", "Current (A)", "G/G0"} - set(frame.columns)
    if missing:
        raise ValueError(f"{path.name} is not a labqc results file (no {', '.join(sorted(missing))} column)")
    chunk = chunk_from_frame(frame)
    g = chunk["g"]
    cycles = chunk["cycle"]
    starts = np.flatnonzero(np.diff(cycles) != 0) + 1 if cycles.size else None
    # Imported here: the offline detector brings ruptures and SciPy (~60 MB resident), which
    # a dashboard that never opens a file does not need.
    from labqc.plateaus import analyze

    result = analyze(g, r_series=r_series, cycle_starts=starts)
    state = LiveState(r_series=result.r_series)
    state.append(chunk)
    params = header.get("parameters", {})
    state.plateau_source = "offline, file"
    state.compliance, state.voltage_limits = compliance_limits(params), voltage_limits(params)
    state.provenance = provenance(path, procedure_name(header), params)
    state.parameters = dict(params)
    state.plateaus = [PlateauMark(p.start, p.stop, p.level, p.quantum, p.confidence)
                      for p in result.plateaus]
    state.fed_detector = len(state.store)  # the offline detector has seen everything
    state.finish()
    state.process(budget=len(state.store) + 1)
    how = "estimated" if result.r_series_estimated else "given"
    record = RunRecord(title=f"{path.name} (file)", path=path, procedure=procedure_name(header), state=state,
                       note=f"{len(state.store):,} points, {len(state.plateaus)} plateaus (offline), "
                            f"R_s {result.r_series:.0f} Ω {how}")
    return record, header


class FileLoader(QThread):
    """load_run in a thread; ``loaded(record, header)`` or ``failed(message)``."""

    loaded = pyqtSignal(object, object)
    failed = pyqtSignal(str)

    def __init__(self, path: str | Path, r_series: float | None = None, parent=None) -> None:
        super().__init__(parent)
        self.path, self.r_series = Path(path), r_series

    def run(self) -> None:
        try:
            record, header = load_run(self.path, self.r_series)
        except Exception as exc:  # shown as one line, the GUI keeps running
            self.failed.emit(f"cannot open {self.path}: {exc}")
            return
        self.loaded.emit(record, header)


def export_png(widget: QWidget, path: str | Path) -> Path:
    """Save what ``widget`` shows as a PNG; OSError if it cannot be written."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        path = path.with_suffix(".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not widget.grab().save(str(path), "PNG"):
        raise OSError(f"could not write {path}")
    return path


class RunBrowser(QListWidget):
    """Runs of this session and opened files, newest first, memory bounded."""

    chosen = pyqtSignal(object)  # RunRecord

    def __init__(self, keep: int = KEEP_IN_MEMORY, parent=None) -> None:
        super().__init__(parent)
        self.keep = keep
        self.records: list[RunRecord] = []
        self.pinned: RunRecord | None = None  # the running run: never trimmed
        # One click shows a run (a double click or Enter too: itemActivated).
        self.itemClicked.connect(self._activated)
        self.itemActivated.connect(self._activated)

    def add(self, record: RunRecord) -> None:
        self.records.insert(0, record)
        item = QListWidgetItem(self._text(record))
        item.setToolTip(str(record.path))
        self.insertItem(0, item)
        self.trim()

    def trim(self) -> None:
        """Drop the arrays of all but the newest ``keep`` runs (their files stay)."""
        for k, record in enumerate(self.records):
            if k >= self.keep and record.state is not None and record is not self.pinned:
                record.state = None
                self.item(k).setText(self._text(record))

    def touch(self, record: RunRecord) -> None:
        """Move a run to the top (it is being shown) and trim the others."""
        k = self.records.index(record)
        if k:
            self.records.insert(0, self.records.pop(k))
            self.insertItem(0, self.takeItem(k))
        self.refresh(record)
        self.trim()

    def refresh(self, record: RunRecord) -> None:
        k = self.records.index(record)
        self.item(k).setText(self._text(record))

    @staticmethod
    def _text(record: RunRecord) -> str:
        where = "" if record.in_memory else " [on disk]"
        note = f" — {record.note}" if record.note else ""
        return f"{record.title}{where}{note}"

    def _activated(self, item: QListWidgetItem) -> None:
        self.chosen.emit(self.records[self.row(item)])


__all__ = ["RunRecord", "RunBrowser", "FileLoader", "load_run", "export_png", "compliance_limits",
           "voltage_limits", "provenance", "run_title",
           "procedure_name", "KEEP_IN_MEMORY"]
