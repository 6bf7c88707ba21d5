"""EXECUTE of the simulated 4225-PMU: the settings checked and compiled into programs.

A mixin of :class:`~labqc.instruments.sim.kxci_pmu.Pmu`. Standard pulse: the top of a
pulse is ``vbase + vampl``; a period holds delay (at base), rise, the flat top
(``width - (rise+fall)/2``, the width being full width at half maximum), fall, then base.
The spot mean "high" window is ``:PMU:TIMES:PIV`` start..stop (fractions, default
0.75..0.9) of the flat top, the "low" window the same fractions of the base time after
the fall. Amplitude sweeps fire BURST:COUNT pulses per amplitude; a step is the outer
loop over the sweep. Waveform mode (MEASURE:MODE 2) samples whole periods, the rate
lowered so a channel stays within 65,536 points. Segment Arb: 3 to 2048 segments per
sequence, each starting where the one before stopped, measured per segment (MEAS:TYPE 1,
a mean over MEAS:START..STOP) or per sample (MEAS:TYPE 2). LLEC works only in standard
pulse mode on the PMU's own ranges and fires LLEC_PULSES unmeasured pulses before each
amplitude's burst.
"""
from __future__ import annotations

import math

import numpy as np

from labqc.instruments.sim.kxci_pmu_run import (MAX_POINTS, PMU_RANGES, R_SOURCE, SPOT8, Block, ChannelRun,
                                                PmuTest, PointStore, pwl_steps)
from labqc.instruments.sim.kxci_syntax import KxciError, linear_levels

SEG_PER_SEQUENCE = 2048  # segments in one Segment Arb sequence
TIMING = {  # source range -> limits of :PMU:PULSE:TIMES (s)
    10.0: dict(period=(60e-9, 1.0), width=40e-9, edge=(20e-9, 33e-3), delay=20e-9, seg=20e-9),
    40.0: dict(period=(500e-9, 1.0), width=250e-9, edge=(50e-9, 33e-3), delay=50e-9, seg=50e-9),
}
MIN_OFF = 40e-9
#: Unmeasured pulses LLEC fires before each amplitude's burst (how many the instrument
#: fires is not documented; that it fires some, and so moves a memristor, is).
LLEC_PULSES = 3


def close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))




class PmuPrograms:
    """compile(): what EXECUTE checks and starts, from the settings of the PMU."""

    def compile(self, device, now: float) -> PmuTest:
        """Check everything EXECUTE checks and build the test (not started yet)."""
        self.initialised()
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

    def _check_llec(self, c) -> None:
        """LLEC only in standard pulse mode on the PMU's own measure ranges (10 mA and up),
        not on the RPM's low ranges and not in Segment Arb."""
        if not c.llec:
            return
        if self.mode != 0:
            raise KxciError(-967, "load-line effect compensation works only in standard pulse mode.")
        if c.meas_type == 2 and c.meas_range < min(PMU_RANGES[c.source_range]):
            raise KxciError(-967, f"load-line effect compensation does not work on the RPM's "
                                  f"{c.meas_range:g} A range, only on the PMU's ranges.")

    def _check_times(self, c) -> None:
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

    def _check_level(self, c, v: float) -> None:
        oc = abs(v) if c.llec else abs(v) * (R_SOURCE + c.load) / c.load
        if oc > c.source_range * (1 + 1e-9):
            raise KxciError(-967, f"{v:g} V into a {c.load:g} ohm load needs {oc:g} V, "
                                  f"beyond the {c.source_range:g} V range.")

    def _sweep_amplitudes(self, c) -> np.ndarray | None:
        if c.sweep is None:
            return None
        start, stop, step, _, dual = c.sweep
        amps = self.steps(start, stop, step)
        return np.concatenate([amps, amps[::-1]]) if dual else amps

    def _sweep_loops(self, chans: list[int]) -> tuple[int, int]:
        """(inner, outer): amplitudes of the swept channel, values of the stepped one."""
        swept = [ch for ch in chans if self.channels[ch].sweep is not None]
        stepped = [ch for ch in chans if self.channels[ch].step is not None]
        if len(swept) > 1 or len(stepped) > 1 or (swept and swept == stepped):
            raise KxciError(-967, "sweep one channel and step (at most) one other channel.")
        inner = len(self._sweep_amplitudes(self.channels[swept[0]])) if swept else 1
        outer = len(self.steps(*self.channels[stepped[0]].step)) if stepped else 1
        if inner * outer * self.burst > MAX_POINTS:
            raise KxciError(-963, f"{inner * outer * self.burst} pulses exceed {MAX_POINTS} points.")
        return inner, outer

    def _standard_blocks(self, c, inner: int, outer: int) -> list[Block]:
        """One block (BURST:COUNT pulses) per amplitude: the sweep is the inner loop, the
        step the outer one; a channel neither swept nor stepped repeats its amplitude."""
        self._check_times(c)
        base = c.vbase
        if c.sweep is not None:
            tops = np.tile(self._sweep_amplitudes(c), outer)
            base = c.vbase if c.sweep[3] is None else c.sweep[3]
        elif c.step is not None:
            tops = np.repeat(self.steps(*c.step), inner)
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

    def _sarb_blocks(self, c) -> list[Block]:
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
                if p is not None and not close(s.startv[k], p):
                    raise KxciError(-956, f"sequence {seq_no} segment {k + 1} starts at {s.startv[k]:g} V "
                                          f"but the previous segment stops at {p:g} V.")
            if loops > 1 and not close(s.startv[0], s.stopv[-1]):
                raise KxciError(-956, f"sequence {seq_no} is looped but starts at {s.startv[0]:g} V "
                                      f"and stops at {s.stopv[-1]:g} V.")
            prev_stop = s.stopv[-1]
            if seq_no not in built:
                built[seq_no] = self._sequence_block(c, seq_no, s, seg_min)
            b = built[seq_no]
            blocks.append(Block(b.dwell, b.level, b.meas, loops, b.kind))
        return blocks

    def _sequence_block(self, c, seq_no: int, s, seg_min: float) -> Block:
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


    @staticmethod
    def steps(start: float, stop: float, step: float) -> np.ndarray:
        return linear_levels(start, stop, step, MAX_POINTS, -969, -963, "amplitude step", "amplitudes")
