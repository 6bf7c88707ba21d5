"""A station's live chunks, published over the LECO data protocol, and whoever watches them.

    proxy = start_proxy("127.0.0.1", 11100)                # `labqc lab coordinator` runs this
    publisher = ChunkPublisher("probe2", "127.0.0.1", 11100) # a runner listener on the station
    watcher = ChunkWatcher("probe2", "127.0.0.1", 11099)     # anywhere: (header, rows)
    header, rows = watcher.receive(timeout_s=1.0)            # rows: a labqc.chunk array

Every batch a run writes (the stream's typed chunk, labqc.chunk) goes out as one PyLECO DataMessage, topic = the station's name: a
JSON header (run number, chunk number, row count, column names, the wall time it left, and
on a run's first chunk the plan run and procedure) and the rows as one float64 array, so that
a chunk costs no per-value encoding. A run's end goes out as a header with ``kind: "end"``.
The proxy (XSUB/XPUB, as PyLECO's proxy server, ports receive N, send N - 1) binds 127.0.0.1
unless told otherwise: PyLECO's own binds every interface.
"""
from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable

import numpy as np
import zmq
from pyleco.core.data_message import DataMessage, MessageTypes

from labqc import chunk as rows_of

DATA_PORT = 11100  # PyLECO's proxy receives here and sends on the port below it


class ChunkPublisher:
    """A runner listener (labqc.procedures.runner.Listener) publishing each batch."""

    def __init__(self, station: str, host: str = "127.0.0.1", port: int = DATA_PORT,
                 describe: Callable[[], dict] | None = None, context: zmq.Context | None = None) -> None:
        self.station = station
        self.describe = describe  # the run starting now: {"plan_run": id, "procedure": name, ...}
        self.socket = (context or zmq.Context.instance()).socket(zmq.PUB)
        self.socket.connect(f"tcp://{host}:{port}")
        self.run = 0
        self.seq = 0

    def __call__(self, topic: str, payload: Any) -> None:
        if topic == "batch":
            self.publish(payload)
        elif topic == "status":
            self._send({"kind": "end", "run": self.run, "status": getattr(payload, "status", ""),
                        "rows": getattr(payload, "rows", 0), "output_off": bool(getattr(payload, "output_off", True)),
                        "t": time.time()})
            self.run += 1
            self.seq = 0

    def publish(self, rows: np.ndarray) -> None:
        """Send one chunk of rows (a labqc.chunk array, or any structured array)."""
        columns, text, flags = encode(rows)
        header = {"kind": "chunk", "run": self.run, "seq": self.seq, "rows": len(rows),
                  "columns": list(rows.dtype.names), "text": text, "bool": flags}
        if self.seq == 0 and self.describe is not None:
            try:
                header.update({k: v for k, v in self.describe().items() if k not in header})
            except Exception:  # a description is only for the watcher's title
                pass
        header["t"] = time.time()
        self._send(header, columns.tobytes())
        self.seq += 1

    def _send(self, header: dict, body: bytes | None = None) -> None:
        message = DataMessage(self.station, data=json.dumps(header), message_type=MessageTypes.JSON,
                              additional_payload=[body] if body is not None else None)
        self.socket.send_multipart(message.to_frames())

    def close(self) -> None:
        self.socket.close(linger=1000)


class ChunkWatcher:
    """Receives one station's chunks (read-only: it can only listen)."""

    def __init__(self, station: str, host: str = "127.0.0.1", port: int = DATA_PORT - 1,
                 context: zmq.Context | None = None) -> None:
        self.station = station.encode()
        self.socket = (context or zmq.Context.instance()).socket(zmq.SUB)
        self.socket.setsockopt(zmq.RCVHWM, 0)  # a watcher drops nothing it was sent
        self.socket.connect(f"tcp://{host}:{port}")
        self.socket.setsockopt(zmq.SUBSCRIBE, self.station)  # a prefix: exact names checked below

    def receive(self, timeout_s: float = 1.0) -> tuple[dict, np.ndarray | None] | None:
        """The next (header, rows) of this station; rows None for a run's end; None on timeout."""
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            if not self.socket.poll(int(left * 1000) + 1):
                return None
            message = DataMessage.from_frames(*self.socket.recv_multipart())
            if message.topic != self.station:
                continue
            return decode(message)
        return None

    def close(self) -> None:
        self.socket.close(linger=0)


def encode(rows: np.ndarray) -> tuple[np.ndarray, dict[str, list[str]], list[str]]:
    """A chunk (a structured array, e.g. labqc.chunk's) as one float64 array (rows x
    columns): text columns (e.g. Segment) as codes into their own list of values, booleans
    (e.g. Compliance) as 0/1."""
    if not (isinstance(rows, np.ndarray) and rows.dtype.names):
        raise TypeError(f"a chunk is a structured numpy array (labqc.chunk), not {type(rows).__name__}")
    names = rows.dtype.names
    out = np.empty((len(rows), len(names)), dtype=np.float64)
    text: dict[str, list[str]] = {}
    flags: list[str] = []
    for k, name in enumerate(names):
        kind = rows.dtype[name].kind
        if kind in "biuf":
            out[:, k] = rows[name]
            if kind == "b":
                flags.append(name)
        else:
            values, codes = np.unique(rows[name].astype(str), return_inverse=True)
            text[name] = values.tolist()
            out[:, k] = codes.ravel()
    return out, text, flags


def decode(message: DataMessage) -> tuple[dict, np.ndarray | None]:
    """(header, rows) of a published message; rows None for a run's end. Rows with the
    results columns come back as labqc.chunk ROW rows (Cycle and Pulse integers again);
    others as float64 fields, text and booleans as they were sent."""
    header = json.loads(message.payload[0])
    if header.get("kind") != "chunk":
        return header, None
    names = header["columns"]
    table = np.frombuffer(message.payload[1], dtype=np.float64).reshape(header["rows"], len(names))
    columns: dict[str, np.ndarray] = {name: table[:, k] for k, name in enumerate(names)}
    for name, values in header.get("text", {}).items():
        columns[name] = np.asarray(values, dtype=str)[columns[name].astype(np.int64)]
    for name in header.get("bool", []):
        columns[name] = columns[name] != 0
    return header, rows_of.from_columns(columns)


def start_proxy(host: str = "127.0.0.1", port: int = DATA_PORT,
                context: zmq.Context | None = None) -> threading.Thread:
    """The data proxy in a daemon thread: publishers connect to ``port``, watchers to ``port - 1``."""
    context = context or zmq.Context.instance()
    inbound, outbound = context.socket(zmq.XSUB), context.socket(zmq.XPUB)
    outbound.setsockopt(zmq.SNDHWM, 0)  # chunks are small and few: queue rather than drop
    inbound.bind(f"tcp://{host}:{port}")
    outbound.bind(f"tcp://{host}:{port - 1}")

    def run() -> None:
        try:
            zmq.proxy(inbound, outbound)
        except zmq.ContextTerminated:
            pass
    thread = threading.Thread(target=run, name="labqc data proxy", daemon=True)
    thread.start()
    return thread


__all__ = ["ChunkPublisher", "ChunkWatcher", "encode", "decode", "start_proxy", "DATA_PORT"]
