"""The catalog and the results files: record a run as it starts and ends, index files
already on disk, and check the catalog against the files.

    recorder = RunRecorder(catalog_path(beside=results_folder))
    recorder.start(procedure, path)     # a "running" row; never raises
    recorder.finish(result)             # status, rows, sha256, summary; never raises
    recorder.problem                    # one sentence if the catalog could not be used

    import_directory(catalog, "runs/")  # results files and plan folders; twice adds nothing
    verify(catalog)                     # files missing or changed, runs left "running"

The procedure and the run result are read by attribute (a procedure's parameter_objects(),
a RunResult's status/path/rows/summary/error), so this core module imports no layer above it.
"""
from __future__ import annotations

import hashlib
import os
import socket
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from labqc.catalog import (ABORTED, FAILED, FINISHED, RUNNING, SHARED_LOCK, STUCK, Catalog, CatalogError, forget,
                           now, shared)
from labqc.results import read_header, read_summary, summary_path

#: The header's names of the run metadata (procedures/base.py RUN_METADATA), to attribute names.
META_NAMES = {"Sample": "sample", "Device": "device", "Operator": "operator", "Note": "note"}
_META_ATTRS = tuple(META_NAMES.values())
_HASH_BLOCK = 1 << 20
_BATCH = 500  # files per import transaction


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_HASH_BLOCK), b""):
            h.update(block)
    return h.hexdigest()


def run_status(status: str, summary: Any) -> str:
    """The catalog's status of a run: the runner's, or "stuck" for a run that stopped
    because the device stopped switching (the summary's stop reason says so)."""
    reason = summary.get("stop reason", "") if isinstance(summary, dict) else ""
    if status == FINISHED and isinstance(reason, str) and reason.startswith("stuck"):
        return STUCK
    return status if status in (FINISHED, ABORTED, FAILED) else FAILED


def plan_of(path: str | os.PathLike) -> str:
    """The plan run directory a results file belongs to ('' if none): .../<dir>/steps/<file>."""
    p = Path(os.path.abspath(path))
    if p.parent.name == "steps" and (p.parent.parent / "journal.jsonl").is_file():
        return p.parent.parent.name
    return ""


# ---------------------------------------------------------------------- live runs
class RunRecorder:
    """Registers one run when it starts and completes it when it ends. Never raises: a
    catalog that cannot be used leaves one sentence in ``problem`` and the run goes on.

    The registration is written by a thread of its own while the run sets up and measures:
    the first write of a process creates the catalog's WAL files (~10 ms on a busy disk),
    which the measurement need not wait for. :meth:`finish` waits for it."""

    def __init__(self, catalog: str | os.PathLike) -> None:
        self.catalog = Path(catalog)
        self.run_id: int | None = None
        self.problem = ""
        self._writer: threading.Thread | None = None

    def start(self, procedure: Any, path: str | os.PathLike) -> None:
        params = procedure.parameter_objects()
        fields = {attr: str(getattr(procedure, attr, "") or "") for attr in _META_ATTRS}
        fields.update(procedure=type(procedure).__name__, file=path, started=now(), status=RUNNING,
                      parameters={p.name: str(p) for a, p in params.items() if a not in _META_ATTRS},
                      instrument=str(getattr(procedure, "instrument", "") or ""), plan=plan_of(path),
                      host=socket.gethostname(), pid=os.getpid())
        self._writer = threading.Thread(target=self._register, args=(fields,), name="labqc-catalog", daemon=True)
        self._writer.start()

    def _register(self, fields: dict) -> None:
        try:
            with SHARED_LOCK:
                self.run_id = shared(self.catalog).register(**fields)
        except Exception as exc:  # the catalog is never a reason not to measure
            self._fail(exc)

    def wait(self) -> int | None:
        """The run's id once its registration is written (None if it could not be)."""
        if self._writer is not None:
            self._writer.join()
        return self.run_id

    def finish(self, result: Any) -> None:
        if self.wait() is None:
            return
        try:
            sha = file_sha256(result.path)
        except OSError:
            sha = ""
        try:
            with SHARED_LOCK:
                shared(self.catalog).complete(
                    self.run_id, status=run_status(result.status, result.summary), finished=now(),
                    rows=int(result.rows), sha256=sha, summary=result.summary or {}, error=str(result.error or ""))
        except Exception as exc:  # the data is on disk; the catalog can be rebuilt from it
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        forget(self.catalog)  # a later run tries afresh (the disk may be back)
        text = str(exc) if isinstance(exc, CatalogError) else f"the run catalog {self.catalog} cannot be used: {exc}"
        self.problem = (f"{text}; the measurement goes on and its results file is the record "
                        f"(`labqc runs import` adds it later)")


# ---------------------------------------------------------------------- files on disk
def record_from_file(path: Path) -> dict | None:
    """The catalog row of a results file already on disk; None if it is not one."""
    try:
        header = read_header(path)
    except (OSError, UnicodeDecodeError):
        return None
    if not header["procedure"]:
        return None
    params = {k: _unescape(v) for k, v in header["parameters"].items()}
    meta = header["metadata"]
    fields: dict[str, Any] = {attr: params.pop(name, "") for name, attr in META_NAMES.items()}
    fields.update(procedure=header["procedure"].rsplit(".", 1)[-1], parameters=params,
                  instrument=_unescape(meta.get("Instrument", "")), file=path, plan=plan_of(path),
                  sha256=file_sha256(path))
    started = meta.get("Start time", "")
    try:
        from datetime import datetime
        fields["started"] = datetime.fromisoformat(started).timestamp() if started else path.stat().st_mtime
    except ValueError:
        fields["started"] = path.stat().st_mtime
    if not fields["device"] and fields["plan"]:
        fields["device"] = _plan_device(path)
    try:
        summary = read_summary(path)
    except (OSError, ValueError):
        summary = None
    if summary is None:  # the run never ended: killed, or a power cut
        fields.update(status=FAILED, rows=count_rows(path), finished=path.stat().st_mtime,
                      error="no summary: the run never ended (the process was killed or crashed)")
    else:
        results = summary.get("results", {})
        fields.update(status=run_status(summary.get("status", FAILED), results), rows=int(summary.get("rows", 0)),
                      summary=results, error=str(summary.get("error", "") or ""),
                      finished=summary_path(path).stat().st_mtime)
        for attr in _META_ATTRS:
            fields[attr] = fields[attr] or str(summary.get(attr, "") or "")
    return fields


def results_files(directory: Path) -> Iterator[Path]:
    """Every *.csv under ``directory`` (plan folders included), sorted."""
    yield from sorted(p for p in directory.rglob("*.csv") if p.is_file())


@dataclass
class ImportReport:
    added: int = 0
    known: int = 0  # already in the catalog
    skipped: int = 0  # .csv files that are not results files


def import_directory(catalog: Catalog, directory: str | os.PathLike) -> ImportReport:
    """Index the results files under ``directory``; files already catalogued are left as
    they are, so importing twice adds nothing."""
    directory = Path(directory)
    if not directory.is_dir():
        raise CatalogError(f"there is no folder {directory} to import")
    known = catalog.known_files()
    report, batch = ImportReport(), []
    for path in results_files(directory):
        if catalog.stored_path(path) in known:
            report.known += 1
            continue
        record = record_from_file(path)
        if record is None:
            report.skipped += 1
            continue
        batch.append(record)
        if len(batch) >= _BATCH:
            report.added += catalog.register_many(batch)
            batch = []
    if batch:
        report.added += catalog.register_many(batch)
    return report


@dataclass
class Finding:
    run_id: int
    kind: str  # "missing", "changed", "left running"
    text: str


def verify(catalog: Catalog) -> list[Finding]:
    """Runs whose file is missing or changed since it was registered, and runs left
    "running" by a process that is gone (those are marked failed, with their row count)."""
    findings = []
    for run in catalog.runs():
        path = Path(run["path"])
        exists = path.is_file()
        if run["status"] == RUNNING:
            if run["host"] == socket.gethostname() and run["pid"] and process_alive(run["pid"]):
                continue  # still measuring
            findings.append(_left_running(catalog, run, path, exists))
        if not exists:
            kept = path.with_name(path.name[:-len(".csv")] + ".partial.csv") if path.suffix == ".csv" else None
            hint = f" (a resumed plan kept it as {kept.name})" if kept is not None and kept.is_file() else ""
            findings.append(Finding(run["id"], "missing", f"run {run['id']}: its file {path} is missing{hint}"))
        elif run["status"] != RUNNING and run["sha256"] and file_sha256(path) != run["sha256"]:
            findings.append(Finding(run["id"], "changed", f"run {run['id']}: {path} changed since it was registered"))
    return findings


def _left_running(catalog: Catalog, run: dict, path: Path, exists: bool) -> Finding:
    """Mark a run whose process is gone as failed, with what its file holds."""
    rows = count_rows(path) if exists else int(run["rows"])
    catalog.complete(run["id"], status=FAILED, rows=rows, sha256=file_sha256(path) if exists else "",
                     finished=path.stat().st_mtime if exists else now(),
                     error="left running: the process ended without completing the run (killed or crashed)")
    where = f"{rows} rows in {path}" if exists else "its file is gone"
    return Finding(run["id"], "left running",
                   f"run {run['id']}: left running by a process that is gone; marked failed ({where})")


# ---------------------------------------------------------------------- helpers
def count_rows(path: str | os.PathLike) -> int:
    """Complete data rows in a (possibly torn) results file."""
    rows, header_seen = 0, False
    tail = b""
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_HASH_BLOCK), b""):
            block = tail + block
            lines = block.split(b"\n")
            tail = lines.pop()  # a last line without its newline is not a row (yet)
            for line in lines:
                if not line or line.startswith(b"#"):
                    continue
                if header_seen:
                    rows += 1
                else:
                    header_seen = True
    return rows


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this computer."""
    if sys.platform == "win32":  # os.kill would terminate it on Windows
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, int(pid))  # QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        ctypes.windll.kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        ctypes.windll.kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return _not_zombie(int(pid))


def _not_zombie(pid: int) -> bool:
    """A killed child not yet reaped still has an id; on Linux its state says Z."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _unescape(text: str) -> str:
    """Header text back to what was written (the header escapes like PyMeasure: \\xb0)."""
    if "\\" not in text:
        return text
    try:
        return text.encode("ascii", "backslashreplace").decode("unicode_escape")
    except UnicodeDecodeError:
        return text


def _plan_device(path: Path) -> str:
    """For files written before runs recorded their device: the plan's device label in
    the run id (``003-cycles-A1-...``)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        plan = tomllib.loads((path.parent.parent / "plan.toml").read_text(encoding="utf-8"))
        labels = [str(d.get("label", d.get("resource", ""))) for d in plan.get("device", [])]
    except (OSError, ValueError, AttributeError):
        return ""
    stem = path.name.split(".")[0]
    found = [lb for lb in labels if lb and (f"-{lb}-" in stem or stem.endswith(f"-{lb}"))]
    return max(found, key=len) if found else ""


__all__ = ["RunRecorder", "import_directory", "verify", "record_from_file", "file_sha256", "count_rows",
           "run_status", "process_alive", "ImportReport", "Finding", "plan_of"]
