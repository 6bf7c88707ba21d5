"""The base of every emulated instrument: messages in, timed replies out.

A transport (the PyVISA backend or the TCP server) splits the byte stream on
``write_termination`` and hands each complete message to :meth:`Emulator.write`. The
emulator executes it on its own timeline: a message starts when the instrument is free
(``busy_until``) or now, whichever is later, costs ``command_time``, and may spend more
(integration, waits, a printbuffer that blocks until the sweep reaches an index).
Replies are queued with the simulated time at which they are ready; a reader advances
the clock to that time, or times out if it lies beyond its deadline.

Subclasses implement :meth:`execute`, :meth:`outputs_on`, and may override
:meth:`on_clear`, :meth:`status_byte` and :meth:`push_error`. Inside ``execute`` they use
:attr:`t` (the instrument's current time), :meth:`spend` and :meth:`reply`.
"""
from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass

from labqc.instruments.sim.clock import VirtualClock
from labqc.instruments.sim.device import Device
from labqc.instruments.sim.faults import FaultPlan


@dataclass
class Reply:
    ready_at: float  # simulated seconds
    data: bytes  # terminator included (unless truncated by a fault)
    drop_after: bool = False  # a drop fault: the socket server closes the connection after it


class Emulator(ABC):
    model = "generic"
    write_termination = b"\n"
    read_termination = b"\n"
    #: simulated seconds to receive and parse one message
    command_time = 100e-6

    def __init__(self, device: Device, clock: VirtualClock, faults: FaultPlan | None = None):
        self.device = device
        self.clock = clock
        self.faults = faults or FaultPlan()
        self.lock = threading.RLock()
        self._replies: deque[Reply] = deque()
        self.busy_until = 0.0
        self.messages = 0  # messages received over the emulator's life
        self.stuck = False  # a "busy" fault: nothing answers until device clear
        self.drops = 0  # incremented by a "drop" fault; transports close their sessions
        self.t = 0.0  # the instrument's time while executing a message

    # --- for transports -------------------------------------------------------------
    def write(self, message: bytes) -> None:
        """Execute one complete message (terminator already stripped)."""
        with self.lock:
            self.messages += 1
            faults = self.faults.take(self.messages)
            self.t = max(self.clock.now, self.busy_until) + self.command_time
            first_new = len(self._replies)
            try:
                self.execute(message)
            except Exception as exc:  # the client must never see a Python traceback
                self.push_error(-286, f"internal simulator error: {type(exc).__name__}: {exc}")
            self.busy_until = self.t
            for fault in faults:
                self._inject(fault, first_new)

    def peek(self) -> Reply | None:
        """The next reply, without removing it; None if nothing will come."""
        with self.lock:
            if self.stuck or not self._replies:
                return None
            return self._replies[0]

    def pop(self) -> Reply | None:
        with self.lock:
            if self.stuck or not self._replies:
                return None
            return self._replies.popleft()

    def clear(self) -> None:
        """Device clear (GPIB DCL/SDC, VISA viClear): empty the queues, cancel what blocks."""
        with self.lock:
            self._replies.clear()
            self.stuck = False
            self.busy_until = self.clock.now
            self.t = self.busy_until
            self.on_clear()

    def discard_replies(self) -> None:
        """Throw away the replies nobody will read (their client is gone); what runs, runs on."""
        with self.lock:
            self._replies.clear()

    def read_stb(self) -> int:
        with self.lock:
            return self.status_byte()

    # --- for subclasses -------------------------------------------------------------
    @abstractmethod
    def execute(self, message: bytes) -> None:
        """Carry out one message in the instrument's command language."""

    @abstractmethod
    def outputs_on(self) -> dict[str, bool]:
        """Every output of the instrument and whether it is energised (tests read this)."""

    def on_clear(self) -> None:
        """Instrument-specific part of a device clear."""

    def status_byte(self) -> int:
        return 0x10 if self._replies else 0  # MAV

    def push_error(self, code: int, message: str) -> None:
        """Queue an instrument error the way the instrument reports it."""

    def spend(self, seconds: float) -> None:
        """The instrument spends ``seconds`` executing the current message."""
        if seconds > 0:
            self.t += seconds

    def reply(self, data: bytes | str) -> None:
        """Queue a reply, ready at the instrument's current time, terminator appended."""
        if isinstance(data, str):
            data = data.encode("ascii", "replace")
        self._replies.append(Reply(self.t, data + self.read_termination))

    @property
    def any_output_on(self) -> bool:
        return any(self.outputs_on().values())

    # --- faults -----------------------------------------------------------------------
    def _inject(self, fault, first_new: int) -> None:
        new = list(self._replies)[first_new:]
        if fault.reply:  # from the k-th reply of the message on (see faults.py)
            k = fault.reply - 1
            new = new[k:] if fault.kind == "delay" else new[k:k + 1]
            if fault.kind == "drop":
                for r in new:
                    r.drop_after = True
                return
        if fault.kind == "delay":
            for r in new:
                r.ready_at += fault.seconds
            self.busy_until += fault.seconds
        elif fault.kind == "garble":
            for r in new:
                body = r.data[: -len(self.read_termination)] if r.data.endswith(self.read_termination) else r.data
                half = max(1, len(body) // 2)
                r.data = body[:half] + b"\x15#?~" + body[half + 1:] + self.read_termination
        elif fault.kind == "truncate":
            for r in new:
                r.data = r.data[: max(1, len(r.data) // 2)].rstrip(self.read_termination)
        elif fault.kind == "error":
            self.push_error(fault.code, fault.message)
        elif fault.kind == "busy":
            self.stuck = True
        elif fault.kind == "drop":
            self.drops += 1
