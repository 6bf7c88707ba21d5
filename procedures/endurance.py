"""Endurance: N SET/RESET cycles, by voltage ramp or by single pulse, with a read at
V_read after each half-cycle; HRS, LRS and the LRS level in G0 per cycle.

A cycle has switched when G(LRS)/G(HRS) >= the minimum ratio. The run stops early when
the device has not switched for K cycles in a row ("stuck"); it is reported stuck in
LRS when the read after RESET still shows at least 1 G0, else stuck in HRS.

Method "pulse" runs in batches: one :class:`~labqc.instruments.smu.Repeat` of (SET pulse, read,
RESET pulse, read) per batch of up to 100 cycles or about 2 s of instrument time, which
the 2614B loops on the instrument. The stuck condition is evaluated from each batch's
rows, so a pulse run stops at the end of the batch in which it was met (the stop reason
names both cycles). Method "sweep" runs cycle by cycle.
"""
from __future__ import annotations

from array import array

import numpy as np

from labqc.instruments.smu import PulseTrain as Train
from labqc.instruments.smu import Repeat, Sweep
from labqc import chunk as rows_of
from labqc.switching import StuckWatch, cycle_reads
from labqc.procedures import derive
from labqc.procedures import parameters as shared
from labqc.procedures.base import LabqcProcedure, require, triangle
from labqc.procedures.parameters import Choice, Float, Integer
from labqc.procedures.derive import fmt


class CycleTable:
    """Per-cycle LRS/HRS bookkeeping in typed columns: 48 bytes a cycle where a dict per cycle
    took ~470, so that a 10^6-cycle overnight run keeps it in ~50 MB instead of ~0.5 GB."""

    FIELDS = ("cycle", "LRS (Ohm)", "HRS (Ohm)", "LRS G/G0", "HRS G/G0", "switched")

    def __init__(self) -> None:
        self._cols = {name: array("d") for name in self.FIELDS}

    def __len__(self) -> int:
        return len(self._cols["cycle"])

    def append(self, values: dict) -> None:
        for name, column in self._cols.items():
            column.append(float(values[name]))

    def column(self, name: str) -> np.ndarray:
        return np.frombuffer(self._cols[name], dtype=float) if len(self) else np.empty(0)

    def rows(self) -> list[dict]:
        """The table as one dict per cycle (for the summary file)."""
        cols = [self._cols[name].tolist() for name in self.FIELDS]
        return [{"cycle": int(c), "LRS (Ohm)": lo, "HRS (Ohm)": ho, "LRS G/G0": lg, "HRS G/G0": hg,
                 "switched": bool(sw)} for c, lo, ho, lg, hg, sw in zip(*cols)]


class Endurance(LabqcProcedure):
    """SET/RESET cycling with HRS/LRS reads per cycle and a stuck-state stop (Ag nanowire).

    Default: 20 sweep cycles, SET ramp to +3 V at 400 uA, RESET ramp to -3 V at 10 mA,
    20 mV steps of 5 ms, reads at 0.4 V; stop after 5 cycles in a row without switching.

    Paper protocol (Ag nanowire: 100 full sweep cycles, HRS and LRS read at 0.4 V):
        labqc run Endurance --sim ag-nanowire --cycles 100
    By pulses (1.5 V / -1.5 V, 5 ms):
        labqc run Endurance --method pulse --set-voltage 1.5 --reset-voltage -1.5 --set-compliance 5mA
    """

    method = Choice("Method", choices=["sweep", "pulse"], default="sweep",
                    help="sweep: voltage ramps; pulse: one pulse per half-cycle")
    cycles = shared.cycles(20, "SET/RESET cycles (paper: 100)", maximum=10_000_000)
    set_voltage = shared.voltage("SET voltage", 3.0, "end of the SET ramp, or SET pulse height")
    set_compliance = shared.compliance("SET compliance", 400e-6, "current limit of the SET (paper: 400 uA)")
    reset_voltage = shared.voltage("RESET voltage", -3.0,
                                   "end of the RESET ramp, or RESET pulse height (negative)", negative=True)
    reset_compliance = shared.compliance("RESET compliance", 10e-3, "current limit of the RESET")
    step = shared.voltage_step("Voltage step", 20.0, "voltage step of the ramps")
    step_time = shared.milliseconds("Step time", 5.0, "time per ramp step")
    pulse_width = shared.milliseconds("Pulse width", 5.0, "pulse width (method pulse)", maximum=1e6)
    read_voltage, read_compliance = shared.read(0.4, "HRS/LRS read after each half-cycle (paper: 0.4 V)",
                                                     compliance_help="current limit of the reads")
    min_ratio = Float("Minimum on/off ratio", default=2.0, minimum=0.0, maximum=1e9,
                      help="G(LRS)/G(HRS) at or above which a cycle counts as switched")
    stuck_cycles = Integer("Stop after stuck cycles", default=5, minimum=0, maximum=10_000_000,
                           help="stop after this many cycles in a row without switching (0: never)")
    nplc = shared.nplc(0.01, "integration time per ramp point")

    def validate(self) -> None:
        super().validate()
        require(self.cycles >= 1, f"the number of cycles must be at least 1, got {self.cycles}")
        require(self.set_voltage > 0, f"the SET voltage must be > 0 V, got {self.set_voltage:g} V")
        require(self.reset_voltage < 0, f"the RESET voltage must be < 0 V, got {self.reset_voltage:g} V")
        require(self.set_compliance > 0, "the SET needs a current compliance > 0 A")
        require(self.reset_compliance > 0, "the RESET needs a current compliance > 0 A")
        if self.method == "sweep":
            require(self.step > 0, f"the voltage step must be > 0 mV, got {self.step:g} mV")
            require(self.step_time > 0, f"the step time must be > 0 ms, got {self.step_time:g} ms")
        else:
            require(self.pulse_width > 0, f"the pulse width must be > 0 ms, got {self.pulse_width:g} ms")
        require(self.read_voltage != 0, "the read voltage must not be 0 V (G = I/V is undefined there)")
        require(self.read_compliance > 0, "the reads need a current compliance > 0 A")
        require(self.min_ratio > 1, "the minimum on/off ratio must be > 1")

    def half_cycle(self, polarity: str) -> Sweep | Train:
        v, icc = ((self.set_voltage, self.set_compliance) if polarity == "set"
                  else (self.reset_voltage, self.reset_compliance))
        if self.method == "sweep":
            return Sweep(levels=triangle(v, self.step * 1e-3), compliance=icc,
                         step_time=self.step_time * 1e-3, nplc=self.nplc)
        width = self.pulse_width * 1e-3
        return Train.uniform(v, 1, width=width, period=2 * width, compliance=icc, nplc=self.nplc,
                             series_load=self.pmu_load or None)

    #: A pulse batch holds at most this many cycles ...
    BATCH_CYCLES = 100
    #: ... and at most about this much instrument time (s), so that a stop is prompt.
    BATCH_SECONDS = 2.0
    #: What each step of a pulse cycle is, in the Segment column (pulses show as "pulse").
    STEP_SEGMENTS = ("set", "read", "reset", "read")

    #: A batch's read step: one NPLC-1 integration at 50 Hz (the slower line) plus 1 ms to
    #: settle, about as long as the spot read of the cycle-by-cycle path holds V_read.
    READ_STEP = 1.0 / 50 + 1e-3

    def read_step(self) -> Sweep:
        """The HRS/LRS read as a request: one point at V_read, NPLC 1, READ_STEP s."""
        return Sweep(levels=[self.read_voltage], compliance=self.read_compliance, nplc=1.0,
                     step_time=self.READ_STEP)

    def pulse_batch(self, count: int) -> Repeat:
        """``count`` pulse cycles: SET pulse, read, RESET pulse, read (in STEP_SEGMENTS order)."""
        read = self.read_step()
        return Repeat((self.half_cycle("set"), read, self.half_cycle("reset"), read), count)

    def batch_cycles(self) -> int:
        """Cycles per pulse batch: at most BATCH_CYCLES and about BATCH_SECONDS of instrument time."""
        per_cycle = self.pulse_batch(1).duration
        return max(1, min(self.BATCH_CYCLES, int(self.BATCH_SECONDS / per_cycle), self.cycles))

    def requests(self):
        if self.method == "pulse":
            return [self.pulse_batch(self.batch_cycles())]  # checks every step
        return [self.half_cycle("set"), self.half_cycle("reset"),
                self.read_request(self.read_voltage, self.read_compliance, 1.0)]

    def estimated_duration(self) -> float:
        if self.method == "pulse":
            # A pulse step ends with its pulse: the off-time after the last pulse of a train
            # is not spent (a trigger model stops there), ~20 % of a 5 ms-pulse cycle.
            steps = self.pulse_batch(1).steps
            idle = sum(s.period - s.width for s in steps if isinstance(s, Train) and s.read_levels is None)
            return self.cycles * (sum(float(s.duration) for s in steps) - idle)
        r = self.requests()
        return self.cycles * (r[0].duration + r[1].duration + 0.1)

    def estimated_rows(self) -> int:
        if self.method == "pulse":
            return self.cycles * self.pulse_batch(1).per_repeat
        r = self.requests()  # SET, read, RESET, read (a stuck stop may end it sooner)
        return self.cycles * (r[0].points + r[1].points + 2)

    def startup(self) -> None:
        self.per_cycle = CycleTable()
        self.stop_reason = ""
        self.watch = StuckWatch(self.min_ratio)

    def execute(self) -> None:
        if not hasattr(self, "per_cycle"):
            self.startup()
        if self.method == "pulse":
            self._execute_batches()
            return
        for cycle in range(1, self.cycles + 1):
            self.measure(self.half_cycle("set"), cycle=cycle, segment="set")
            lrs = self.read_point(self.read_voltage, self.read_compliance, cycle=cycle)
            self.measure(self.half_cycle("reset"), cycle=cycle, segment="reset")
            hrs = self.read_point(self.read_voltage, self.read_compliance, cycle=cycle)
            if self._book(cycle, lrs, hrs):
                self.stop_reason += f"; stopped after cycle {cycle}"
                return

    def _book(self, cycle: int, lrs: np.void, hrs: np.void) -> bool:
        """Add one cycle to the per-cycle table from its LRS and HRS read rows (one row of a
        labqc.chunk each); True when
        this cycle completes the stuck condition (the stop reason is then set)."""
        g_on, g_off = float(lrs["G/G0"]), float(hrs["G/G0"])
        switched = self.watch.add_cycle(g_on, g_off)
        self.per_cycle.append({
            "cycle": cycle,
            "LRS (Ohm)": derive.resistance(lrs["Voltage (V)"], lrs["Current (A)"]),
            "HRS (Ohm)": derive.resistance(hrs["Voltage (V)"], hrs["Current (A)"]),
            "LRS G/G0": g_on, "HRS G/G0": g_off, "switched": switched,
        })
        if self.stuck_cycles and self.watch.streak >= self.stuck_cycles and not self.stop_reason:
            self.stop_reason = (f"stuck in {self.watch.state} for {self.watch.streak} cycles "
                                f"(G(LRS)/G(HRS) < {self.min_ratio:g})")
            return True
        return False

    def _execute_batches(self) -> None:
        """Pulse cycles in batches; each batch's complete cycles are booked (even when a stop
        or an error cuts it short), and a stuck condition stops the run after its batch."""
        size, cycle = self.batch_cycles(), 1
        while cycle <= self.cycles:
            count = min(size, self.cycles - cycle + 1)
            chunks: list[np.ndarray] = []
            try:
                self.measure(self.pulse_batch(count), cycle=cycle, segment=self.STEP_SEGMENTS, into=chunks)
            finally:
                stuck_at = self._book_batch(chunks)
            last = cycle + count - 1
            if stuck_at is not None:
                self.stop_reason += (f" at cycle {stuck_at}; stopped at the end of its batch, "
                                     f"after cycle {last}")
                return
            cycle = last + 1

    def _book_batch(self, chunks: list[np.ndarray]) -> int | None:
        """Book every complete cycle in the batch's rows (labqc.chunk; labqc.switching: a
        cycle's first read is the LRS, its last the HRS); the cycle at which the stuck
        condition was met, if it was."""
        if not chunks:
            return None
        rows = rows_of.concat(chunks)
        reads = rows[rows["Segment"] == "read"]
        stuck_at = None
        for cycle, first, last, count in zip(*cycle_reads(reads["Cycle"])):
            if count < 2:
                break  # the batch was cut short in this cycle
            if self._book(int(cycle), reads[first], reads[last]) and stuck_at is None:
                stuck_at = int(cycle)
        return stuck_at

    #: Above this many cycles the summary file leaves the per-cycle table out (it would be
    #: ~150 bytes of JSON a cycle); the results file has every read row.
    PER_CYCLE_IN_SUMMARY = 10_000

    def summary(self) -> dict:
        cycles = getattr(self, "per_cycle", None) or CycleTable()
        switched = cycles.column("switched") > 0
        lrs, hrs = cycles.column("LRS G/G0")[switched], cycles.column("HRS G/G0")[switched]
        return {
            "method": self.method,
            "cycles done": len(cycles),
            "cycles switched": int(switched.sum()),
            "stop reason": getattr(self, "stop_reason", "") or self._end_reason(len(cycles)),
            "median LRS G/G0": derive.nanmedian(lrs),
            "median HRS G/G0": derive.nanmedian(hrs),
            "LRS levels (G0)": derive.levels_visited(lrs, min_points=2),
            "per cycle": (cycles.rows() if len(cycles) <= self.PER_CYCLE_IN_SUMMARY else
                          f"{len(cycles)} cycles: more than {self.PER_CYCLE_IN_SUMMARY}, so read the "
                          f"Segment 'read' rows of the results file (LRS then HRS per cycle)"),
        }

    def _end_reason(self, done: int) -> str:
        """How a run without a stuck stop ended (the runner sets the status before the summary)."""
        if self.status == self.ABORTED:
            return f"aborted by request after {done} of {self.cycles} cycles"
        if self.status == self.FAILED:
            return f"failed after {done} of {self.cycles} cycles"
        return "all cycles done" if done else ""

    def summary_lines(self, summary: dict) -> list[str]:
        levels = derive.levels_text(summary["LRS levels (G0)"])
        return [f"{summary['cycles done']} cycles, {summary['cycles switched']} switched: LRS "
                f"{fmt(summary['median LRS G/G0'], suffix=' G0')}, HRS {fmt(summary['median HRS G/G0'], suffix=' G0')} (medians)",
                f"LRS levels: {levels}; {summary['stop reason']}"]
