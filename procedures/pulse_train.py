"""PulseTrain: SET or RESET trains of identical pulses, or potentiation/depression
(a positive train then a negative one), with a read after every pulse.

Per pulse: the mean current over the top of the pulse (I_i), I_i/I_1, and the read
G/G0. Before the train the device can be put into the state the train starts from
(a SET ramp before a RESET train, a RESET ramp before a SET or LTP/LTD train).
"""
from __future__ import annotations

import math

import numpy as np

from labqc.instruments.smu import PulseTrain as Train
from labqc.instruments.smu import Sweep
from labqc.fits import fit_potentiation_depression, ltp_ltd_record
from labqc.procedures import derive
from labqc.procedures import parameters as shared
from labqc.procedures.base import LabqcProcedure, require, triangle
from labqc.procedures.parameters import Choice, Flag, Integer
from labqc.procedures.derive import fmt


class PulseBook:
    """What the summary needs of the trains, kept as their rows stream (labqc.chunk): per
    pulse top its number, train (the Cycle column), current and compliance; per read its
    number, train, G/G0 and G_corr/G0. 37 bytes a pulse where its two rows take ~210, so
    that a long train's memory grows by ~0.2 MB per 10^4 rows (pulse numbers fit int32:
    at most 10^6 pulses a phase; trains are 1 and 2)."""

    TOP = np.dtype([("Pulse", "i4"), ("Cycle", "i2"), ("Current (A)", "f8"), ("Compliance", "?")])
    READ = np.dtype([("Pulse", "i4"), ("Cycle", "i2"), ("G/G0", "f8"), ("G_corr/G0", "f8")])
    #: chunks kept apart before they are merged into one block (each small array has its overhead)
    MERGE = 256

    def __init__(self) -> None:
        self._parts: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {"pulse": ([], []), "read": ([], [])}

    def append(self, rows: np.ndarray) -> None:
        """Take one chunk of a train's rows (labqc.chunk); rows of other segments pass by."""
        segment = rows["Segment"]
        for name, dtype in (("pulse", self.TOP), ("read", self.READ)):
            mine = rows[segment == name]
            if not len(mine):
                continue
            kept = np.empty(len(mine), dtype)
            for field in dtype.names:
                kept[field] = mine[field]
            blocks, pending = self._parts[name]
            pending.append(kept)
            if len(pending) >= self.MERGE:
                blocks.append(np.concatenate(pending))
                pending.clear()

    def rows(self, segment: str) -> np.ndarray:
        """The kept pulse tops ("pulse") or reads ("read"), in pulse order."""
        blocks, pending = self._parts[segment]
        parts = blocks + pending
        kept = np.concatenate(parts) if parts else np.empty(0, self.TOP if segment == "pulse" else self.READ)
        return kept[np.argsort(kept["Pulse"], kind="stable")]


class PulseTrain(LabqcProcedure):
    """Pulse trains with per-pulse current and read G/G0 (Graphene/BiFeO3/FTO).

    Default: a RESET train of 100 pulses of -1.5 V, 5 ms, one every 10 ms, compliance
    5 mA, each followed by a 1 ms read at 0.1 V; before it a SET ramp to 3 V at 5 mA.

    Paper protocols:
        RESET train (500 x 1.5 V x 5 ms):
            labqc run PulseTrain --mode reset --count 500
        Potentiation/depression (30 x +1.5 V then 30 x -1.5 V, 5 ms, read at +-0.2 V):
            labqc run PulseTrain --mode ltp-ltd --count 30 --read-voltage 0.2
        SET programming (read 0.1 V, 20 ms pulses, 1.5 / 1.9 / 2.3 V):
            labqc run PulseTrain --mode set --count 10 --width 20 --period 40 --amplitude 1.9
    """

    mode = Choice("Mode", choices=["reset", "set", "ltp-ltd"], default="reset",
                  help="reset: -amplitude train; set: +amplitude train; ltp-ltd: +amplitude then -amplitude")
    amplitude = shared.voltage("Pulse amplitude", 1.5, "pulse height (magnitude; the mode sets the sign)")
    width = shared.milliseconds("Pulse width", 5.0, "pulse width", maximum=1e6)
    period = shared.milliseconds("Pulse period", 10.0, "pulse period (pulse + read + rest)", maximum=1e6)
    count = Integer("Pulse count", default=100, minimum=0, maximum=1_000_000,
                    help="pulses per train (per phase for ltp-ltd; paper: 500 RESET, 30+30 LTP/LTD)")
    base = shared.voltage("Base level", 0.0, "level between pulses", signed=True)
    compliance = shared.compliance("Compliance", 5e-3, "current limit of the pulses and reads")
    reads = Flag("Read after each pulse", default=True, help="read after every pulse")
    read_voltage = shared.read_level(0.1,
                                     "read level (paper: 0.1 V, 0.2 V for LTP/LTD; negative phase reads at -V)")
    read_width = shared.milliseconds("Read width", 1.0, "read window", maximum=1e6)
    prepare = Flag("Prepare state", default=True,
                   help="SET (before a RESET train) or RESET (before a SET or LTP train) ramp first")
    prepare_voltage = shared.voltage("Prepare voltage", 3.0, "end of the preparing ramp (magnitude)")
    prepare_compliance = shared.compliance("Prepare compliance", 5e-3, "current limit of the preparing ramp")
    nplc = shared.nplc(0.01, "integration time of the reads")

    def validate(self) -> None:
        super().validate()
        require(self.amplitude > 0, f"the pulse amplitude must be > 0 V, got {self.amplitude:g} V")
        require(self.width > 0, f"the pulse width must be > 0 ms, got {self.width:g} ms")
        require(self.count >= 1, f"the pulse count must be at least 1, got {self.count}")
        require(self.compliance > 0, "pulses need a current compliance > 0 A")
        busy = self.width + (self.read_width if self.reads else 0.0)
        require(self.period > busy, f"the period ({self.period:g} ms) must be longer than the pulse "
                                    f"and read ({busy:g} ms)")
        if self.reads:
            require(self.read_voltage != 0, "the read voltage must not be 0 V (G = I/V is undefined there)")
            require(self.read_width > 0, "the read width must be > 0 ms")
        if self.prepare:
            require(self.prepare_voltage > 0, "the prepare voltage must be > 0 V")
            require(self.prepare_compliance > 0, "the preparing ramp needs a current compliance > 0 A")

    def trains(self) -> list[Train]:
        signs = {"reset": [-1.0], "set": [1.0], "ltp-ltd": [1.0, -1.0]}[self.mode]
        out = []
        for s in signs:
            kw = dict(width=self.width * 1e-3, period=self.period * 1e-3, compliance=self.compliance,
                      base=self.base, nplc=self.nplc, series_load=self.pmu_load or None)
            if self.reads:
                read = self.read_voltage * (s if self.mode == "ltp-ltd" else 1.0)
                kw.update(read_level=read, read_width=self.read_width * 1e-3)
            out.append(Train.uniform(s * self.amplitude, self.count, **kw))
        return out

    def prepare_sweep(self) -> Sweep | None:
        if not self.prepare:
            return None
        v = self.prepare_voltage if self.mode == "reset" else -self.prepare_voltage
        return Sweep(levels=triangle(v, 0.02), compliance=self.prepare_compliance, step_time=5e-3, nplc=0.01)

    def requests(self):
        prep = self.prepare_sweep()
        return ([prep] if prep else []) + self.trains()

    def startup(self) -> None:
        self.pulses = PulseBook()  # the trains' per-pulse figures, kept as the rows arrive

    def execute(self) -> None:
        if not hasattr(self, "pulses"):
            self.startup()
        prep = self.prepare_sweep()
        if prep is not None:
            self.measure(prep, cycle=0, segment="set" if self.mode == "reset" else "reset")
        offset = 0
        for phase, train in enumerate(self.trains(), start=1):
            self.measure(train, cycle=phase, pulse_offset=offset, into=self.pulses, keep=False)
            offset += train.count

    def summary(self) -> dict:
        book = getattr(self, "pulses", None) or PulseBook()
        tops, reads = book.rows("pulse"), book.rows("read")
        if not len(tops) and not len(reads):
            return {"mode": self.mode, "pulses done": 0}
        current = tops["Current (A)"]
        # I_i/I_1 within each train (LTP and LTD are normalised to their own first pulse).
        first = _first_per_train(tops["Cycle"], current)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(first != 0, current / first, np.nan)
            lag = current[1:] / current[:-1] if len(current) > 1 else np.array([])
        same_train = tops["Cycle"][1:] == tops["Cycle"][:-1]
        lag = lag[same_train[: len(lag)] & np.isfinite(lag)]
        i1 = current[0] if len(current) else math.nan
        g_read = reads["G/G0"]
        read_by_pulse = dict(zip(reads["Pulse"].tolist(), g_read.tolist()))
        fit = {}
        if self.mode == "ltp-ltd":  # the non-linearity fit on G at the read (R_s removed)
            fit = ltp_ltd_record(fit_potentiation_depression(reads["Pulse"], reads["G_corr/G0"], reads["Cycle"]))
        return {
            "mode": self.mode,
            "pulses done": int(len(tops)),
            "I_1 (A)": float(i1),
            "final I_i/I_1": float(ratio[-1]) if len(ratio) else math.nan,
            "first read G/G0": float(g_read[0]) if len(g_read) else math.nan,
            "last read G/G0": float(g_read[-1]) if len(g_read) else math.nan,
            "max read G/G0": derive.nanmax(g_read),
            "min read G/G0": float(np.nanmin(g_read)) if np.isfinite(g_read).any() else math.nan,
            "read levels visited (G0)": derive.levels_visited(g_read, min_points=3),
            "median I_(i+1)/I_i": float(np.median(lag)) if lag.size else math.nan,
            # robust spread (1.4826 x median absolute deviation): near-zero currents after a
            # full RESET make single ratios huge, and must not swamp the variability figure
            "spread of I_(i+1)/I_i": float(1.4826 * np.median(np.abs(lag - np.median(lag)))) if lag.size else math.nan,
            "pulse compliance hits": int(np.count_nonzero(tops["Compliance"])),
            **fit,
            "per pulse": {
                "pulse": tops["Pulse"],
                "I_i (A)": current,
                "I_i/I_1": ratio,
                "read G/G0": [read_by_pulse.get(p, math.nan) for p in tops["Pulse"].tolist()],
            },
        }

    def summary_lines(self, summary: dict) -> list[str]:
        if not summary.get("pulses done"):
            return ["no pulses were applied"]
        levels = derive.levels_text(summary["read levels visited (G0)"])
        return [f"{summary['pulses done']} pulses ({summary['mode']}): read G {fmt(summary['first read G/G0'])} "
                f"-> {fmt(summary['last read G/G0'], suffix=' G0')}, final I_i/I_1 {fmt(summary['final I_i/I_1'])}",
                f"read levels visited: {levels}; pulse-to-pulse I_(i+1)/I_i "
                f"{fmt(summary['median I_(i+1)/I_i'])} +- {fmt(summary['spread of I_(i+1)/I_i'])}"] + (
                [f"LTP/LTD non-linearity: A_LTP {fmt(summary['a_ltp'])} +- {fmt(summary['a_ltp_sigma'])}, "
                 f"A_LTD {fmt(summary['a_ltd'])} +- {fmt(summary['a_ltd_sigma'])} pulses"]
                if "a_ltp" in summary else [])


def _first_per_train(train: np.ndarray, current: np.ndarray) -> np.ndarray:
    """For each pulse, the first finite current of its train (``train``: the Cycle column
    in pulse order); NaN for a train without one."""
    out = np.full(len(current), np.nan)
    finite = np.isfinite(current)
    names, where = np.unique(train[finite], return_index=True)
    firsts = dict(zip(names.tolist(), current[finite][where].tolist()))
    for name, value in firsts.items():
        out[train == name] = value
    return out

