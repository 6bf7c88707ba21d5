"""The simulated 4225-PMU (with 4225-RPMs) behind KXCI's ``:PMU:`` commands: its settings
and the handlers the command table (kxci_commands.py) calls with checked arguments.

Two channels, ``1`` and ``2`` (PMU1-1, PMU1-2). Channel 1 reaches the device under test
through its RPM; channel 2 is open circuit. ``:PMU:INIT 0`` selects standard pulse
(trains, amplitude sweeps and steps), ``:PMU:INIT 1`` Segment Arb; INIT must come before
any other PMU setting, resets every channel not held by ``:PMU:RETAIN:CONFIG ch,1`` and
purges the data (as EXECUTE and *RST do). The settings and their defaults are the tables
PMU and PMU_CHANNEL of kxci_settings.py; EXECUTE compiles them (kxci_pmu_build.py) into
the programs kxci_pmu_run.py plays. ``:PMU:DATA:GET ch[,start[,n]]`` answers at most 2048
points, separated by ``;``. What is confirmed and what is the simulator's choice:
docs/keithley4200a.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from labqc.instruments.sim.kxci_pmu_build import PmuPrograms, close
from labqc.instruments.sim.kxci_pmu_run import PMU_RANGES, RPM_RANGES, PmuTest, PointStore, format_row
from labqc.instruments.sim.kxci_settings import PMU, PMU_CHANNEL, PmuChannel
from labqc.instruments.sim.kxci_syntax import KxciError

PAGE = 2048  # points per DATA:GET
SEG_MAX = 128  # values per SARB command
#: :PMU:SARB:SEQ:<what> -> the Sequence field it fills
SEQUENCE_FIELDS = {"STARTV": "startv", "STOPV": "stopv", "TIME": "time", "MEAS:TYPE": "meas_type",
                   "MEAS:START": "meas_start", "MEAS:STOP": "meas_stop"}


@dataclass
class Sequence:
    """One Segment Arb sequence: per segment its start and stop volts, time, and what is measured."""

    startv: list[float] = field(default_factory=list)
    stopv: list[float] = field(default_factory=list)
    time: list[float] = field(default_factory=list)
    meas_type: list[int] = field(default_factory=list)
    meas_start: list[float] = field(default_factory=list)
    meas_stop: list[float] = field(default_factory=list)


class Pmu(PmuPrograms):
    """State and commands of PMU1 (channels 1, 2)."""

    def __init__(self, present: bool, rpm: bool) -> None:
        self.present = present
        self.rpm = rpm
        self.reset()

    def reset(self) -> None:
        PMU.reset(self)
        self.channels = {1: PmuChannel(), 2: PmuChannel()}
        self.data = {1: PointStore(), 2: PointStore()}
        self.test: PmuTest | None = None

    def initialised(self, need_mode: int | None = None) -> None:
        """Refuse (-969) before :PMU:INIT, or in the other mode than ``need_mode``."""
        if self.mode is None:
            raise KxciError(-969, "send :PMU:INIT 0 or :PMU:INIT 1 first.")
        if need_mode is not None and self.mode != need_mode:
            what = "standard pulse (:PMU:INIT 0)" if need_mode == 0 else "Segment Arb (:PMU:INIT 1)"
            raise KxciError(-969, f"this command needs {what}.")

    def outputs(self) -> dict[str, bool]:
        return {"PMU1-1": self.channels[1].energized, "PMU1-2": self.channels[2].energized}

    def idle_level(self) -> float | None:
        """Programmed volts channel 1 holds on the device between tests (None: off)."""
        c = self.channels[1]
        return c.vbase if c.energized else None

    # --- settings stored as sent -------------------------------------------------------
    def set_pmu(self, attr: str, value) -> None:
        setattr(self, attr, PMU[attr].cast(value))

    def set_channel(self, attr: str, ch: int, value) -> None:
        setattr(self.channels[ch], attr, PMU_CHANNEL[attr].cast(value))

    # --- commands with rules ------------------------------------------------------------
    def init(self, mode: int) -> None:
        self.mode = mode
        for ch, c in list(self.channels.items()):
            c.energized = False
            if not c.retain:
                self.channels[ch] = PmuChannel(rpm_pulse=c.rpm_pulse)
        self.data = {1: PointStore(), 2: PointStore()}
        self.measure_mode, self.burst = PMU["measure_mode"].default, PMU["burst"].default

    def rpm_configure(self, card: str, mode: int) -> None:
        if card.upper() not in ("PMU1-1", "PMU1-2"):
            raise KxciError(-969, f"no RPM on {card!r} (use PMU1-1 or PMU1-2).")
        if not self.rpm:
            raise KxciError(-969, "no RPM is installed.")
        self.channels[int(card[-1])].rpm_pulse = mode == 0

    def source_range(self, ch: int, r: float) -> None:
        if r not in PMU_RANGES:
            raise KxciError(-969, f"source range {r:g} V: choose 10 or 40.")
        c = self.channels[ch]
        c.source_range = r
        if c.meas_type != 2:
            c.meas_range = PMU_RANGES[r][0]

    def measure_range(self, ch: int, kind: int, value: float) -> None:
        c = self.channels[ch]
        if kind == 0:
            c.meas_type, c.meas_range = 0, PMU_RANGES[c.source_range][0]
            return
        allowed = PMU_RANGES[c.source_range] + (RPM_RANGES[c.source_range] if self.rpm else ())
        match = [r for r in allowed if close(r, value)]
        if not match:
            listed = ", ".join(f"{r:g}" for r in sorted(allowed))
            raise KxciError(-969, f"current range {value:g} A is not one of {listed} A.")
        c.meas_type, c.meas_range = kind, match[0]

    def llec(self, ch: int, on: int) -> None:
        if on and self.mode == 1:
            raise KxciError(-969, "load-line effect compensation works only in standard pulse mode (:PMU:INIT 0).")
        self.channels[ch].llec = bool(on)

    def set_measure_mode(self, mode: int) -> None:
        if mode > 2:
            raise KxciError(-969, "burst-averaged modes 3 and 4 are not simulated; use 1 or 2.")
        self.measure_mode = mode

    def measure_piv(self, ch: int, hi: int, lo: int) -> None:
        c = self.channels[ch]
        c.meas_hi, c.meas_lo = bool(hi), bool(lo)

    def times_piv(self, ch: int, lo: float, hi: float) -> None:
        if not 0 <= lo < hi <= 1:
            raise KxciError(-969, f"spot mean window {lo:g}..{hi:g} must satisfy 0 <= start < stop <= 1.")
        self.channels[ch].piv = (lo, hi)

    def train(self, ch: int, vbase: float, vampl: float) -> None:
        c = self.channels[ch]
        c.vbase, c.vampl = vbase, vampl

    def times(self, ch: int, period: float, width: float, rise: float, fall: float, delay: float = 0.0) -> None:
        c = self.channels[ch]
        c.period, c.width, c.rise, c.fall, c.delay = period, width, rise, fall, delay

    def sweep(self, ch: int, start: float, stop: float, step: float, vbase: float | None = None,
              dual: int = 0) -> None:
        self.steps(start, stop, step)
        self.channels[ch].sweep = (start, stop, step, vbase, bool(dual))

    def step(self, ch: int, start: float, stop: float, step: float, vbase: float | None = None) -> None:
        self.steps(start, stop, step)
        c = self.channels[ch]
        c.step = (start, stop, step)
        if vbase is not None:
            c.vbase = vbase

    def sequence_values(self, what: str, add: bool, ch: int, seq: int, *values: float) -> None:
        """``:PMU:SARB:SEQ:<what>[:ADD] ch,seq,value1[,...]``: ADD appends."""
        if len(values) > SEG_MAX:
            raise KxciError(-969, f"{len(values)} values exceed {SEG_MAX} per command (use ...:ADD).")
        if what == "MEAS:TYPE":
            values = tuple(int(v) for v in values)
        s = self.channels[ch].seqs.setdefault(seq, Sequence())
        attr = SEQUENCE_FIELDS[what]
        setattr(s, attr, (getattr(s, attr) if add else []) + list(values))

    def sequence_list(self, ch: int, *pairs: int) -> None:
        """``:PMU:SARB:WFM:SEQ:LIST ch,seq1,loops1[,seq2,loops2...]``."""
        if len(pairs) % 2:
            raise KxciError(-969, ":PMU:SARB:WFM:SEQ:LIST takes ch,seq1,loops1[,seq2,loops2...].")
        self.channels[ch].seq_list = list(zip(pairs[0::2], pairs[1::2]))

    def data_count(self, ch: int) -> str:
        return str(self.data[ch].count)

    def data_get(self, ch: int, start: int = 0, n: int = PAGE) -> str:
        store = self.data[ch]
        if start > store.count:
            raise KxciError(-969, f"start index {start} is past the {store.count} points taken.")
        return ";".join(format_row(r) for r in store.rows(start, min(n, PAGE)))
