"""Volatility: one SET pulse, then fast reads of the decay until the conductance is stable.

After the pulse, reads at the read voltage every ``interval`` in blocks of ``block``
seconds (each block one request, streamed as it is read); the run stops after the first
block whose median differs from the block before by less than ``stable`` G0, or at
``duration``. The relaxation of a fresh quantum level: how far it fell, in how many
steps, and how long it took (ArC ONE VolatilityRead).
"""
from __future__ import annotations

import numpy as np

from labqc.instruments.smu import PulseTrain, Sampling
from labqc.procedures import parameters as shared
from labqc.procedures.base import require
from labqc.procedures.derive import fmt
from labqc.procedures.parameters import Float
from labqc.procedures.base import LabqcProcedure


class Volatility(LabqcProcedure):
    """One SET pulse, then fast reads until the conductance is stable (relaxation).

    Default: one 1 ms pulse of 1.6 V at 1 mA, then 0.1 V reads every 10 ms in 0.5 s
    blocks until two blocks agree within 0.1 G0 (at most 10 s):
        labqc run Volatility --sim ag-nanowire
    """

    amplitude = shared.voltage("Pulse amplitude", 1.6, "height of the SET pulse (its sign is the polarity)",
                               signed=True)
    width = shared.milliseconds("Pulse width", 1.0, "width of the SET pulse")
    compliance = shared.compliance("Compliance", 1e-3, "current limit of the pulse")
    read_voltage, read_compliance = shared.read(0.1, "the reads of the decay")
    interval = Float("Read interval", units="ms", default=10.0, minimum=0.0, maximum=1e6, help="time between reads")
    block = Float("Block", units="s", default=0.5, minimum=0.0, maximum=1e4,
                  help="reads per stability check (one request each)")
    duration = Float("Longest duration", units="s", default=10.0, minimum=0.0, maximum=1e6,
                     help="stop after this long even if not stable")
    stable = Float("Stable within", units="G0", default=0.1, minimum=0.0, maximum=100.0,
                   help="two consecutive blocks whose medians differ by less than this: stable")
    nplc = shared.nplc(0.1, "integration time of each read (0.1 resolves 0.5 G0 at 0.1 V)")

    def validate(self) -> None:
        super().validate()
        require(self.amplitude != 0, "the pulse amplitude must not be 0 V")
        require(self.width > 0, f"the pulse width must be > 0 ms, got {self.width:g} ms")
        require(self.compliance > 0 and self.read_compliance > 0, "the pulse and the reads need a compliance > 0 A")
        require(self.read_voltage != 0, "the read voltage must not be 0 V (G = I/V is undefined there)")
        require(self.interval > 0, f"the read interval must be > 0 ms, got {self.interval:g} ms")
        require(self.block * 1e3 >= 2 * self.interval, "a block must hold at least two reads")
        require(self.duration >= self.block, "the longest duration must hold at least one block")
        require(self.stable > 0, "the stability band must be > 0 G0")

    def pulse(self) -> PulseTrain:
        w = self.width * 1e-3
        # the pulse's own reading is short (it must fit in the pulse); the reads use nplc
        return PulseTrain(amplitudes=[self.amplitude], width=w, period=2 * w, compliance=self.compliance,
                          nplc=0.01)

    def reads(self) -> Sampling:
        return Sampling.linear(self.read_voltage, self.read_compliance, self.interval * 1e-3, self.block,
                               nplc=self.nplc)

    def requests(self):
        return [self.pulse(), self.reads()]

    def blocks(self) -> int:
        return max(int(self.duration // self.block), 1)

    def estimated_duration(self) -> float:
        return self.pulse().duration + self.blocks() * self.block

    def estimated_rows(self) -> int:
        return 1 + self.blocks() * self.reads().points

    def execute(self) -> None:
        self.measure(self.pulse(), segment="pulse")
        self.medians: list[float] = []
        self.trace: list[np.ndarray] = []
        self.stable_after = None
        for k in range(1, self.blocks() + 1):
            rows = self.measure(self.reads(), cycle=k, segment="decay")
            g = np.array(rows["G/G0"])  # kept to the end: a copy, not a view of the chunk
            self.trace.append(g)
            self.medians.append(float(np.nanmedian(g)) if len(g) else float("nan"))
            if k >= 2 and abs(self.medians[-1] - self.medians[-2]) < self.stable:
                self.stable_after = k * self.block
                break

    def summary(self) -> dict:
        trace = np.concatenate(getattr(self, "trace", [])) if getattr(self, "trace", None) else np.zeros(0)
        first = float(trace[0]) if trace.size else None
        last = getattr(self, "medians", [None])[-1] if getattr(self, "medians", None) else None
        steps = int(np.sum(np.abs(np.diff(trace)) >= 0.4)) if trace.size > 1 else 0
        return {"G/G0 first read": first, "G/G0 stable": last,
                "relaxed by G0": (first - last) if first is not None and last is not None else None,
                "steps of 0.4 G0 or more": steps, "stable after (s)": getattr(self, "stable_after", None),
                "stable": getattr(self, "stable_after", None) is not None,
                "block medians G/G0": getattr(self, "medians", [])}

    def summary_lines(self, summary: dict) -> list[str]:
        when = (f"stable after {fmt(summary['stable after (s)'], unit='s')}" if summary["stable"]
                else f"not stable within {self.duration:g} s")
        return [f"first read {fmt(summary['G/G0 first read'], suffix=' G0')}, {when} at {fmt(summary['G/G0 stable'], suffix=' G0')} "
                f"({summary['steps of 0.4 G0 or more']} steps of 0.4 G0 or more)"]


__all__ = ["Volatility"]
