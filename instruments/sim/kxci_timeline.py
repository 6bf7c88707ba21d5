"""How the simulated 4200A spends device time: tests that run overlapped, evaluated lazily.

A system-mode sweep or a PMU pulse train is an :class:`Activity`: a fixed schedule of
source steps starting at a known simulated time. Nothing is computed when it starts;
whenever the emulator acts at time ``t`` it asks the activity to evaluate the steps that
have finished by ``t``, in vectorised blocks (one ``device.apply`` per block), and to
record their readings. Between activities the device sees whatever output is held on it
(or rests).

The device's own time is shared by every emulator wired to it (:func:`device_time`), so
two KXCI interfaces on one device under test never age it twice.
"""
from __future__ import annotations

import weakref
from abc import ABC, abstractmethod

import numpy as np

from labqc.instruments.sim.device import Drive, Measured


class DeviceTime:
    """The simulated time up to which a device has been driven or rested."""

    def __init__(self) -> None:
        self.t = 0.0


_TIMES: "weakref.WeakKeyDictionary[object, DeviceTime]" = weakref.WeakKeyDictionary()
_TIMES_BY_ID: dict[int, DeviceTime] = {}


def device_time(device: object) -> DeviceTime:
    """The shared :class:`DeviceTime` of one device object."""
    try:
        return _TIMES.setdefault(device, DeviceTime())
    except TypeError:  # not weak-referenceable: fall back on identity
        return _TIMES_BY_ID.setdefault(id(device), DeviceTime())


def apply_steps(device, source: str, levels: np.ndarray, dwell: np.ndarray, t_int: float,
                compliance: float, i_range: float | None = None) -> Measured:
    """One ``device.apply`` for a run of steps (empty runs cost nothing)."""
    levels = np.asarray(levels, dtype=float)
    if levels.size == 0:
        empty = np.zeros(0)
        return Measured(v=empty, i=empty.copy(), compliance=np.zeros(0, dtype=bool))
    m = device.apply(Drive(source, levels, np.asarray(dwell, dtype=float), float(t_int),
                           float(compliance), i_range))
    return Measured(v=np.asarray(m.v, dtype=float), i=np.asarray(m.i, dtype=float),
                    compliance=np.asarray(m.compliance, dtype=bool))


def open_circuit(source: str, levels: np.ndarray, compliance: float) -> Measured:
    """What an SMU reads with nothing connected: a V source reads its level and no
    current; a non-zero I source runs into its voltage limit."""
    levels = np.asarray(levels, dtype=float)
    if source == "V":
        return Measured(v=levels.copy(), i=np.zeros_like(levels), compliance=np.zeros(levels.shape, bool))
    hit = levels != 0
    return Measured(v=np.where(hit, np.sign(levels) * compliance, 0.0), i=np.zeros_like(levels),
                    compliance=hit)


class Activity(ABC):
    """A test running on the simulated timeline. Subclasses set ``start`` and ``end`` and
    implement :meth:`advance` and :meth:`stop`."""

    start: float = 0.0
    end: float = 0.0
    stopped: bool = False

    @abstractmethod
    def advance(self, t: float) -> float:
        """Evaluate what has finished by ``t``; return the device time reached (<= t)."""

    @abstractmethod
    def stop(self, t: float) -> float:
        """Abort at ``t``: evaluate up to ``t`` (a step cut short is applied without a
        reading) and end the test. Returns ``t``."""

    def finished_by(self, t: float) -> bool:
        return self.stopped or self.end <= t
