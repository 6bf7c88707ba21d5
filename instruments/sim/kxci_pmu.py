"""The simulated 4225-PMU (with 4225-RPMs) behind KXCI's ``:PMU:`` commands.

Two channels, ``1`` and ``2`` (PMU1-1, PMU1-2). Channel 1 reaches the device under test
through its RPM; channel 2 is open circuit. ``:PMU:INIT 0`` selects standard pulse
(trains, amplitude sweeps and steps), ``:PMU:INIT 1`` Segment Arb; INIT must come before
any other PMU setting, resets every channel not held by ``:PMU:RETAIN:CONFIG ch,1`` and
purges the data (as EXECUTE and *RST do).

Physics of the output (the manual's load-line): the PMU sources through 50 ohm and
pre-scales its open-circuit voltage for the load it is told (``:PMU:LOAD``, default 1 Mohm),
so the device sees ``V_set * (50 + R_load)/R_load * R_dut/(50 + R_dut)`` (4 V set, LOAD 1 Mohm,
50 ohm DUT: 2 V). With ``:PMU:LLEC:CONFIGURE ch,1`` the device gets ``V_set`` whenever
the needed open-circuit voltage fits the source range (status bit 29 = LLEC success).
``R_dut`` is the device's low-bias resistance, refreshed every block of pulses. LLEC works
only in standard pulse mode on the PMU's own ranges (EXECUTE refuses it otherwise) and
fires LLEC_PULSES unmeasured pulses before each amplitude's burst.
The measure range is not a limit: the device gets whatever current the load line gives
(at most the range's volts over the 50 ohm source); a current beyond a fixed range's full
scale reads at the full scale with status bit 10 (I overflow) set. Bits 12-15 stay 0.

Standard pulse: the top of a pulse is ``vbase + vampl`` (``:PMU:PULSE:TRAIN ch,vbase,vampl``;
amplitude from the base). The period holds delay (at base), rise, the flat top
(``width - (rise+fall)/2``, width being full width at half maximum), fall, then base
until the next period. The spot mean "high" window is ``:PMU:TIMES:PIV`` start..stop
(fractions, default 0.75..0.9) of the flat top; the "low" window the same fractions of
the base time after the fall. Amplitude sweeps (``:PMU:SWEEP:PULSE:AMPLITUDE
ch,start,stop,step[,vbase[,dual]]``) fire BURST:COUNT pulses per amplitude; a step
(``:PMU:STEP:PULSE:AMPLITUDE ch,start,stop,step``) is the outer loop over the sweep.

Data (``:PMU:DATA:GET ch[,start[,n]]``, at most 2048 points per call, points separated
by ``;``, values by ``,``, numbers ``%.6g``, the status word as 8 hex digits):
- standard pulse, MEASURE:MODE 1 (spot mean): one point per pulse,
  ``VH,IH,TH,SH,VL,IL,TL,SL`` (high and low window means; a window not enabled by
  ``:PMU:MEASURE:PIV ch,hi,lo`` reads 0 with status 0);
- standard pulse, MEASURE:MODE 2 (waveform): ``V,I,T,S`` per sample over whole periods,
  the sample rate lowered so the channel's samples stay <= 65,536;
- Segment Arb (3 to 2048 segments per sequence, <= 128 values per command, more with
  ``:PMU:SARB:SEQ:<what>:ADD``): ``V,I,T,S`` per measured segment (MEAS:TYPE 1, mean over MEAS:START..STOP
  in seconds from the segment start) or per sample (MEAS:TYPE 2, at SAMPLE:RATE);
- T is the centre of the window (or sample) in seconds from EXECUTE.
Status word bits: 0-1 channel, 2-3 V range (0 = 10 V, 1 = 40 V), 4-7 I range (0 = 100 nA
... 7 = 800 mA), 8-9 V overflow, 10-11 I overflow, 12-15 source compliance/thresholds (never set), 16-19
measurement type (1 spot mean, 2 waveform), 24-27 = 1 through the RPM, 28 LLEC enabled,
29 LLEC success. MEASURE:MODE 3/4 (burst averages) are refused with -969.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from labqc.instruments.sim.kxci_syntax import KxciError, integer, need, number
from labqc.instruments.sim.kxci_timeline import Activity, apply_steps

R_SOURCE = 50.0  # ohm, PMU output impedance
MAX_POINTS = 65536  # per channel
PAGE = 2048  # points per DATA:GET
SEG_MAX = 128  # values per SARB command
SEG_PER_SEQUENCE = 2048  # segments in one Segment Arb sequence
RANGE_CODES = {1e-7: 0, 1e-6: 1, 1e-5: 2, 1e-4: 3, 1e-3: 4, 1e-2: 5, 0.2: 6, 0.8: 7}
PMU_RANGES = {10.0: (0.2, 0.01), 40.0: (0.8, 0.01)}
RPM_RANGES = {10.0: (1e-3, 1e-4, 1e-5, 1e-6, 1e-7), 40.0: (1e-4,)}
TIMING = {  # source range -> limits of :PMU:PULSE:TIMES (s)
    10.0: dict(period=(60e-9, 1.0), width=40e-9, edge=(20e-9, 33e-3), delay=20e-9, seg=20e-9),
    40.0: dict(period=(500e-9, 1.0), width=250e-9, edge=(50e-9, 33e-3), delay=50e-9, seg=50e-9),
}
MIN_OFF = 40e-9
#: Unmeasured pulses LLEC fires before each amplitude's burst (how many the instrument
#: fires is not documented; that it fires some, and so moves a memristor, is).
LLEC_PULSES = 3
RAMP_PIECES = 4  # unmeasured ramps reach the device as this many steps
BLOCK_ITERATIONS = 256  # pulses per device.apply (the load line is refreshed per block)
BLOCK_STEPS = 65536
SPOT8 = ("VH", "IH", "TH", "SH", "VL", "IL", "TL", "SL")


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


@dataclass
class Sequence:
    startv: list[float] = field(default_factory=list)
    stopv: list[float] = field(default_factory=list)
    time: list[float] = field(default_factory=list)
    meas_type: list[int] = field(default_factory=list)
    meas_start: list[float] = field(default_factory=list)
    meas_stop: list[float] = field(default_factory=list)


@dataclass
class PmuChannel:
    source_range: float = 10.0
    meas_type: int = 0  # 0 auto, 1 limited auto, 2 fixed
    meas_range: float = 0.2
    load: float = 1e6
    llec: bool = False
    rpm_pulse: bool = False  # RPM switched to the PMU (":PMU:RPM:CONFIGURE PMU1-n,0")
    output_req: bool = False
    energized: bool = False
    vbase: float = 0.0
    vampl: float = 0.0
    period: float = 10e-6
    width: float = 5e-6
    rise: float = 100e-9
    fall: float = 100e-9
    delay: float = 0.0
    piv: tuple[float, float] = (0.75, 0.9)
    meas_hi: bool = True
    meas_lo: bool = True
    sweep: tuple | None = None  # (start, stop, step, vbase or None, dual)
    step: tuple | None = None  # (start, stop, step)
    retain: bool = False
    seqs: dict[int, Sequence] = field(default_factory=dict)
    seq_list: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class Block:
    """One iteration's steps, repeated ``loops`` times."""

    dwell: np.ndarray
    level: np.ndarray
    meas: np.ndarray  # 0 none, 1 spot high, 2 spot low, 3 a V,I,T,S point
    loops: int
    kind: int  # measurement type for the status word: 1 spot mean, 2 waveform

    @property
    def duration(self) -> float:
        return float(np.sum(self.dwell))

    @property
    def points_per_loop(self) -> int:
        if np.any(self.meas == 3):
            return int(np.sum(self.meas == 3))
        return 1 if np.any(self.meas > 0) else 0


def pwl_steps(t_knots, v_knots, pieces_at: list[tuple[float, float, int]]):
    """Cut a piecewise-linear waveform into steps at the edges of measured windows.
    ``pieces_at``: (start, stop, meas code) windows. Unmeasured ramps become RAMP_PIECES
    steps; each step's level is the waveform's mean over it."""
    t_knots = np.asarray(t_knots, float)
    v_knots = np.asarray(v_knots, float)
    cuts = set(t_knots.tolist())
    for a, b, _ in pieces_at:
        cuts.update((a, b))
    edges = np.array(sorted(cuts))
    dwell, level, meas = [], [], []
    for a, b in zip(edges[:-1], edges[1:]):
        if b - a <= 0:
            continue
        code = next((c for (wa, wb, c) in pieces_at if wa <= a and b <= wb and wb > wa), 0)
        va, vb = np.interp([a, b], t_knots, v_knots)
        n = 1 if (code or va == vb) else RAMP_PIECES
        sub = np.linspace(a, b, n + 1)
        for sa, sb in zip(sub[:-1], sub[1:]):
            dwell.append(sb - sa)
            level.append(float(np.mean(np.interp([sa, sb], t_knots, v_knots))))
            meas.append(code)
    return np.array(dwell), np.array(level), np.array(meas, dtype=np.int8)


class PointStore:
    """The measured points of one channel, in arrival order."""

    def __init__(self, columns: tuple[str, ...] = ("V", "I", "T", "S")) -> None:
        self.columns = columns
        self._chunks: list[np.ndarray] = []
        self.count = 0

    def add(self, rows: np.ndarray) -> None:
        if len(rows):
            self._chunks.append(rows)
            self.count += len(rows)

    def rows(self, start: int, n: int) -> np.ndarray:
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        if not self._chunks:
            return np.zeros((0, len(self.columns)))
        return self._chunks[0][start:start + n]


class ChannelRun:
    """One channel's program in a running test, evaluated lazily."""

    def __init__(self, ch: int, cfg: PmuChannel, blocks: list[Block], store: PointStore,
                 start: float, device, rpm: bool) -> None:
        self.ch, self.cfg, self.blocks, self.store = ch, cfg, blocks, store
        self.device = device if ch == 1 else None
        self.start = start
        starts = [0.0]
        for b in blocks:
            starts.append(starts[-1] + b.duration * b.loops)
        self.block_start = starts  # s from test start
        self.duration = starts[-1]
        self.b = 0  # block being run
        self.j = 0  # iterations of it done
        # No current limit: the measure range only measures. What bounds the current is the
        # source itself, its open-circuit voltage across its 50 ohm.
        self.limit = cfg.source_range / R_SOURCE
        ranges = sorted(PMU_RANGES[cfg.source_range] + (RPM_RANGES[cfg.source_range] if rpm else ()))
        self.ranges = np.array(ranges)
        self.base_status = (ch & 3) | ((1 if cfg.source_range == 40.0 else 0) << 2) \
            | ((1 if rpm else 0) << 24) | ((1 if cfg.llec else 0) << 28)

    def reached(self) -> float:
        if self.b >= len(self.blocks):
            return self.start + self.duration
        blk = self.blocks[self.b]
        return self.start + self.block_start[self.b] + self.j * blk.duration

    def advance(self, t: float) -> float:
        while self.b < len(self.blocks):
            blk = self.blocks[self.b]
            t0 = self.reached()
            fit = int(min(blk.loops - self.j, math.floor((t - t0) / blk.duration + 1e-9)))
            if fit <= 0:
                break
            per = max(1, min(BLOCK_ITERATIONS, BLOCK_STEPS // max(1, len(blk.dwell))))
            done = 0
            while done < fit:
                n = min(per, fit - done)
                self._run(blk, n, self.reached())
                self.j += n
                done += n
            if self.j >= blk.loops:
                self.b += 1
                self.j = 0
        return self.reached()

    def stop(self, t: float) -> None:
        """Evaluate up to ``t`` and cut the running iteration short there."""
        self.advance(t)
        if self.b < len(self.blocks):
            blk = self.blocks[self.b]
            t0 = self.reached()
            ends = t0 + np.cumsum(blk.dwell)
            k = int(np.searchsorted(ends, t + 1e-15, side="right"))
            if k > 0:
                self._run(blk, 1, t0, steps=k)
            part = t - (ends[k - 1] if k > 0 else t0)
            if self.device is not None and part > 0 and k < len(blk.dwell):
                lv = blk.level[k:k + 1] * self._factor(blk.level)[0]
                apply_steps(self.device, "V", lv, [part], 0.0, self.limit)
        self.b = len(self.blocks)

    # --- physics ----------------------------------------------------------------------
    def _factor(self, levels: np.ndarray) -> tuple[float, bool]:
        """Device voltage per programmed volt, and whether LLEC reached its target."""
        cfg = self.cfg
        if self.device is None:  # open circuit: the open-circuit voltage
            return (1.0, True) if cfg.llec else ((R_SOURCE + cfg.load) / cfg.load, True)
        g = float(self.device.conductance())
        r = 1.0 / g if g > 0 else 1e15
        peak = float(np.max(np.abs(levels))) if len(levels) else 0.0
        if cfg.llec:
            need_oc = peak * (R_SOURCE + r) / r
            if need_oc <= cfg.source_range or peak == 0:
                return 1.0, True
            return cfg.source_range / need_oc, False
        return (R_SOURCE + cfg.load) / cfg.load * r / (R_SOURCE + r), True

    def _run(self, blk: Block, n: int, t0: float, steps: int | None = None) -> None:
        """Evaluate ``n`` iterations of ``blk`` from ``t0`` (or the first ``steps`` steps of one)."""
        k = len(blk.dwell) if steps is None else steps
        dwell = np.tile(blk.dwell[:k], n)
        prog = np.tile(blk.level[:k], n)
        meas = np.tile(blk.meas[:k], n)
        factor, llec_ok = self._factor(prog)
        levels = prog * factor
        if self.device is not None:
            windows = dwell[meas > 0]
            t_int = float(windows.min()) if windows.size else 0.0
            m = apply_steps(self.device, "V", levels, dwell, t_int, self.limit)
            v, i = m.v, m.i
        else:
            v, i = levels, np.zeros_like(levels)
        if not np.any(meas):
            return
        ends = np.cumsum(dwell)
        mids = (t0 - self.start) + ends - dwell / 2
        status, i = self._status(v, i, blk.kind, llec_ok)
        if np.any(blk.meas == 3):
            sel = meas == 3
            rows = np.column_stack([v[sel], i[sel], mids[sel], status[sel]])
        else:
            rows = self._spot8(blk, n, k, v, i, mids, status)
        self.store.add(rows)

    def _spot8(self, blk, n, k, v, i, mids, status) -> np.ndarray:
        rows = np.zeros((n, 8))
        width = k
        for code, col in ((1, 0), (2, 4)):
            idx = np.flatnonzero(blk.meas[:k] == code)
            if idx.size:
                at = idx[0] + width * np.arange(n)
                rows[:, col], rows[:, col + 1], rows[:, col + 2], rows[:, col + 3] = \
                    v[at], i[at], mids[at], status[at]
        return rows  # an iteration cut short (k < len) keeps only the windows that finished

    def _status(self, v, i, kind: int, llec_ok: bool) -> tuple[np.ndarray, np.ndarray]:
        """Status words, and the currents as measured: a current beyond the range's full
        scale reads at the full scale (the converter saturates) with bit 10 set. Bits
        12-15 stay 0: KXCI sets no source compliance or thresholds on the PMU."""
        cfg = self.cfg
        if cfg.meas_type == 2:
            full = np.full(v.shape, cfg.meas_range)
            code = np.full(v.shape, RANGE_CODES[cfg.meas_range], dtype=np.int64)
        else:
            pick = np.minimum(np.searchsorted(self.ranges, np.abs(i) * 0.9999999), len(self.ranges) - 1)
            full = self.ranges[pick]
            code = np.array([RANGE_CODES[r] for r in self.ranges])[pick]
        over_i = np.abs(i) > full * 1.0000001
        fixed = self.base_status | (kind << 16) | ((1 if (cfg.llec and llec_ok) else 0) << 29)
        word = np.full(v.shape, fixed, dtype=np.int64)
        word |= code << 4
        word |= np.where(np.abs(v) > cfg.source_range, 1 << 8, 0)
        word |= np.where(over_i, 1 << 10, 0)
        return word.astype(float), np.where(over_i, np.sign(i) * full, i)


class PmuTest(Activity):
    """Both channels' programs, started together at EXECUTE."""

    def __init__(self, runs: list[ChannelRun], start: float, device) -> None:
        self.runs = runs
        self.start = start
        self.end = start + max(r.duration for r in runs)
        self.stopped = False
        self.device = device
        self._rested = start  # device time when channel 1 is not in the test

    def _on_device(self) -> ChannelRun | None:
        return next((r for r in self.runs if r.device is not None), None)

    def advance(self, t: float) -> float:
        for r in self.runs:
            r.advance(t)
        run = self._on_device()
        if run is not None:
            return run.reached()
        target = min(t, self.end)
        if target > self._rested:  # channel 1 idle: the device rests at 0 V
            self.device.rest(target - self._rested)
            self._rested = target
        return self._rested

    def stop(self, t: float) -> float:
        self.advance(t)
        for r in self.runs:
            r.stop(t)
        if self._on_device() is None and t > self._rested:
            self.device.rest(t - self._rested)
            self._rested = t
        self.stopped = True
        self.end = min(self.end, t)
        return t


class Pmu:
    """State and commands of PMU1 (channels 1, 2)."""

    def __init__(self, present: bool, rpm: bool) -> None:
        self.present = present
        self.rpm = rpm
        self.channels = {1: PmuChannel(), 2: PmuChannel()}
        self.reset()

    def reset(self) -> None:
        self.mode: int | None = None  # 0 standard pulse, 1 Segment Arb, None before INIT
        self.channels = {1: PmuChannel(), 2: PmuChannel()}
        self.measure_mode = 1
        self.burst = 1
        self.rate = 200e6
        self.data = {1: PointStore(), 2: PointStore()}
        self.test: PmuTest | None = None

    # --- helpers ----------------------------------------------------------------------
    def _ch(self, field_: str) -> PmuChannel:
        ch = integer(field_, 1, 2, "PMU channel", code=-969)
        return self.channels[ch]

    def _initialised(self, need_mode: int | None = None) -> None:
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

    # --- commands ---------------------------------------------------------------------
    def handle(self, path: str, a: list[str]) -> str | None:
        """``path``: the command after ``:PMU:``, upper case. Returns reply data or None.
        EXECUTE, ABORT, TEST:STATUS? and OUTPUT:STATE are run by the emulator (they
        touch the timeline)."""
        if not self.present:
            raise KxciError(-969, "no PMU is installed.")
        method = getattr(self, "_" + path.replace(":", "_").replace("?", "_Q"), None)
        if method is None:
            raise KxciError(-992, f"unknown PMU command :PMU:{path}.")
        return method(a)

    def _INIT(self, a):
        need(a, 1, 1, ":PMU:INIT")
        mode = integer(a[0], 0, 1, "PMU mode", code=-969)
        self.mode = mode
        for ch, c in list(self.channels.items()):
            c.energized = False
            if not c.retain:
                self.channels[ch] = PmuChannel(rpm_pulse=c.rpm_pulse)
        self.data = {1: PointStore(), 2: PointStore()}
        self.measure_mode, self.burst = 1, 1

    def _RPM_CONFIGURE(self, a):
        need(a, 2, 2, ":PMU:RPM:CONFIGURE")
        card = a[0].upper()
        if card not in ("PMU1-1", "PMU1-2"):
            raise KxciError(-969, f"no RPM on {a[0]!r} (use PMU1-1 or PMU1-2).")
        if not self.rpm:
            raise KxciError(-969, "no RPM is installed.")
        mode = integer(a[1], 0, 3, "RPM mode", code=-969)
        self.channels[int(card[-1])].rpm_pulse = mode == 0

    def _SOURCE_RANGE(self, a):
        self._initialised()
        need(a, 2, 2, ":PMU:SOURCE:RANGE")
        c = self._ch(a[0])
        r = number(a[1])
        if r not in (10.0, 40.0):
            raise KxciError(-969, f"source range {r:g} V: choose 10 or 40.")
        c.source_range = r
        if c.meas_type != 2:
            c.meas_range = PMU_RANGES[r][0]

    def _MEASURE_RANGE(self, a):
        self._initialised()
        need(a, 3, 3, ":PMU:MEASURE:RANGE")
        c = self._ch(a[0])
        kind = integer(a[1], 0, 2, "range type", code=-969)
        value = number(a[2])
        if kind == 0:
            c.meas_type, c.meas_range = 0, PMU_RANGES[c.source_range][0]
            return
        allowed = PMU_RANGES[c.source_range] + (RPM_RANGES[c.source_range] if self.rpm else ())
        match = [r for r in allowed if _close(r, value)]
        if not match:
            listed = ", ".join(f"{r:g}" for r in sorted(allowed))
            raise KxciError(-969, f"current range {value:g} A is not one of {listed} A.")
        c.meas_type, c.meas_range = kind, match[0]

    def _LOAD(self, a):
        self._initialised()
        need(a, 2, 2, ":PMU:LOAD")
        c = self._ch(a[0])
        r = number(a[1])
        if not 1 <= r <= 1e7:
            raise KxciError(-969, f"load {r:g} ohm is outside 1 to 1e7 ohm.")
        c.load = r

    def _LLEC_CONFIGURE(self, a):
        self._initialised()
        need(a, 2, 2, ":PMU:LLEC:CONFIGURE")
        on = bool(integer(a[1], 0, 1, "LLEC", code=-969))
        if on and self.mode == 1:
            raise KxciError(-969, "load-line effect compensation works only in standard pulse mode (:PMU:INIT 0).")
        self._ch(a[0]).llec = on

    def _MEASURE_MODE(self, a):
        self._initialised()
        need(a, 1, 1, ":PMU:MEASURE:MODE")
        mode = integer(a[0], 0, 4, "measure mode", code=-969)
        if mode > 2:
            raise KxciError(-969, "burst-averaged modes 3 and 4 are not simulated; use 1 or 2.")
        self.measure_mode = mode

    def _MEASURE_PIV(self, a):
        self._initialised()
        need(a, 3, 3, ":PMU:MEASURE:PIV")
        c = self._ch(a[0])
        c.meas_hi = bool(integer(a[1], 0, 1, "high measure", code=-969))
        c.meas_lo = bool(integer(a[2], 0, 1, "low measure", code=-969))

    def _TIMES_PIV(self, a):
        self._initialised()
        need(a, 3, 3, ":PMU:TIMES:PIV")
        c = self._ch(a[0])
        lo, hi = number(a[1]), number(a[2])
        if not 0 <= lo < hi <= 1:
            raise KxciError(-969, f"spot mean window {lo:g}..{hi:g} must satisfy 0 <= start < stop <= 1.")
        c.piv = (lo, hi)

    def _PULSE_TRAIN(self, a):
        self._initialised(0)
        need(a, 3, 3, ":PMU:PULSE:TRAIN")
        c = self._ch(a[0])
        c.vbase, c.vampl = number(a[1]), number(a[2])

    def _PULSE_TIMES(self, a):
        self._initialised(0)
        need(a, 5, 6, ":PMU:PULSE:TIMES")
        c = self._ch(a[0])
        values = [number(x) for x in a[1:]]
        c.period, c.width, c.rise, c.fall = values[:4]
        c.delay = values[4] if len(values) > 4 else 0.0

    def _PULSE_BURST_COUNT(self, a):
        self._initialised(0)
        need(a, 1, 1, ":PMU:PULSE:BURST:COUNT")
        self.burst = integer(a[0], 1, 10000, "burst count", code=-969)

    def _SWEEP_PULSE_AMPLITUDE(self, a):
        self._initialised(0)
        need(a, 4, 6, ":PMU:SWEEP:PULSE:AMPLITUDE")
        c = self._ch(a[0])
        start, stop, step = (number(x) for x in a[1:4])
        vbase = number(a[4]) if len(a) > 4 else None
        dual = bool(integer(a[5], 0, 1, "dual", code=-969)) if len(a) > 5 else False
        self._steps(start, stop, step)
        c.sweep = (start, stop, step, vbase, dual)

    def _STEP_PULSE_AMPLITUDE(self, a):
        self._initialised(0)
        need(a, 4, 5, ":PMU:STEP:PULSE:AMPLITUDE")  # ch,start,stop,step[,base]
        c = self._ch(a[0])
        start, stop, step = (number(x) for x in a[1:4])
        self._steps(start, stop, step)
        c.step = (start, stop, step)
        if len(a) > 4:
            c.vbase = number(a[4])

    @staticmethod
    def _steps(start: float, stop: float, step: float) -> np.ndarray:
        if step == 0:
            if start != stop:
                raise KxciError(-969, "a zero amplitude step needs start = stop.")
            return np.array([start])
        span = (stop - start) / step
        if span < -1e-9:
            raise KxciError(-969, "the amplitude step points away from the stop value.")
        n = int(math.floor(span + 1e-9)) + 1
        if n > MAX_POINTS:
            raise KxciError(-963, f"{n} amplitudes exceed {MAX_POINTS} points.")
        return start + step * np.arange(n)

    def _SAMPLE_RATE(self, a):
        self._initialised()
        need(a, 1, 1, ":PMU:SAMPLE:RATE")
        r = number(a[0])
        if not 1e3 <= r <= 200e6:
            raise KxciError(-969, f"sample rate {r:g}/s is outside 1e3 to 200e6 per second.")
        self.rate = r

    def _RETAIN_CONFIG(self, a):
        need(a, 2, 2, ":PMU:RETAIN:CONFIG")
        self._ch(a[0]).retain = bool(integer(a[1], 0, 1, "retain", code=-969))

    def _seq_values(self, a, what: str, add: bool, cast=float):
        self._initialised(1)
        if len(a) < 3:
            raise KxciError(-969, f"{what} takes ch,seq,value1[,...].")
        c = self._ch(a[0])
        seq = integer(a[1], 1, 512, "sequence number", code=-969)
        if len(a) - 2 > SEG_MAX:
            raise KxciError(-969, f"{len(a) - 2} values exceed {SEG_MAX} per command (use ...:ADD).")
        values = [cast(number(x)) for x in a[2:]]
        s = c.seqs.setdefault(seq, Sequence())
        attr = {"STARTV": "startv", "STOPV": "stopv", "TIME": "time", "MEAS:TYPE": "meas_type",
                "MEAS:START": "meas_start", "MEAS:STOP": "meas_stop"}[what]
        setattr(s, attr, (getattr(s, attr) if add else []) + values)

    def sarb(self, sub: str, a: list[str]) -> None:
        """``:PMU:SARB:SEQ:<what>[:ADD]``."""
        add = sub.endswith(":ADD")
        what = sub[:-4] if add else sub
        if what not in ("STARTV", "STOPV", "TIME", "MEAS:TYPE", "MEAS:START", "MEAS:STOP"):
            raise KxciError(-992, f"unknown Segment Arb command :PMU:SARB:SEQ:{sub}.")
        cast = int if what == "MEAS:TYPE" else float
        self._seq_values(a, what, add, cast)

    def _SARB_WFM_SEQ_LIST(self, a):
        self._initialised(1)
        if len(a) < 3 or len(a) % 2 == 0:
            raise KxciError(-969, ":PMU:SARB:WFM:SEQ:LIST takes ch,seq1,loops1[,seq2,loops2...].")
        c = self._ch(a[0])
        pairs = []
        for s, n in zip(a[1::2], a[2::2]):
            pairs.append((integer(s, 1, 512, "sequence number", code=-969),
                          integer(n, 1, int(1e12), "loop count", code=-969)))
        c.seq_list = pairs

    def _DATA_COUNT_Q(self, a):
        need(a, 1, 1, ":PMU:DATA:COUNT?")
        ch = integer(a[0], 1, 2, "PMU channel", code=-969)
        return str(self.data[ch].count)

    def _DATA_GET(self, a):
        need(a, 1, 3, ":PMU:DATA:GET")
        ch = integer(a[0], 1, 2, "PMU channel", code=-969)
        store = self.data[ch]
        start = integer(a[1], 0, 10 ** 9, "start index", code=-969) if len(a) > 1 else 0
        n = integer(a[2], 1, 10 ** 9, "point count", code=-969) if len(a) > 2 else PAGE
        if start > store.count:
            raise KxciError(-969, f"start index {start} is past the {store.count} points taken.")
        rows = store.rows(start, min(n, PAGE))
        return ";".join(_format_row(r) for r in rows)

    # --- EXECUTE: compile the programs --------------------------------------------------
    def compile(self, device, now: float) -> PmuTest:
        """Check everything EXECUTE checks and build the test (not started yet)."""
        self._initialised()
        chans = [ch for ch, c in self.channels.items() if c.output_req]
        if not chans:
            raise KxciError(-967, "no PMU output is enabled (:PMU:OUTPUT:STATE ch,1).")
        runs = []
        loops = self._sweep_loops(chans) if self.mode == 0 else (1, 1)
        for ch in chans:
            c = self.channels[ch]
            if self.rpm and not c.rpm_pulse:
                raise KxciError(-969, f"RPM of PMU1-{ch} is not switched to the PMU "
                                      f"(:PMU:RPM:CONFIGURE PMU1-{ch},0).")
            if c.meas_type == 2 and c.meas_range < 0.01 and not self.rpm:
                raise KxciError(-969, "current ranges below 10 mA need an RPM.")
            self._check_llec(c)
            blocks = self._standard_blocks(c, *loops) if self.mode == 0 else self._sarb_blocks(c)
            points = sum(b.points_per_loop * b.loops for b in blocks)
            if points > MAX_POINTS:
                raise KxciError(-963, f"PMU1-{ch} would take {points} points; the maximum is {MAX_POINTS}.")
            store = PointStore(SPOT8 if (self.mode == 0 and self.measure_mode == 1) else ("V", "I", "T", "S"))
            runs.append(ChannelRun(ch, c, blocks, store, now, device, self.rpm))
        self.data = {1: PointStore(), 2: PointStore()}
        for r in runs:
            self.data[r.ch] = r.store
        return PmuTest(runs, now, device)

    def _check_llec(self, c: PmuChannel) -> None:
        """LLEC only in standard pulse mode on the PMU's own measure ranges (10 mA and up),
        not on the RPM's low ranges and not in Segment Arb."""
        if not c.llec:
            return
        if self.mode != 0:
            raise KxciError(-967, "load-line effect compensation works only in standard pulse mode.")
        if c.meas_type == 2 and c.meas_range < min(PMU_RANGES[c.source_range]):
            raise KxciError(-967, f"load-line effect compensation does not work on the RPM's "
                                  f"{c.meas_range:g} A range, only on the PMU's ranges.")

    def _check_times(self, c: PmuChannel) -> None:
        lim = TIMING[c.source_range]
        lo, hi = lim["period"]
        rng = f"on the {c.source_range:g} V range"
        if not lo <= c.period <= hi:
            raise KxciError(-967, f"period {c.period:g} s is outside {lo:g} to {hi:g} s {rng}.")
        elo, ehi = lim["edge"]
        for nm, x in (("rise", c.rise), ("fall", c.fall)):
            if not elo <= x <= ehi:
                raise KxciError(-967, f"{nm} time {x:g} s is outside {elo:g} to {ehi:g} s {rng}.")
        if c.width < lim["width"]:
            raise KxciError(-967, f"width {c.width:g} s is below {lim['width']:g} s {rng}.")
        if not c.width > 0.5 * (c.rise + c.fall):
            raise KxciError(-967, "width must exceed half of rise + fall.")
        if c.delay < 0 or (0 < c.delay < lim["delay"]):
            raise KxciError(-967, f"delay {c.delay:g} s must be 0 or at least {lim['delay']:g} s.")
        off = c.period - c.delay - c.width - 0.5 * (c.rise + c.fall)
        if not off > MIN_OFF:
            raise KxciError(-967, f"off time {off:g} s (period - delay - width - (rise+fall)/2) "
                                  f"must exceed {MIN_OFF:g} s.")

    def _check_level(self, c: PmuChannel, v: float) -> None:
        oc = abs(v) if c.llec else abs(v) * (R_SOURCE + c.load) / c.load
        if oc > c.source_range * (1 + 1e-9):
            raise KxciError(-967, f"{v:g} V into a {c.load:g} ohm load needs {oc:g} V, "
                                  f"beyond the {c.source_range:g} V range.")

    def _sweep_amplitudes(self, c: PmuChannel) -> np.ndarray | None:
        if c.sweep is None:
            return None
        start, stop, step, _, dual = c.sweep
        amps = self._steps(start, stop, step)
        return np.concatenate([amps, amps[::-1]]) if dual else amps

    def _sweep_loops(self, chans: list[int]) -> tuple[int, int]:
        """(inner, outer): amplitudes of the swept channel, values of the stepped one."""
        swept = [ch for ch in chans if self.channels[ch].sweep is not None]
        stepped = [ch for ch in chans if self.channels[ch].step is not None]
        if len(swept) > 1 or len(stepped) > 1 or (swept and swept == stepped):
            raise KxciError(-967, "sweep one channel and step (at most) one other channel.")
        inner = len(self._sweep_amplitudes(self.channels[swept[0]])) if swept else 1
        outer = len(self._steps(*self.channels[stepped[0]].step)) if stepped else 1
        if inner * outer * self.burst > MAX_POINTS:
            raise KxciError(-963, f"{inner * outer * self.burst} pulses exceed {MAX_POINTS} points.")
        return inner, outer

    def _standard_blocks(self, c: PmuChannel, inner: int, outer: int) -> list[Block]:
        """One block (BURST:COUNT pulses) per amplitude: the sweep is the inner loop, the
        step the outer one; a channel neither swept nor stepped repeats its amplitude."""
        self._check_times(c)
        base = c.vbase
        if c.sweep is not None:
            tops = np.tile(self._sweep_amplitudes(c), outer)
            base = c.vbase if c.sweep[3] is None else c.sweep[3]
        elif c.step is not None:
            tops = np.repeat(self._steps(*c.step), inner)
        else:
            tops = np.full(inner * outer, c.vampl)
        for v in (base, *(base + tops)):
            self._check_level(c, float(v))
        mode = self.measure_mode
        kind = 2 if mode == 2 else 1
        flat = c.width - 0.5 * (c.rise + c.fall)
        k_rise = c.delay + c.rise
        t_knots = [0.0, c.delay, k_rise, k_rise + flat, k_rise + flat + c.fall, c.period]
        off0 = k_rise + flat + c.fall
        off = c.period - off0
        p0, p1 = c.piv
        windows = []
        if mode == 1:
            if c.meas_hi:
                windows.append((k_rise + p0 * flat, k_rise + p1 * flat, 1))
            if c.meas_lo:
                windows.append((off0 + p0 * off, off0 + p1 * off, 2))
        rate = self.rate
        if mode == 2:
            total_periods = len(tops) * self.burst
            rate = min(rate, MAX_POINTS / (total_periods * c.period))
            n_samp = int(math.floor(c.period * rate + 1e-9))
            if n_samp < 1 or rate < 1e3:
                raise KxciError(-963, f"{total_periods} periods of {c.period:g} s leave under one "
                                      f"sample each within {MAX_POINTS} points.")
            edges = np.linspace(0.0, c.period, n_samp + 1)
        blocks = []
        for top in tops:
            v_knots = [base, base, base + top, base + top, base, base]
            if mode == 2:
                mids = (edges[:-1] + edges[1:]) / 2
                dwell = np.diff(edges)
                level = np.interp(mids, t_knots, v_knots)
                meas = np.full(n_samp, 3, np.int8)
            else:
                dwell, level, meas = pwl_steps(t_knots, v_knots, windows)
            if c.llec:  # LLEC finds the load line with extra, unmeasured pulses at each step
                blocks.append(Block(dwell, level, np.zeros_like(meas), LLEC_PULSES, kind))
            blocks.append(Block(dwell, level, meas, self.burst, kind))
        return blocks

    def _sarb_blocks(self, c: PmuChannel) -> list[Block]:
        if c.meas_type != 2:
            raise KxciError(-967, "Segment Arb needs a fixed current range (:PMU:MEASURE:RANGE ch,2,I).")
        if not c.seq_list:
            raise KxciError(-967, "no sequence list (:PMU:SARB:WFM:SEQ:LIST).")
        built: dict[int, Block] = {}
        prev_stop = None
        blocks = []
        seg_min = TIMING[c.source_range]["seg"]
        for seq_no, loops in c.seq_list:
            s = c.seqs.get(seq_no)
            if s is None:
                raise KxciError(-967, f"sequence {seq_no} is not defined.")
            n = len(s.startv)
            if n < 3:
                raise KxciError(-967, f"sequence {seq_no} has {n} segments; at least 3 are needed.")
            if n > SEG_PER_SEQUENCE:
                raise KxciError(-969, f"sequence {seq_no} has {n} segments; at most {SEG_PER_SEQUENCE}.")
            lengths = {len(s.stopv), len(s.time)}
            for extra in (s.meas_type, s.meas_start, s.meas_stop):
                if extra:
                    lengths.add(len(extra))
            if lengths != {n}:
                raise KxciError(-969, f"sequence {seq_no}: STARTV, STOPV, TIME and MEAS lists differ in length.")
            for k in range(n):
                p = prev_stop if k == 0 else s.stopv[k - 1]
                if p is not None and not _close(s.startv[k], p):
                    raise KxciError(-956, f"sequence {seq_no} segment {k + 1} starts at {s.startv[k]:g} V "
                                          f"but the previous segment stops at {p:g} V.")
            if loops > 1 and not _close(s.startv[0], s.stopv[-1]):
                raise KxciError(-956, f"sequence {seq_no} is looped but starts at {s.startv[0]:g} V "
                                      f"and stops at {s.stopv[-1]:g} V.")
            prev_stop = s.stopv[-1]
            if seq_no not in built:
                built[seq_no] = self._sequence_block(c, seq_no, s, seg_min)
            b = built[seq_no]
            blocks.append(Block(b.dwell, b.level, b.meas, loops, b.kind))
        return blocks

    def _sequence_block(self, c: PmuChannel, seq_no: int, s: Sequence, seg_min: float) -> Block:
        n = len(s.startv)
        mtype = s.meas_type or [0] * n
        mstart = s.meas_start or [0.0] * n
        mstop = s.meas_stop or [0.0] * n
        t_knots, v_knots, windows = [0.0], [s.startv[0]], []
        t = 0.0
        kind = 1
        for k in range(n):
            dur = round(s.time[k] / 10e-9) * 10e-9  # 10 ns resolution
            if not seg_min <= dur <= 1.0:
                raise KxciError(-967, f"sequence {seq_no} segment {k + 1}: time {s.time[k]:g} s is outside "
                                      f"{seg_min:g} to 1 s.")
            self._check_level(c, s.startv[k])
            self._check_level(c, s.stopv[k])
            if mtype[k] not in (0, 1, 2):
                raise KxciError(-969, f"measurement type {mtype[k]} must be 0, 1 or 2.")
            if mtype[k]:
                a, b = mstart[k], mstop[k]
                if not 0 <= a < b <= dur * (1 + 1e-9):
                    raise KxciError(-967, f"sequence {seq_no} segment {k + 1}: measure window {a:g}..{b:g} s "
                                          f"must lie inside the {dur:g} s segment.")
                if mtype[k] == 1:
                    windows.append((t + a, t + b, 3))
                else:
                    kind = 2
                    n_samp = max(1, int(math.floor((b - a) * self.rate + 1e-9)))
                    if n_samp > MAX_POINTS:
                        raise KxciError(-963, f"a {b - a:g} s waveform at {self.rate:g}/s exceeds {MAX_POINTS} points.")
                    edges = t + a + (b - a) * np.arange(n_samp + 1) / n_samp
                    windows.extend((e0, e1, 3) for e0, e1 in zip(edges[:-1], edges[1:]))
            if t_knots[-1] != t:
                t_knots.append(t)
                v_knots.append(s.startv[k])
            elif v_knots[-1] != s.startv[k]:
                v_knots[-1] = s.startv[k]
            t += dur
            t_knots.append(t)
            v_knots.append(s.stopv[k])
        dwell, level, meas = pwl_steps(t_knots, v_knots, windows)
        return Block(dwell, level, meas, 1, kind)


def _format_row(row: np.ndarray) -> str:
    parts = []
    for k, x in enumerate(row):
        if (k + 1) % 4 == 0:  # every 4th value is a status word
            parts.append(f"{int(x) & 0xFFFFFFFF:08X}")
        else:
            parts.append(f"{x:.6g}")
    return ",".join(parts)
