"""The simulated 4225-PMU at run time: the programs EXECUTE starts, played on the device.

A channel's program is a list of :class:`Block` (one period's steps, repeated); a
:class:`ChannelRun` evaluates it lazily on the device timeline (kxci_timeline.py), and
:class:`PmuTest` runs both channels together. kxci_pmu_build.py compiles the settings
into blocks; kxci_pmu.py holds the settings and the ``:PMU:`` commands.

Physics of the output (the load line, docs/keithley4200a.md): the PMU sources through 50 ohm and
pre-scales its open-circuit voltage for the load it is told (``:PMU:LOAD``, default 1 Mohm),
so the device sees ``V_set * (50 + R_load)/R_load * R_dut/(50 + R_dut)``. With LLEC the
device gets ``V_set`` whenever the needed open-circuit voltage fits the source range
(status bit 29 = LLEC success). ``R_dut`` is the device's low-bias resistance, refreshed
every block of pulses. The measure range is not a limit: a current beyond a fixed range's
full scale reads at the full scale with status bit 10 set; bits 12-15 stay 0.

Data points: spot mean ``VH,IH,TH,SH,VL,IL,TL,SL``, waveform and Segment Arb ``V,I,T,S``,
numbers ``%.6g``, the status word as 8 hex digits, T the centre of the window (or sample)
in seconds from EXECUTE. Status word bits: 0-1 channel, 2-3 V range (0 = 10 V, 1 = 40 V),
4-7 I range (0 = 100 nA ... 7 = 800 mA), 8-9 V overflow, 10-11 I overflow, 12-15 source
compliance/thresholds (never set), 16-19 measurement type (1 spot mean, 2 waveform),
24-27 = 1 through the RPM, 28 LLEC enabled, 29 LLEC success (docs/keithley4200a.md).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from labqc.instruments.sim.kxci_timeline import Activity, apply_steps

R_SOURCE = 50.0  # ohm, PMU output impedance
MAX_POINTS = 65536  # per channel
RANGE_CODES = {1e-7: 0, 1e-6: 1, 1e-5: 2, 1e-4: 3, 1e-3: 4, 1e-2: 5, 0.2: 6, 0.8: 7}
PMU_RANGES = {10.0: (0.2, 0.01), 40.0: (0.8, 0.01)}
RPM_RANGES = {10.0: (1e-3, 1e-4, 1e-5, 1e-6, 1e-7), 40.0: (1e-4,)}
RAMP_PIECES = 4  # unmeasured ramps reach the device as this many steps
BLOCK_ITERATIONS = 256  # pulses per device.apply (the load line is refreshed per block)
BLOCK_STEPS = 65536
SPOT8 = ("VH", "IH", "TH", "SH", "VL", "IL", "TL", "SL")


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

    def __init__(self, ch: int, cfg, blocks: list[Block], store: PointStore,
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



def format_row(row: np.ndarray) -> str:
    parts = []
    for k, x in enumerate(row):
        if (k + 1) % 4 == 0:  # every 4th value is a status word
            parts.append(f"{int(x) & 0xFFFFFFFF:08X}")
        else:
            parts.append(f"{x:.6g}")
    return ",".join(parts)
