"""What an emulated SMU asks of a simulated device, and the simplest such device.

An emulator turns instrument commands into :class:`Drive` requests: a run of source
levels, each held for a dwell time, measured over the last ``t_int`` seconds of each
step. The device advances its internal state through the drive and returns what the
SMU would read. Every simulated second must pass through :meth:`Device.apply` (output
on) or :meth:`Device.rest` (output off), so that the device ages with the clock.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass
class Drive:
    """A run of source steps, as the instrument applies them.

    source: "V" (volts sourced, current limited) or "I" (amps sourced, voltage limited).
    levels: source level of each step (V or A).
    dwell: seconds each step lasts (array like ``levels``, or one float for all).
    t_int: integration time of the reading at the end of each step (s); 0 = instantaneous.
    compliance: limit on the measured quantity (A for a V source, V for an I source), > 0.
    i_range: measure range in A for read noise (None: autorange).
    """

    source: str
    levels: np.ndarray
    dwell: np.ndarray | float
    t_int: float
    compliance: float
    i_range: float | None = None

    def __post_init__(self) -> None:
        if self.source not in ("V", "I"):
            raise ValueError(f"source must be 'V' or 'I', got {self.source!r}")
        self.levels = np.atleast_1d(np.asarray(self.levels, dtype=float))
        dwell = np.asarray(self.dwell, dtype=float)
        self.dwell = np.broadcast_to(dwell, self.levels.shape).astype(float)
        if not np.all(np.isfinite(self.levels)):
            raise ValueError("source levels must be finite numbers (got NaN or inf)")
        if np.any(~np.isfinite(self.dwell)) or np.any(self.dwell < 0):
            raise ValueError("dwell times must be finite and >= 0 s (time cannot go backwards)")
        if not (math.isfinite(self.t_int) and self.t_int >= 0):
            raise ValueError(f"integration time must be finite and >= 0 s, got {self.t_int!r}")
        if not (math.isfinite(self.compliance) and self.compliance > 0):
            raise ValueError(f"compliance must be a finite value > 0, got {self.compliance!r}")


@dataclass
class Measured:
    """What the SMU reads at the end of each step: terminal voltage (V), current (A), and
    whether the limit was in control of the source during the reading."""

    v: np.ndarray
    i: np.ndarray
    compliance: np.ndarray  # bool


class Device(Protocol):
    """A simulated two-terminal device between an SMU's HI and LO."""

    def apply(self, drive: Drive) -> Measured:
        """Apply the drive step by step, advancing the device's state; return readings."""

    def rest(self, duration: float) -> None:
        """Output off (0 V) for ``duration`` seconds: relaxation and retention decay."""

    def conductance(self) -> float:
        """The device's present low-bias conductance in S, series resistance included."""


def clamp_to_compliance(source: str, levels: np.ndarray, r_total: np.ndarray | float,
                        compliance: float) -> Measured:
    """Ideal SMU on a resistive load: the limit takes over the source where it would be
    exceeded (the V source drops to I_cc*R, the I source to V_cc/R)."""
    r_total = np.broadcast_to(np.asarray(r_total, dtype=float), levels.shape)
    if source == "V":
        i = levels / r_total
        hit = np.abs(i) > compliance
        i = np.where(hit, np.sign(levels) * compliance, i)
        v = np.where(hit, i * r_total, levels)
    else:
        v = levels * r_total
        hit = np.abs(v) > compliance
        v = np.where(hit, np.sign(levels) * compliance, v)
        i = np.where(hit, v / r_total, levels)
    return Measured(v=v, i=i, compliance=hit)


class Resistor:
    """The ``ohmic`` device: a plain resistor, for calibration and driver tests.

    With ``noise=0`` it reads exactly V = I*R, which protocol tests rely on.
    """

    def __init__(self, resistance: float = 10e3, *, noise: float = 0.0, seed: int = 0) -> None:
        if not (math.isfinite(resistance) and resistance > 0):
            raise ValueError(f"resistance must be a finite value > 0 ohm, got {resistance!r}")
        if not (math.isfinite(noise) and noise >= 0):
            raise ValueError(f"noise must be a finite relative value >= 0, got {noise!r}")
        self.resistance = float(resistance)
        self.noise = float(noise)
        self._rng = np.random.default_rng(seed)
        self.t = 0.0  # device time, s

    def apply(self, drive: Drive) -> Measured:
        self.t += float(np.sum(drive.dwell))
        m = clamp_to_compliance(drive.source, drive.levels, self.resistance, drive.compliance)
        if self.noise:
            m.i = m.i * (1 + self.noise * self._rng.standard_normal(m.i.shape))
        return m

    def rest(self, duration: float) -> None:
        if not (math.isfinite(duration) and duration >= 0):
            raise ValueError(f"rest duration must be finite and >= 0 s, got {duration!r}")
        self.t += duration

    def conductance(self) -> float:
        return 1.0 / self.resistance
