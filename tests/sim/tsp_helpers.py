"""Shared set-up for the simulated 2614B's tests: an emulator on a virtual clock, and a
resistor that remembers every drive so tests can check what the device lived through."""
from __future__ import annotations

import numpy as np

from labqc.instruments.sim.clock import VirtualClock
from labqc.instruments.sim.device import Drive, Measured, Resistor
from labqc.instruments.sim.tsp2614b import K2614BEmulator


class RecordingResistor(Resistor):
    """A plain resistor (exact V = I*R) that keeps the drives and rests it was given."""

    def __init__(self, resistance: float = 1e3) -> None:
        super().__init__(resistance)
        self.drives: list[Drive] = []
        self.rests: list[float] = []

    def apply(self, drive: Drive) -> Measured:
        self.drives.append(drive)
        return super().apply(drive)

    def rest(self, duration: float) -> None:
        self.rests.append(duration)
        super().rest(duration)

    def timeline(self) -> tuple[np.ndarray, np.ndarray]:
        """(level, dwell) of every applied step, in order."""
        if not self.drives:
            return np.zeros(0), np.zeros(0)
        return (np.concatenate([d.levels for d in self.drives]),
                np.concatenate([d.dwell for d in self.drives]))


def make(resistance: float = 1e3, **kw) -> tuple[K2614BEmulator, RecordingResistor]:
    dev = RecordingResistor(resistance)
    return K2614BEmulator(dev, VirtualClock(), **kw), dev


def send(emu: K2614BEmulator, *messages: bytes | str) -> None:
    """Write messages that must not answer."""
    for m in messages:
        emu.write(m.encode("latin-1") if isinstance(m, str) else m)
        reply = emu.pop()
        assert reply is None, f"{m!r} answered {reply.data!r}"


def ask(emu: K2614BEmulator, message: bytes | str):
    """Write one message and read its one reply as a client would (clock to ready time)."""
    emu.write(message.encode("latin-1") if isinstance(message, str) else message)
    reply = emu.pop()
    assert reply is not None, f"{message!r} did not answer"
    emu.clock.advance_to(reply.ready_at)
    return reply


def text(emu: K2614BEmulator, message: str) -> str:
    data = ask(emu, message).data
    assert data.endswith(b"\n")
    return data[:-1].decode("ascii")


def next_error(emu: K2614BEmulator) -> tuple[float, str]:
    code, msg, _sev, _node = text(emu, "print(errorqueue.next())").split("\t")
    return float(code), msg


def drain_errors(emu: K2614BEmulator) -> list[tuple[float, str]]:
    out = []
    while True:
        code, msg = next_error(emu)
        if code == 0:
            return out
        out.append((code, msg))


def floats(line: str, sep: str = ", ") -> np.ndarray:
    return np.array([float(x) for x in line.split(sep)]) if line else np.zeros(0)
