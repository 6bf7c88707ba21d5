"""What the SMU reads from the simulated memristor, on top of the kinetics' noiseless
operating point: pulse-to-pulse rearrangement of the contact (a new δG/G drawn at each
pulse top, held while the pulse lasts), filament fluctuations (1/f and RTN, none before
forming), read noise per measure range, and the limit. A mixin of
:class:`~labqc.instruments.sim.memristor.Memristor`, which holds the state it reads
(``p``, ``n``, the noise sources, ``_last_level``, ``_pulse_rel``, ``_in_pulse``).
"""
from __future__ import annotations

import math

import numpy as np

from labqc.instruments.sim.device import Drive, Measured
from labqc.instruments.sim.noise import autorange, autorange1, averaging_factor, read_noise


class Readings:
    """Pulse offsets and noise of the readings (mixed into Memristor)."""

    def _pulse_step(self, source: str, level: float) -> float:
        """:meth:`_pulse_offsets` for one step."""
        if source != "V":
            return 0.0
        p, high = self.p, abs(level) >= self.p.pulse_v
        if high and abs(level - self._last_level) >= p.pulse_jump:
            self._pulse_rel = p.pulse_spread * self._read_draws.normal()
        elif not high:
            self._pulse_rel = 0.0
        self._last_level = level
        return self._pulse_rel if high else 0.0

    def _pulse_tops(self, drive: Drive) -> np.ndarray:
        """Which steps are the top of a pulse: |V| >= pulse_v, reached by a jump of at
        least pulse_jump (from the step before, or the last level of the previous drive)
        and held since. A ramp climbs in small steps and never makes one."""
        lv = drive.levels
        if drive.source != "V" or lv.size == 0:
            return np.zeros(lv.size, dtype=bool)
        high, onset, run, starts = self._pulse_edges(lv)
        kinds = np.concatenate([[self._in_pulse], onset[starts]])
        return kinds[run] & high

    def _pulse_edges(self, lv: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Of source levels ``lv`` (V) following the last level applied: which are high
        (|V| >= pulse_v), which jump up to a pulse top (by >= pulse_jump), the run of equal
        state each step belongs to, and where each run after the first starts."""
        p = self.p
        prev = np.concatenate([[self._last_level], lv[:-1]])
        high = np.abs(lv) >= p.pulse_v
        onset = high & (np.abs(lv - prev) >= p.pulse_jump)
        change = onset | (~high & (np.abs(prev) >= p.pulse_v))  # a pulse starts or falls
        return high, onset, np.cumsum(change), np.flatnonzero(change)

    def _pulse_offsets(self, drive: Drive) -> np.ndarray:
        """δG/G of each step from pulse-to-pulse rearrangement of the contact: a step that
        jumps to a pulse top (|V| >= pulse_v, by >= pulse_jump) draws a new arrangement,
        held while the pulse lasts; at low bias the contact relaxes back (0). A sweep
        climbs in small steps and never draws one."""
        p, lv = self.p, drive.levels
        if drive.source != "V" or not p.pulse_spread or lv.size == 0:
            if drive.source == "V" and lv.size:
                self._last_level, self._pulse_rel = float(lv[-1]), 0.0
            return np.zeros(lv.size)
        high, onset, run, starts = self._pulse_edges(lv)
        values = np.zeros(int(run[-1]) + 1)
        values[0] = self._pulse_rel
        draws = p.pulse_spread * self._read_rng.standard_normal(starts.size)
        values[1:] = np.where(onset[starts], draws, 0.0)
        rel = values[run] * high
        self._last_level, self._pulse_rel = float(lv[-1]), float(rel[-1])
        return rel

    def _end_drive(self, drive: Drive, tops: np.ndarray) -> None:
        """Remember where the drive left the source, for the next drive's pulse onsets."""
        if drive.source == "V" and drive.levels.size:
            self._in_pulse = bool(tops[-1])
            if not self.p.pulse_spread:
                self._last_level = float(drive.levels[-1])

    def _noisy_reading(self, drive: Drive, dt: float, v: float, i: float, comp: bool,
                       pulse: float = 0.0) -> tuple[float, float]:
        """:meth:`_add_noise` for one reading of a formed device."""
        p = self.p
        rel = self._flicker.step(dt, drive.t_int) + pulse
        if self._rtn_on:
            rel += self._rtn.step(dt) * self._rtn_scale_list[self.n]
        rel = min(max(rel, -0.5), 0.5)
        lim = drive.compliance
        factor = averaging_factor(drive.t_int) * self._read_draws.normal()
        if drive.source == "V":
            if comp:
                v = v / (1 + rel)
            else:
                i = i * (1 + rel)
            i_range = drive.i_range if drive.i_range else autorange1(i, 1e-9)
            i += (p.read_a * i_range / 100e-6 + p.read_b * abs(i)) * factor
            i = min(max(i, -lim), lim)
        else:
            if comp:
                i = i * (1 + rel)
            else:
                v = v / (1 + rel)
            v += (p.read_va * autorange1(v, 0.1) + p.read_vb * abs(v)) * factor
            v = min(max(v, -lim), lim)
        if not (math.isfinite(v) and math.isfinite(i)):  # never reaches an instrument
            v, i = (v if math.isfinite(v) else 0.0), (i if math.isfinite(i) else 0.0)
        return v, i

    def _add_noise(self, drive: Drive, dwell, v, i, comp, nch) -> Measured:
        """The readings as the SMU reports them: filament fluctuations (1/f and RTN)
        move the current of a voltage source or the voltage of a current source,
        unless the limit holds that quantity; then read noise, then the limit."""
        p = self.p
        t_int = drive.t_int
        # 1/f and RTN are fluctuations of the filament (none before forming). RTN is a
        # fraction of G0, ∝ 1/√N, so relatively largest (∝ N^-1.5) on thin filaments.
        rel = self._flicker.sample(dwell, t_int) * (nch >= 0)
        rel = rel + self._pulse_offsets(drive) * (nch >= 0)
        if self._rtn.amp.size:
            rel += self._rtn.sample(dwell) * self._rtn_scale[np.maximum(nch, 0).astype(np.intp)]
        rel = np.minimum(np.maximum(rel, -0.5), 0.5)  # fluctuations never flip the sign of G
        free = ~comp
        lim = drive.compliance
        if drive.source == "V":
            i = i * (1 + rel * free)
            v = v / (1 + rel * comp)
            rng_ratio = (drive.i_range if drive.i_range else autorange(i, 1e-9)) / 100e-6
            i = i + read_noise(i, p.read_a, p.read_b, self._read_rng, t_int, rng_ratio)
            i = np.minimum(np.maximum(i, -lim), lim)
        else:
            v = v / (1 + rel * free)
            i = i * (1 + rel * comp)
            v = v + read_noise(v, p.read_va, p.read_vb, self._read_rng, t_int, autorange(v, 0.1))
            v = np.minimum(np.maximum(v, -lim), lim)
        if not (np.isfinite(v).all() and np.isfinite(i).all()):  # never reaches an instrument
            v = np.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0)
            i = np.nan_to_num(i, nan=0.0, posinf=0.0, neginf=0.0)
        return Measured(v=v, i=i, compliance=comp.copy())
