"""Small drives (an emulator's spot reading, ~10^4 per second of wall time) on the simulated
memristor: the same kinetics and noise as Memristor's vectorised path, one step at a time
on Python floats, without numpy per step. A mixin of
:class:`~labqc.instruments.sim.memristor.Memristor`, whose state and kinetics it uses.
"""
from __future__ import annotations

import math

import numpy as np

from labqc.instruments.sim.device import Drive, Measured
from labqc.instruments.sim.memristor_iv import interp1

#: Events in one step after which the step ends in the state reached (a hot filament far
#: above threshold, where growth and dissolution balance within a step).
EVENTS_PER_STEP = 64


def held(levels: np.ndarray, dwell: np.ndarray, j: int, reach: int = 64) -> float:
    """How long the level of step ``j`` is held: the dwell of the run of equal levels
    around it (a pulse the instrument splits into a hold and a measure step is one pulse)."""
    a = b = j
    while a > 0 and j - a < reach and levels[a - 1] == levels[j]:
        a -= 1
    while b + 1 < levels.size and b - j < reach and levels[b + 1] == levels[j]:
        b += 1
    return float(np.sum(dwell[a:b + 1]))


class SmallDrives:
    """:meth:`_apply_small` and its one step of kinetics (mixed into Memristor)."""

    def _apply_small(self, drive: Drive) -> Measured:
        """:meth:`apply` for a few steps (an emulator's spot reading). Same physics and
        noise as the vectorised path, one step at a time, without numpy per step."""
        levels, dwell = drive.levels.tolist(), drive.dwell.tolist()
        n = len(levels)
        out_v, out_i, out_comp = [0.0] * n, [0.0] * n, [False] * n
        tops = self._pulse_tops(drive)
        for j in range(n):
            if self.p.k_volatile > 0:
                self._step_dwell = held(drive.levels, drive.dwell, j)
            self._top_now = bool(tops[j])
            v, i, comp = self._step(drive.source, levels[j], dwell[j], drive.compliance)
            pulse = self._pulse_step(drive.source, levels[j]) if self.p.pulse_spread else 0.0
            out_v[j], out_i[j] = self._noisy_reading(drive, dwell[j], v, i, comp, pulse)
            out_comp[j] = comp
        self.t += math.fsum(dwell)
        self._end_drive(drive, tops)
        return Measured(v=np.array(out_v), i=np.array(out_i), compliance=np.array(out_comp))

    def _step(self, source: str, level: float, dwell: float, compliance: float):
        """One step of the kinetics: noiseless terminal voltage, current and limit flag
        at its end. An event part-way through runs the rest of the step in the new state."""
        frac, events = 1.0, 0
        while True:
            v_l, i_l, total_l, drive_l = self._tb.lists
            if source == "V":
                i = interp1(level, v_l, i_l)
                comp = abs(i) > compliance
                v = level
                if comp:  # the limit takes over: the SMU now sources ±I_cc
                    i = compliance if level > 0 else -compliance
                    v = interp1(i, i_l, v_l)
            else:
                v = interp1(level, i_l, v_l)
                i = level
                comp = abs(v) > compliance
                if comp:  # the limit takes over: the SMU now sources ±V_cc
                    v = compliance if level > 0 else -compliance
                    i = interp1(v, v_l, i_l)
            total = interp1(i, i_l, total_l)
            scale = self._rupture_scale() if i < 0 and self._top_now else 1.0
            total = total * scale + self._volatile_rate()
            if abs(i) >= self.p.i_anneal:
                self._anneal(dwell * frac)
            hazard = total * dwell * frac
            if hazard <= 0.0 or hazard < self._hazard_left:
                self._hazard_left -= hazard
                return v, i, comp
            frac *= 1.0 - min(max(self._hazard_left / hazard, 0.0), 1.0)
            self._event(i, total, interp1(i, i_l, drive_l) * scale)
            events += 1
            if events >= EVENTS_PER_STEP:
                frac = 0.0
