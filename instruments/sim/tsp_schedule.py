"""A planned run of source steps and readings on one SMU channel, evaluated lazily.

Everything the simulated 2614B measures in a burst (a trigger-model sweep, an overlapped
measurement, a spot measurement with ``measure.count``) becomes a :class:`Schedule`: per
step, when the source level is applied, when the reading integrates, when the step
ends, and which level is held in the gap to the next step. The schedule is laid out at
once in numpy (times are known in advance: the instrument's timeline is deterministic),
then the device is driven through it in vectorised blocks up to whatever time the
instrument has reached: one ``device.apply`` call per block of steps, not per step.
"""
from __future__ import annotations

import math

import numpy as np

from labqc.instruments.sim.device import Drive
from labqc.instruments.sim.tsp_buffers import OVERFLOW, STATUS_COMPLIANCE, ReadingBuffer

EPS = 1e-12  # seconds: segment ends within this of the target time count as reached


def readings(source: str, i, v, comp, fixed_range: float | None) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """What the SMU records from the device's answers: i, v, r, p and the status word.
    Beyond a fixed measure range the measured quantity overflows (9.91e37)."""
    i = np.asarray(i, dtype=float)
    v = np.asarray(v, dtype=float)
    if fixed_range is not None:
        if source == "V":
            i = np.where(np.abs(i) > 1.01 * fixed_range, OVERFLOW, i)
        else:
            v = np.where(np.abs(v) > 1.01 * fixed_range, OVERFLOW, v)
    status = np.where(comp, STATUS_COMPLIANCE, 0).astype(float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r = np.where(i != 0, v / np.where(i == 0, 1, i), OVERFLOW)
        p = v * i
    return {"i": i, "v": v, "r": r, "p": p}, status


class Schedule:
    """Steps of one burst. Arrays are per step (length ``n``); times are absolute seconds.

    ts: the step's source level is applied; level: that level; t_meas: integration starts
    (the reading's timestamp); t_done: the reading exists (integration end);
    te: the step ends (end of pulse); gap: level held from ``te`` to the next ``ts``
    (the last one is held after the run ends). ``measured`` says which steps read.
    """

    def __init__(self, *, source: str, t0: float, lead_level: float, ts, level, t_meas, t_done, te,
                 gap, measured, t_int: float, compliance: float, i_range: float | None,
                 fixed_range: float | None, targets, stuck: bool = False) -> None:
        self.source = source
        self.t_int = float(t_int)
        self.compliance = float(compliance)
        self.i_range = i_range
        self.fixed_range = fixed_range  # measure range in force for overflow (None: autorange)
        self.ts = np.asarray(ts, dtype=float)
        self.level = np.asarray(level, dtype=float)
        self.t_meas = np.asarray(t_meas, dtype=float)
        self.t_done = np.asarray(t_done, dtype=float)
        self.te = np.asarray(te, dtype=float)
        self.gap = np.asarray(gap, dtype=float)
        self.measured = np.asarray(measured, dtype=bool)
        self.stuck = stuck  # the trigger model waits for an event that never comes
        n = len(self.ts)
        self.n = n
        self.end = (float(self.te[-1]) if n else t0) if not stuck else math.inf
        self.final_level = float(self.gap[-1]) if n else lead_level
        #: (kind, buffer, first 0-based index): where readings go; kind in i v r p
        self.t0 = float(t0)
        self.targets: list[tuple[str, ReadingBuffer, int]] = list(targets)
        self._reading_step = np.flatnonzero(self.measured)  # step of each reading
        self.readings = len(self._reading_step)
        self._build_segments(t0, lead_level)
        self.next_segment = 0
        self.last_i = 0.0
        self.last_v = 0.0
        self.last_compliance = False

    # --- layout ------------------------------------------------------------------------
    def _build_segments(self, t0: float, lead_level: float) -> None:
        n = self.n
        if n == 0:
            self.seg_level = np.zeros(0)
            self.seg_start = np.zeros(0)
            self.seg_end = np.zeros(0)
            self.seg_step = np.zeros(0, dtype=int)
            return
        a_end = np.where(self.measured, self.t_done, self.ts)
        nxt = np.append(self.ts[1:], self.te[-1])
        starts = np.stack([self.ts, a_end, self.te], axis=1)
        ends = np.stack([a_end, self.te, nxt], axis=1)
        levels = np.stack([self.level, self.level, self.gap], axis=1)
        step = np.stack([np.arange(n), np.full(n, -1), np.full(n, -1)], axis=1)
        step[:, 0] = np.where(self.measured, np.arange(n), -1)
        starts = np.concatenate([[t0], starts.ravel()])
        ends = np.concatenate([[self.ts[0]], ends.ravel()])
        levels = np.concatenate([[lead_level], levels.ravel()])
        step = np.concatenate([[-1], step.ravel()])
        keep = (ends - starts > EPS) | (step >= 0)
        self.seg_start, self.seg_end = starts[keep], ends[keep]
        self.seg_level, self.seg_step = levels[keep], step[keep]

    # --- queries -----------------------------------------------------------------------
    def done_time(self, reading: int) -> float:
        """When 0-based reading ``reading`` of this schedule exists (inf if never)."""
        if reading >= self.readings:
            return math.inf
        return float(self.t_done[self._reading_step[reading]])

    def level_at(self, t: float) -> float:
        """The level the source applies at time ``t``."""
        if self.n == 0 or t >= self.end or t >= self.seg_end[-1]:
            return self.final_level
        k = int(np.searchsorted(self.seg_start, t, side="right")) - 1
        return float(self.seg_level[max(k, 0)])

    @property
    def finished_evaluating(self) -> bool:
        return self.next_segment >= len(self.seg_start)

    # --- evaluation --------------------------------------------------------------------
    def evaluate_until(self, t: float, device) -> float:
        """Drive the device through every segment that ends by ``t``; returns the device
        time reached (a segment boundary)."""
        p = self.next_segment
        q = int(np.searchsorted(self.seg_end, t + EPS, side="right"))
        if q <= p:  # nothing new ends by t: the device stays at the last boundary
            return float(self.seg_end[p - 1]) if p else self.t0
        dwell = self.seg_end[p:q] - self.seg_start[p:q]
        m = device.apply(Drive(self.source, self.seg_level[p:q], np.maximum(dwell, 0.0),
                               self.t_int, self.compliance, self.i_range))
        steps = self.seg_step[p:q]
        hit = steps >= 0
        if np.any(hit):
            self._store(steps[hit], np.asarray(m.i)[hit], np.asarray(m.v)[hit],
                        np.asarray(m.compliance)[hit])
        self.next_segment = q
        return float(self.seg_end[q - 1])

    def _store(self, steps: np.ndarray, i: np.ndarray, v: np.ndarray, comp: np.ndarray) -> None:
        values, status = readings(self.source, i, v, comp, self.fixed_range)
        first = int(np.searchsorted(self._reading_step, steps[0]))
        for kind, buf, start in self.targets:
            buf.store(start + first, values[kind], self.level[steps], self.t_meas[steps], status)
        self.last_i, self.last_v = float(values["i"][-1]), float(values["v"][-1])
        self.last_compliance = bool(comp[-1])

    def cut(self, t: float) -> None:
        """Abort at ``t``: nothing after it happens; buffers give back unmeasured indices."""
        done = int(np.searchsorted(self.t_done[self.measured], t + EPS, side="right"))
        k = int(np.searchsorted(self.seg_start, t, side="right"))
        self.final_level = self.level_at(t)
        self.seg_start, self.seg_end = self.seg_start[:k].copy(), self.seg_end[:k].copy()
        self.seg_level, self.seg_step = self.seg_level[:k], self.seg_step[:k].copy()
        if k:
            self.seg_end[-1] = min(self.seg_end[-1], t)
            step = self.seg_step[-1]
            if step >= 0 and self.seg_end[-1] < self.t_done[step] - EPS:
                self.seg_step[-1] = -1  # the reading in progress is lost
        self.end = t
        self.stuck = False
        self.readings = min(self.readings, done)
        for kind, buf, start in self.targets:
            buf.truncate(start + done)
