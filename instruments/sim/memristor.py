"""A filamentary memristor with quantised conductance.

State: N fully open channels (atoms in the narrowest cross-section of the filament)
plus one partial channel whose progress x ∈ [0, 1) advances in steps of ``dx``.

Conductance: each channel follows the Miranda–Suñé quantum-point-contact I–V,
so open channels carry G0, the partial channel carries ~0 (x = 0) or G0/2 (x = ½) at a
low read bias, and G0/2 once the bias straddles its barrier: plateaus near n·G0 and,
under bias, (n+½)·G0. With N = 0 a tunnelling gap g_gap remains (HRS). A series
resistance R_s sits between the SMU and the filament.

Kinetics: one event moves x by ±dx:
- growth (V_f > 0): k₊ = ν_g·e^(−E_a/kT)·sinh(q·V_f/kT)·(1 − N/N_max); optionally
  limited in series by the supply of atoms to the constriction (k_supply·N), and
  joined by a high-field hop ν_g·e^(−E_high/kT)·sinh(q_high·V_f/kT), the only way
  to bridge an empty gap when it is set (ag-nanowire: G ≈ I_cc/1.35 V under compliance)
- rupture (V_f < 0): k₋ = ν_r·e^(−E_r/kT)·sinh(q_r·|V_f|/kT)·(N + x)^order
- thermal dissolution (any bias): k_d = ν_d·e^(−(E_d + N·ΔE)/kT), thin filaments first
- Joule heating: T = T₀ + R_th·|V_f·I|.
Self-limitation needs no special code: under compliance or current drive V_f = I/G_f
falls as N grows, and k₊ collapses with it. Device-to-device variability is drawn
from the seed once; cycle-to-cycle variability rescales all rates at every return to
HRS. Forming (or nanowire breakdown) of a pristine device is optional.

Speed: each state's I–V and rates are tabulated once against the filament voltage
(the I–V is monotonic, so any source level or compliance is one interpolation).
Within a drive the state is constant between events: steps are evaluated in numpy
windows, the cumulative hazard is compared with one exponential draw, and the
simulation jumps straight to the step where the next event happens. Events are rare
compared with steps (that is why plateaus exist). Drives of a few steps (an emulator's
spot reading, ~10^4 per second of wall time) skip numpy altogether: the same kinetics
and noise step by step on Python floats, table lookups by bisection, random numbers
drawn in blocks, per-state rates and noise coefficients cached.

Noise (instruments/sim/noise.py) is added to the readings afterwards: 1/f and RTN of
the filament, and read noise per measure range that averages down with t_int.

This module holds the state and its kinetics; the parameters are in memristor_params.py,
one state's tabulated I–V and rates in memristor_iv.py, what the SMU reads (pulse
offsets, noise, the limit) in memristor_readings.py, the path of small drives in
memristor_small.py.
"""
from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np

from labqc.instruments.sim.device import Drive, Measured, clamp_to_compliance
from labqc.instruments.sim.memristor_iv import (K_B, StateTable, channel_transmission,  # noqa: F401 (re-exported)
                                                dissolution_rate, g_filament, interp1, operating_point,
                                                state_table, LastUsed)
from labqc.instruments.sim.memristor_params import MemristorParams, MemristorState, draw_device
from labqc.instruments.sim.memristor_readings import Readings
from labqc.instruments.sim.memristor_small import EVENTS_PER_STEP, SmallDrives, held
from labqc.instruments.sim.noise import Draws, FlickerNoise, TelegraphNoise

_WINDOW_AFTER_EVENT = 64  # steps evaluated right after an event (events come in bursts)
_SMALL_DRIVE = 8  # drives up to this many steps run step by step on Python floats


class Memristor(SmallDrives, Readings):
    """The simulated quantum-conductance memristor (implements ``Device``)."""

    def __init__(self, params: MemristorParams | None = None, *, seed: int = 0,
                 n_channels: int = 0, x: float = 0.0) -> None:
        base = params if params is not None else MemristorParams()
        streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)]
        d2d_rng, self._rng, noise_rng, self._read_rng = streams
        self.nominal = base
        self.p = self._draw_device(base, d2d_rng)
        self.t = 0.0
        self._cycle_gain = 1.0
        self._offsets = self.p.level_spread * d2d_rng.standard_normal(self.p.n_max + 2)
        self._flicker = FlickerNoise(self.p.flicker, noise_rng)
        self._rtn = TelegraphNoise(self.p.rtn_count, self.p.rtn_amp, self.p.rtn_tau_min,
                                   self.p.rtn_tau_max, noise_rng)
        # RTN relative to G: a fraction of G0, ∝ 1/√N, divided by G ≈ N·G0; none at N = 0.
        self._rtn_scale = np.zeros(self.p.n_max + 1)
        self._rtn_scale[1:] = np.arange(1, self.p.n_max + 1) ** -1.5
        # Per-state caches are bounded: a long pulse train visits ever new (n, x) states,
        # and an unbounded table of ~0.4 MB I–V grids made memory grow with the run.
        self._tables: LastUsed = LastUsed(64)
        self._tb_key: tuple[int, float] | None = None
        self._draws = Draws(self._rng)  # kinetics: exponential thresholds, kinds of event
        self._read_draws = Draws(self._read_rng)  # read noise of small drives
        self._rtn_scale_list = self._rtn_scale.tolist()
        self._rtn_on = self.p.rtn_count > 0
        self._rest_rates: LastUsed = LastUsed(4096)  # dissolution rate at T0 per state
        self._g_low: LastUsed = LastUsed(4096)  # low-bias conductance per state
        self._hazard_left = self._next_hazard()
        self.fresh = 0.0  # channels added since the filament last annealed (they rupture first)
        self.volatile = 0.0  # channels short pulses added that have not relaxed yet
        self._step_dwell = math.inf  # dwell of the step an event happens in
        self._last_level = 0.0  # the last source level (V) applied: a pulse is a jump from it
        self._pulse_rel = 0.0  # δG/G of the pulse under way (0 between pulses)
        self._in_pulse = False  # the last step applied was the top of a pulse
        self._tops = np.zeros(0, dtype=bool)  # pulse tops of the drive being applied
        self._top_now = False  # the step being applied one at a time is a pulse top
        self._gap_until = -math.inf  # device time until which a just-broken gap cannot bridge
        self.formed = not self.p.pristine
        self.reset_state(n_channels, x)

    # --- construction -----------------------------------------------------------------
    _draw_device = staticmethod(draw_device)

    def reset_state(self, n_channels: int = 0, x: float = 0.0) -> None:
        """Put the filament in a given state (0 = HRS); device time is kept."""
        if not (isinstance(n_channels, (int, np.integer)) and 0 <= n_channels <= self.p.n_max):
            raise ValueError(f"n_channels must be an integer in 0..{self.p.n_max}, got {n_channels!r}")
        if not (math.isfinite(x) and 0 <= x < 1):
            raise ValueError(f"x (partial channel) must lie in [0, 1), got {x!r}")
        self.n = int(n_channels)
        self.x = float(x)

    # --- the Device protocol ------------------------------------------------------------
    @property
    def n_channels(self) -> int:
        return self.n

    @property
    def state(self) -> MemristorState:
        return MemristorState(self.n, self.x, self.conductance(), self.formed, self.t)

    def conductance(self) -> float:
        """Low-bias conductance, series resistance included (S)."""
        if not self.formed:
            return 1.0 / (1.0 / self.p.g_pristine + self.p.r_s)
        key = (self.n, self.x)
        g = self._g_low.get(key)
        if g is None:
            g_f = float(self._g_filament(np.zeros(1))[0])
            g = self._g_low[key] = 1.0 / (1.0 / g_f + self.p.r_s)
        return g

    def rest(self, duration: float) -> None:
        """Output off for ``duration`` s: thermal dissolution at ambient temperature."""
        try:
            left = float(duration)
        except (TypeError, ValueError):
            left = float("nan")
        if not (math.isfinite(left) and left >= 0):
            raise ValueError(f"rest duration must be finite and >= 0 s, got {duration!r}")
        duration = left
        while left > 0 and self.formed:
            k = self._rest_rate() + self._volatile_rate()
            if k <= 0:
                break
            wait = self._hazard_left / k
            if wait > left:
                self._hazard_left -= k * left
                break
            left -= wait
            self._shrink()
            self._hazard_left = self._next_hazard()
        self.t += float(duration)
        self._last_level, self._pulse_rel, self._in_pulse = 0.0, 0.0, False
        self._flicker.relax(duration)
        self._rtn.relax(duration)

    def apply(self, drive: Drive) -> Measured:
        """Run the drive step by step; return what the SMU reads at the end of each step."""
        if drive.levels.size <= _SMALL_DRIVE and self.formed:
            return self._apply_small(drive)
        levels, dwell = drive.levels, np.asarray(drive.dwell, dtype=float)
        n = levels.size
        out_v = np.empty(n)
        out_i = np.empty(n)
        out_comp = np.zeros(n, dtype=bool)
        nch = np.empty(n)
        start = 0
        self._tops = self._pulse_tops(drive)
        if not self.formed:
            start = self._apply_pristine(drive, out_v, out_i, out_comp, nch)
        if start < n:
            self._run_kinetics(drive, start, out_v, out_i, out_comp, nch)
        self.t += float(dwell.sum())
        measured = self._add_noise(drive, dwell, out_v, out_i, out_comp, nch)
        self._end_drive(drive, self._tops)
        return measured

    # --- conductance and operating point ------------------------------------------------
    def _g_filament(self, v_f: np.ndarray) -> np.ndarray:
        """Filament conductance (S) at filament voltage ``v_f`` for the present state."""
        return g_filament(self.p, self.n, self.x, float(self._offsets[self.n]), v_f)

    @property
    def _tb(self) -> StateTable:
        """The present state's table (looked up once per state change)."""
        key = (self.n, self.x)
        if self._tb_key != key:
            self._tb_cached, self._tb_key = self._table(), key
        return self._tb_cached

    def _table(self) -> StateTable:
        """I–V and rates of the present state (cached per state; memristor_iv.state_table)."""
        key = (self.n, self.x)
        table = self._tables.get(key)
        if table is None:
            table = self._tables[key] = state_table(self.p, self.n, self.x, float(self._offsets[self.n]))
        return table

    _operating_point = staticmethod(operating_point)

    # --- kinetics -----------------------------------------------------------------------
    def _rest_rate(self) -> float:
        """Thermal dissolution rate at ambient temperature in the present state (cached)."""
        key = (self.n, self.x)
        k = self._rest_rates.get(key)
        if k is None:
            k = self._rest_rates[key] = float(self._dissolution_rate(self.p.t0))
        return k

    def _dissolution_rate(self, temp: np.ndarray | float) -> np.ndarray | float:
        return dissolution_rate(self.p, self.n, self.x, temp)

    def _uniform(self) -> float:
        return self._draws.uniform()

    def _next_hazard(self) -> float:
        """The hazard (in units of this cycle's rates) until the next event. Cycle-to-
        cycle variability scales every rate by ``_cycle_gain``, which is the same as
        dividing the exponential threshold by it; the rate tables stay cached."""
        return -math.log(1.0 - self._uniform()) / self._cycle_gain

    def _rupture_scale(self) -> float:
        """Rupture speed of the present filament relative to an all-fresh one: annealed
        atoms (a DC SET at a high current) hold on ``consolidated`` times as long, so a
        RESET train steps down slowly, while atoms pulses just added go first."""
        if self.p.consolidated >= 1.0:
            return 1.0
        size = self.n + self.x
        f = min(self.fresh / size, 1.0) if size > 0 else 1.0
        return f + (1.0 - f) * self.p.consolidated

    def _volatile_rate(self) -> float:
        """Relaxation rate (1/s) of the metastable part a short pulse left: each of its
        half-channels goes back at k_volatile, whatever the bias (a volatile level)."""
        return self.p.k_volatile * self.volatile / self.p.dx if self.volatile > 0 else 0.0

    def _anneal(self, hot_seconds: float) -> None:
        if hot_seconds > 0 and self.fresh > 0:
            self.fresh *= math.exp(-hot_seconds / self.p.tau_anneal)

    def _grow(self) -> None:
        if self.n >= self.p.n_max:
            return
        self.fresh = min(self.fresh + self.p.dx, self.n + self.x + self.p.dx)
        if self.p.k_volatile > 0 and self._step_dwell < self.p.volatile_width:
            self.volatile += self.p.dx
        self.x += self.p.dx
        if self.x > 1 - 1e-9:
            self.n += 1
            self.x = 0.0

    def _shrink(self) -> None:
        self.fresh = max(self.fresh - self.p.dx, 0.0)
        self.volatile = max(self.volatile - self.p.dx, 0.0)
        self.x -= self.p.dx
        if self.x < -1e-9:
            if self.n > 0:
                self.n -= 1
                self.x = max(1 - self.p.dx, 0.0)
            else:
                self.x = 0.0
        if self.n == 0 and self.x == 0:
            # Back in HRS: the next filament grows a little differently (cycle-to-cycle).
            self._cycle_gain = float(np.exp(self.p.c2c * self._rng.standard_normal()))

    def _run_kinetics(self, drive: Drive, start: int, out_v, out_i, out_comp, nch) -> None:
        """Advance the state through the drive, filling the noiseless readings.

        Between events the state is constant, so steps are evaluated in numpy windows
        that grow while nothing happens and shrink again after an event.

        Where growth and dissolution are both enormous (a hot filament far above
        threshold) they balance within a step; after ``EVENTS_PER_STEP`` events the
        step ends in the state reached, which bounds the cost of such steps.
        """
        levels, dwell = drive.levels, drive.dwell
        n = levels.size
        j, frac_left, window = start, 1.0, _WINDOW_AFTER_EVENT
        busy_step, busy_count = -1, 0
        dwell_one = float(dwell[0]) if n and np.all(dwell == dwell[0]) else None
        while j < n:
            stop = min(n, j + window)
            tb = self._tb
            v_term, i, comp, total = self._operating_point(tb, drive.source, levels[j:stop], drive.compliance)
            scale = self._rupture_scale()
            tops = self._tops[j:stop]
            if scale != 1.0:  # annealed atoms resist short pulses; a ramp heats them loose
                total = np.where((i < 0) & tops, total * scale, total)
            k_vol = self._volatile_rate()
            if k_vol:
                total = total + k_vol
            if self._gap_until > self.t and self.n == 0 and self.x == 0:  # a just-broken gap holds
                steps = dwell_one * np.arange(j, stop) if dwell_one is not None else np.cumsum(dwell)[j:stop] - dwell[j:stop]
                total = np.where(self.t + steps < self._gap_until, 0.0, total)
            hot_steps = np.abs(i) >= self.p.i_anneal
            hazard = total * (dwell_one if dwell_one is not None else dwell[j:stop])
            hazard[0] *= frac_left
            cum = np.cumsum(hazard)
            k = int(cum.searchsorted(self._hazard_left))
            # Steps before the event (all of them if none) read the present state.
            upto = min(k, cum.size)
            if upto:
                sl = slice(j, j + upto)
                out_v[sl], out_i[sl], out_comp[sl], nch[sl] = v_term[:upto], i[:upto], comp[:upto], self.n
                if hot_steps[:upto].any():
                    d = dwell_one if dwell_one is not None else dwell[sl]
                    self._anneal(float(np.sum(np.where(hot_steps[:upto], d, 0.0))))
            if k >= cum.size:
                self._hazard_left -= cum[-1]
                j, frac_left, window = stop, 1.0, min(window * 4, 1 << 16)
                continue
            # An event in step j+k: the rest of that step runs in the new state.
            before = cum[k - 1] if k else 0.0
            used = (self._hazard_left - before) / hazard[k]
            frac_left = (frac_left if k == 0 else 1.0) * (1.0 - min(max(used, 0.0), 1.0))
            j += k
            protected = i[k] < 0 and bool(tops[k])
            field_part = interp1(float(i[k]), tb.lists[1], tb.lists[3]) * (scale if protected else 1.0)
            self._step_dwell = held(levels, dwell, j)
            self._event(float(i[k]), float(total[k]), field_part)
            busy_count = busy_count + 1 if j == busy_step else 1
            busy_step = j
            if busy_count >= EVENTS_PER_STEP:
                frac_left = 0.0
            window = _WINDOW_AFTER_EVENT

    def _event(self, current: float, total: float, field_part: float) -> None:
        """One event; which one is drawn by rate: field-driven (growth if the current
        is positive, rupture if negative) or thermal dissolution."""
        if self._uniform() * total < field_part and current > 0:
            self._grow()
        else:
            self._shrink()
        self._hazard_left = self._next_hazard()

    def _apply_pristine(self, drive: Drive, out_v, out_i, out_comp, nch) -> int:
        """An unformed device is a plain conductance until |V| reaches v_form; the step
        where it does forms it (HRS). Returns the index of the first formed step."""
        r_total = 1.0 / self.p.g_pristine + self.p.r_s
        m = clamp_to_compliance(drive.source, drive.levels, r_total, drive.compliance)
        hit = np.nonzero(np.abs(m.v) >= self.p.v_form)[0]  # the applied voltage, as reported
        end = int(hit[0]) if hit.size else drive.levels.size
        out_v[:end], out_i[:end], out_comp[:end] = m.v[:end], m.i[:end], m.compliance[:end]
        nch[:end] = -1  # unformed: no filament, no filament noise
        if hit.size:
            self.formed = True
            self.reset_state(0, 0.0)
            if self.p.g_pristine > self.p.g_gap:  # a wire broke: its fresh gap is wide for a while
                self._gap_until = self.t + float(np.sum(drive.dwell[:end])) + self.p.gap_hold
        return end

    def describe(self) -> dict:
        """This device's drawn parameters (after device-to-device variability)."""
        return asdict(self.p)


__all__ = ["Memristor", "MemristorParams", "MemristorState", "channel_transmission", "K_B"]
