"""What a Keithley 2614B channel can do, checked before anything is sent.

:data:`CAPABILITIES` declares the 2614B's per-channel limits (sources: docs/keithley2614b.md);
:class:`TimedCapabilities` adds the timing rule that each step, pulse, read
and sampling interval hold one reading at the requested NPLC, which depends on the line
frequency the instrument reports when a session starts.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labqc.instruments.smu import Capabilities, PulseTrain, Request, Sampling, Sweep

#: Instrument time per reading beyond the integration itself (source, A/D set-up, store).
READING_OVERHEAD = 100e-6
#: The measurement ends this long before its pulse does (docs/keithley2614b.md, PulseTrain).
PULSE_MARGIN = 60e-6


@dataclass(frozen=True)
class TimedCapabilities(Capabilities):
    """The declared limits plus the 2600B's timing rule: each step, pulse, read and sampling
    interval must hold one reading at the requested NPLC (which depends on the line
    frequency). Checked with everything else, before anything is sent."""

    linefreq: float = 60.0

    def aperture(self, nplc: float) -> float:
        """Seconds one integration takes."""
        return nplc / self.linefreq

    def reading_time(self, nplc: float) -> float:
        """Seconds the instrument needs for one reading (integration + overhead)."""
        return self.aperture(nplc) + READING_OVERHEAD

    def check(self, request: Request) -> None:
        super().check(request)
        at = f"at {self.linefreq:g} Hz"
        if isinstance(request, Sweep):
            need = self.reading_time(request.nplc)
            if request.step_time < need:
                self._fail(f"a step time of {request.step_time:g} s is shorter than one reading at NPLC "
                           f"{request.nplc:g} ({need:g} s {at})")
        elif isinstance(request, PulseTrain):
            need = self.aperture(request.nplc) + PULSE_MARGIN
            windows = [(request.width, "pulse")]
            if request.read_levels is not None:
                windows.append((request.read_width, "read"))
            for width, what in windows:
                if width < need:
                    self._fail(f"a {width:g} s {what} is too short to measure at NPLC {request.nplc:g} "
                               f"(needs {need:g} s {at}); lower the NPLC")
        elif isinstance(request, Sampling) and request.points > 1:
            need, gap = self.reading_time(request.nplc), float(np.diff(request.times).min())
            if gap < need:
                self._fail(f"sampling {gap:g} s apart is faster than one reading at NPLC {request.nplc:g} "
                           f"({need:g} s {at})")


#: The 2614B per channel (sources: docs/keithley2614b.md). DC limits only:
#: the 10 A pulse region is not needed for memristors. One buffer holds > 50 000 readings
#: with timestamps and source values; a pulse train with reads stores two per pulse.
CAPABILITIES = TimedCapabilities(
    model="Keithley 2614B",
    max_voltage=200.0,
    max_current=1.5,
    min_compliance=10e-9,  # 10 % of the lowest (100 nA) current range
    voltage_ranges=(0.2, 2.0, 20.0, 200.0),
    current_ranges=(100e-9, 1e-6, 10e-6, 100e-6, 1e-3, 10e-3, 100e-3, 1.0, 1.5),
    nplc_range=(0.001, 25.0),
    max_sweep_points=50_000,
    min_step_time=100e-6,
    min_pulse_width=100e-6,
    max_pulse_count=25_000,
    max_samples=1_000_000,
    extra={"channels": ("a", "b"), "buffer_points": 50_000},
)

__all__ = ["CAPABILITIES", "PULSE_MARGIN", "READING_OVERHEAD", "TimedCapabilities"]
