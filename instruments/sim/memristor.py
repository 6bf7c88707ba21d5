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
"""
from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import asdict, dataclass, fields, replace

import numpy as np

from labqc.instruments.sim.device import Drive, Measured, clamp_to_compliance
from labqc.instruments.sim.noise import (Draws, FlickerNoise, TelegraphNoise, averaging_factor, autorange,
                                  autorange1, read_noise)
from labqc.units import G0

K_B = 8.617333262e-5  # Boltzmann constant, eV/K
_RATE_MAX = 1e9  # /s: caps runaway rates so cumulative hazards stay finite
_SINH_ARG_MAX = 200.0
_T_MAX = 1500.0  # K: Joule heating saturates (the filament would melt or break first)
_EVENTS_PER_STEP = 64  # see Memristor._run_kinetics
_WINDOW_AFTER_EVENT = 64  # steps evaluated right after an event (events come in bursts)
_SMALL_DRIVE = 8  # drives up to this many steps run step by step on Python floats


@dataclass
class MemristorParams:
    """Parameters of one device (defaults: the values below)."""

    # --- quantum point contact (Miranda–Suñé) ---
    alpha: float = 10.0  # barrier curvature, 1/eV
    beta: float = 0.5  # fraction of the bias dropping on the source side
    phi_open: float = 0.5  # depth of an open channel's barrier, eV (φ = −phi_open)
    phi_c: float = 0.3  # barrier of the partial channel at x = 0, eV (φ = phi_c·(1 − 2x))
    n_max: int = 30  # most channels the constriction can hold
    dx: float = 0.5  # progress of the partial channel per growth/rupture event
    level_spread: float = 0.02  # atomic-arrangement spread of each level, G0 (rms)
    # --- circuit ---
    r_s: float = 200.0  # series resistance, ohm
    g_gap: float = 1e-6  # tunnelling-gap conductance with no channel open (HRS), S
    # --- kinetics ---
    nu_g: float = 1e13  # attempt frequency of growth, 1/s
    e_a: float = 0.8  # activation energy of growth, eV
    nu_r: float = 1e13  # attempt frequency of rupture, 1/s
    e_r: float = 0.8  # activation energy of field-driven rupture, eV
    q_rupture: float = 0.05  # barrier lowering per volt for rupture, eV/V
    rupture_order: float = 1.0  # rupture ∝ (N + x)^order: 1 = every atom alike, 2 = wide filaments go first
    k_volatile: float = 0.0  # 1/s: each half-channel a short pulse added relaxes at this rate (0 = none)
    volatile_width: float = 2e-3  # growth during steps shorter than this (s) is metastable
    consolidated: float = 1.0  # rupture rate of annealed atoms relative to freshly added ones (<= 1)
    i_anneal: float = 4e-3  # |I| above which a filament anneals (its fresh atoms consolidate), A
    tau_anneal: float = 0.2  # seconds above i_anneal that consolidate 63 % of the fresh atoms
    q_field: float = 0.05  # γ·a·z·e/(2L): barrier lowering per volt on the filament, eV/V
    k_supply: float = 0.0  # atoms/s reaching the constriction, per open channel (0 = no limit)
    e_high: float = 0.0  # barrier of a high-field hop that also grows past the supply limit, eV
    q_high: float = 0.0  # its lowering per volt (0 = no such hop: the gap bridges like growth), eV/V
    e_bridge: float = 0.0  # barrier of the high-field hop across the empty gap (0 = e_high), eV
    nu_d: float = 1e13  # attempt frequency of thermal dissolution, 1/s
    e_d: float = 0.8  # dissolution barrier of a bare contact, eV
    de_atom: float = 0.05  # extra dissolution barrier per open channel, eV
    r_th: float = 1e5  # thermal resistance of the filament, K/W
    t0: float = 300.0  # ambient temperature, K
    # --- noise ---
    read_a: float = 1e-9  # current-read noise floor on the 100 µA range, A (scales with range)
    read_b: float = 5e-4  # relative current-read noise (σ_I = a + b|I|)
    read_va: float = 10e-6  # voltage-read noise floor on the 1 V range, V
    read_vb: float = 2e-4  # relative voltage-read noise
    flicker: float = 1e-3  # 1/f noise: total rms of δG/G (0.01–1 %)
    rtn_count: int = 1  # two-level fluctuators
    rtn_amp: float = 0.1  # RTN amplitude, G0 (on a 1-channel filament; ∝ 1/√N)
    rtn_tau_min: float = 0.1  # shortest mean RTN dwell, s
    rtn_tau_max: float = 10.0  # longest mean RTN dwell, s
    pulse_spread: float = 0.0  # each abrupt pulse rearranges the contact: rms δG/G held for that pulse
    pulse_v: float = 0.8  # |V| from which a step counts as a pulse top, V
    pulse_jump: float = 0.5  # a pulse starts with a jump of at least this much, V (sweeps never do)
    # --- variability ---
    d2d: float = 0.3  # device-to-device: lognormal σ of the attempt frequencies
    d2d_rs: float = 0.1  # device-to-device: relative σ of R_s and N_max
    c2c: float = 0.2  # cycle-to-cycle: lognormal σ of growth/rupture rates, redrawn at each HRS
    # --- forming / breakdown of a pristine device (off by default) ---
    pristine: bool = False  # start unformed
    g_pristine: float = 1e-8  # conductance of the unformed device, S
    v_form: float = 5.0  # applied |V| at which forming (or nanowire breakdown) happens, V
    gap_hold: float = 0.2  # s after a breakdown before the fresh gap can be bridged again under bias

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool):
                continue
            if not isinstance(value, (int, float, np.integer, np.floating)) or not math.isfinite(value):
                raise ValueError(f"memristor parameter {f.name} must be a finite number, got {value!r}")
        positive = ("alpha", "phi_c", "consolidated", "tau_anneal", "dx", "nu_g", "nu_r", "nu_d", "t0", "g_gap",
                    "g_pristine", "v_form", "rtn_tau_min", "rtn_tau_max", "q_field", "q_rupture", "rupture_order")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"memristor parameter {name} must be > 0, got {getattr(self, name)!r}")
        non_negative = ("k_supply", "e_high", "q_high", "e_bridge", "r_s", "phi_open", "e_a", "e_r", "e_d",
                        "de_atom", "r_th", "read_a",
                        "read_b", "read_va", "read_vb", "flicker", "rtn_count", "rtn_amp",
                        "level_spread", "d2d", "d2d_rs", "c2c", "i_anneal", "gap_hold", "k_volatile", "volatile_width", "pulse_spread", "pulse_v", "pulse_jump")
        for name in non_negative:
            if getattr(self, name) < 0:
                raise ValueError(f"memristor parameter {name} must be >= 0, got {getattr(self, name)!r}")
        if self.n_max < 1 or int(self.n_max) != self.n_max:
            raise ValueError(f"memristor parameter n_max must be an integer >= 1, got {self.n_max!r}")
        if not 0 <= self.beta <= 1:
            raise ValueError(f"memristor parameter beta must lie in [0, 1], got {self.beta!r}")
        if not 0 < self.dx <= 1:
            raise ValueError(f"memristor parameter dx must lie in (0, 1], got {self.dx!r}")
        if self.rtn_tau_max < self.rtn_tau_min:
            raise ValueError("memristor parameter rtn_tau_max must be >= rtn_tau_min")
        self.n_max = int(self.n_max)
        self.rtn_count = int(self.rtn_count)


@dataclass(frozen=True)
class MemristorState:
    """A summary for tests and emulators."""

    n_channels: int  # N, fully open channels
    x: float  # progress of the partial channel
    conductance: float  # low-bias conductance with R_s, S
    formed: bool
    t: float  # device time, s


#: Filament voltages at which each state's I–V and rates are tabulated: 5 mV apart
#: within ±5 V (where QPC features, ~1/α wide, and the rates live), coarser beyond.
_V_GRID = np.concatenate([np.linspace(-50.0, -5.25, 180), np.linspace(-5.0, 5.0, 2001),
                          np.linspace(5.25, 50.0, 180)])


@dataclass(frozen=True)
class _StateTable:
    v_f: np.ndarray  # filament voltage, V (the grid)
    i: np.ndarray  # filament current, A
    v_term: np.ndarray  # terminal voltage V_f + R_s*I, V
    drive_rate: np.ndarray  # growth (V_f > 0) or rupture (V_f < 0) rate, 1/s
    total_rate: np.ndarray  # drive_rate + thermal dissolution rate, 1/s
    lists: tuple  # v_term, i, total_rate, drive_rate as Python lists, for one step at a time


def _interp1(x: float, xs: list, ys: list) -> float:
    """np.interp for one point on Python lists (no numpy call overhead)."""
    k = bisect_right(xs, x)
    if k == 0:
        return ys[0]
    if k == len(xs):
        return ys[-1]
    x0, x1 = xs[k - 1], xs[k]
    return ys[k - 1] + (ys[k] - ys[k - 1]) * (x - x0) / (x1 - x0)


try:  # the compiled interpolation, without np.interp's per-call checks
    from numpy._core.multiarray import interp as _interp
except ImportError:  # numpy < 2
    from numpy.core.multiarray import interp as _interp


def _held(levels: np.ndarray, dwell: np.ndarray, j: int, reach: int = 64) -> float:
    """How long the level of step ``j`` is held: the dwell of the run of equal levels
    around it (a pulse the instrument splits into a hold and a measure step is one pulse)."""
    a = b = j
    while a > 0 and j - a < reach and levels[a - 1] == levels[j]:
        a -= 1
    while b + 1 < levels.size and b - j < reach and levels[b + 1] == levels[j]:
        b += 1
    return float(np.sum(dwell[a:b + 1]))


def _softplus(z: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, z)


def channel_transmission(v: np.ndarray, phi: float, alpha: float, beta: float) -> np.ndarray:
    """Miranda–Suñé: I/(G0·V) of one channel with barrier ``phi`` (eV) at ``v`` volts."""
    small = np.abs(v) < 1e-6
    vs = np.where(small, 1e-6, v)
    i_over_g0 = vs + (_softplus(alpha * (phi - beta * vs)) - _softplus(alpha * (phi + (1 - beta) * vs))) / alpha
    low_bias = 1.0 / (1.0 + math.exp(min(alpha * phi, 700.0)))
    return np.where(small, low_bias, i_over_g0 / vs)


class Memristor:
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
        self._tables: dict[tuple[int, float], _StateTable] = {}
        self._tb_key: tuple[int, float] | None = None
        self._draws = Draws(self._rng)  # kinetics: exponential thresholds, kinds of event
        self._read_draws = Draws(self._read_rng)  # read noise of small drives
        self._rtn_scale_list = self._rtn_scale.tolist()
        self._rtn_on = self.p.rtn_count > 0
        self._rest_rates: dict[tuple[int, float], float] = {}  # dissolution rate at T0 per state
        self._g_low: dict[tuple[int, float], float] = {}  # low-bias conductance per state
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
    @staticmethod
    def _draw_device(p: MemristorParams, rng: np.random.Generator) -> MemristorParams:
        """Device-to-device variability: this device's own copy of the parameters."""
        ln = lambda: float(np.exp(p.d2d * rng.standard_normal()))  # noqa: E731
        jitter = lambda: float(1 + p.d2d_rs * rng.standard_normal())  # noqa: E731
        return replace(p, nu_g=p.nu_g * ln(), nu_r=p.nu_r * ln(), nu_d=p.nu_d * ln(),
                       r_s=p.r_s * max(jitter(), 0.2),
                       n_max=max(1, int(round(p.n_max * jitter()))))

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
        p = self.p
        g = np.full(v_f.shape, p.g_gap)
        if self.n:
            g += G0 * self.n * channel_transmission(v_f, -p.phi_open, p.alpha, p.beta)
            g += G0 * self._offsets[self.n]  # this level's atomic arrangement
        if self.n or self.x:
            # The channel being built; with N = 0 and x = 0 there is only the gap.
            g += G0 * channel_transmission(v_f, p.phi_c * (1 - 2 * self.x), p.alpha, p.beta)
        return np.maximum(g, p.g_gap)

    @property
    def _tb(self) -> "_StateTable":
        """The present state's table (looked up once per state change)."""
        key = (self.n, self.x)
        if self._tb_key != key:
            self._tb_cached, self._tb_key = self._table(), key
        return self._tb_cached

    def _table(self) -> "_StateTable":
        """I–V and rates of the present state on a grid of filament voltages (cached).

        The filament current I(V_f) is monotonic (each QPC channel's is), and so is the
        terminal voltage V_f + R_s·I, so the operating point for any source level and
        compliance is one interpolation instead of an iterative solve.
        """
        key = (self.n, self.x)
        table = self._tables.get(key)
        if table is None:
            p = self.p
            v_f = _V_GRID
            g = self._g_filament(v_f)
            i = v_f * g
            temp = np.minimum(p.t0 + p.r_th * np.abs(v_f * i), _T_MAX)  # Joule heating
            kt = K_B * temp
            grow = self._growth_rate(np.abs(v_f), kt) * (1 - self.n / p.n_max)
            field_r = np.sinh(np.minimum(p.q_rupture * np.abs(v_f) / kt, _SINH_ARG_MAX))
            rupt = p.nu_r * np.exp(-p.e_r / kt) * field_r * (self.n + self.x) ** p.rupture_order
            drive = np.where(v_f > 0, grow, rupt)
            drive = np.minimum(drive, _RATE_MAX)
            total = drive + np.minimum(self._dissolution_rate(temp), _RATE_MAX)
            v_term = v_f + p.r_s * i
            table = _StateTable(v_f=v_f, i=i, v_term=v_term, drive_rate=drive, total_rate=total,
                                lists=(v_term.tolist(), i.tolist(), total.tolist(), drive.tolist()))
            self._tables[key] = table
        return table

    @staticmethod
    def _operating_point(tb: _StateTable, source: str, levels: np.ndarray, compliance: float):
        """Terminal voltage, current, compliance flag and total event rate (1/s) of
        each step in the state whose table is ``tb``."""
        if source == "V":
            i = _interp(levels, tb.v_term, tb.i)
            comp = np.abs(i) > compliance
            v_term = levels
            if comp.any():
                # The limit takes over: the SMU now sources ±I_cc.
                lim = np.where(levels > 0, compliance, -compliance)
                i = np.where(comp, lim, i)
                v_term = np.where(comp, _interp(lim, tb.i, tb.v_term), levels)
        else:
            v_term = _interp(levels, tb.i, tb.v_term)
            i = levels
            comp = np.abs(v_term) > compliance
            if comp.any():
                # The limit takes over: the SMU now sources ±V_cc.
                lim = np.where(levels > 0, compliance, -compliance)
                v_term = np.where(comp, lim, v_term)
                i = np.where(comp, _interp(lim, tb.v_term, tb.i), levels)
        # The state's rates are functions of the operating point alone (Joule heating
        # included), tabulated against the current.
        return v_term, i, comp, _interp(i, tb.i, tb.total_rate)

    # --- kinetics -----------------------------------------------------------------------
    def _rest_rate(self) -> float:
        """Thermal dissolution rate at ambient temperature in the present state (cached)."""
        key = (self.n, self.x)
        k = self._rest_rates.get(key)
        if k is None:
            k = self._rest_rates[key] = float(self._dissolution_rate(self.p.t0))
        return k

    def _growth_rate(self, v: np.ndarray, kt: np.ndarray) -> np.ndarray:
        """Growth rate at filament voltage ``v`` (>= 0) before the N_max factor.

        Field-driven hopping, ν_g·e^(−E_a/kT)·sinh(q·V/kT), limited in series by the
        supply of atoms to the constriction (k_supply): 1/k = 1/k_hop + 1/k_supply.
        With a high-field channel (q_high > 0) the empty gap bridges only through it
        (no filament, no supply path; its own barrier e_bridge, as the field is
        concentrated in the gap), and it adds to the growth of a formed filament.
        """
        p = self.p
        hop = p.nu_g * np.exp(-p.e_a / kt) * np.sinh(np.minimum(p.q_field * v / kt, _SINH_ARG_MAX))
        if p.k_supply > 0:
            supply = p.k_supply * max(self.n, 1)  # atoms join at the rim, which grows with N
            hop = hop / (1.0 + hop / supply)
        if p.q_high <= 0:
            return hop
        bridging = self.n == 0 and self.x == 0
        barrier = p.e_bridge if bridging and p.e_bridge > 0 else p.e_high
        high = p.nu_g * np.exp(-barrier / kt) * np.sinh(np.minimum(p.q_high * v / kt, _SINH_ARG_MAX))
        return high if bridging else hop + high

    def _dissolution_rate(self, temp: np.ndarray | float) -> np.ndarray | float:
        if self.n == 0 and self.x == 0:
            return 0.0 * temp
        p = self.p
        return p.nu_d * np.exp(-(p.e_d + self.n * p.de_atom) / (K_B * temp))

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
        threshold) they balance within a step; after ``_EVENTS_PER_STEP`` events the
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
            field_part = _interp1(float(i[k]), tb.lists[1], tb.lists[3]) * (scale if protected else 1.0)
            self._step_dwell = _held(levels, dwell, j)
            self._event(float(i[k]), float(total[k]), field_part)
            busy_count = busy_count + 1 if j == busy_step else 1
            busy_step = j
            if busy_count >= _EVENTS_PER_STEP:
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

    # --- small drives: one step at a time on Python floats -----------------------------
    def _apply_small(self, drive: Drive) -> Measured:
        """:meth:`apply` for a few steps (an emulator's spot reading). Same physics and
        noise as the vectorised path, one step at a time, without numpy per step."""
        levels, dwell = drive.levels.tolist(), drive.dwell.tolist()
        n = len(levels)
        out_v, out_i, out_comp = [0.0] * n, [0.0] * n, [False] * n
        tops = self._pulse_tops(drive)
        for j in range(n):
            if self.p.k_volatile > 0:
                self._step_dwell = _held(drive.levels, drive.dwell, j)
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
                i = _interp1(level, v_l, i_l)
                comp = abs(i) > compliance
                v = level
                if comp:  # the limit takes over: the SMU now sources ±I_cc
                    i = compliance if level > 0 else -compliance
                    v = _interp1(i, i_l, v_l)
            else:
                v = _interp1(level, i_l, v_l)
                i = level
                comp = abs(v) > compliance
                if comp:  # the limit takes over: the SMU now sources ±V_cc
                    v = compliance if level > 0 else -compliance
                    i = _interp1(v, v_l, i_l)
            total = _interp1(i, i_l, total_l)
            scale = self._rupture_scale() if i < 0 and self._top_now else 1.0
            total = total * scale + self._volatile_rate()
            if abs(i) >= self.p.i_anneal:
                self._anneal(dwell * frac)
            hazard = total * dwell * frac
            if hazard <= 0.0 or hazard < self._hazard_left:
                self._hazard_left -= hazard
                return v, i, comp
            frac *= 1.0 - min(max(self._hazard_left / hazard, 0.0), 1.0)
            self._event(i, total, _interp1(i, i_l, drive_l) * scale)
            events += 1
            if events >= _EVENTS_PER_STEP:
                frac = 0.0

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
        p, lv = self.p, drive.levels
        if drive.source != "V" or lv.size == 0:
            return np.zeros(lv.size, dtype=bool)
        prev = np.concatenate([[self._last_level], lv[:-1]])
        high = np.abs(lv) >= p.pulse_v
        onset = high & (np.abs(lv - prev) >= p.pulse_jump)
        fall = ~high & (np.abs(prev) >= p.pulse_v)
        run = np.cumsum(onset | fall)
        starts = np.flatnonzero(onset | fall)
        kinds = np.concatenate([[self._in_pulse], onset[starts]])
        return kinds[run] & high

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
        prev = np.concatenate([[self._last_level], lv[:-1]])
        high = np.abs(lv) >= p.pulse_v
        onset = high & (np.abs(lv - prev) >= p.pulse_jump)
        fall = ~high & (np.abs(prev) >= p.pulse_v)
        run = np.cumsum(onset | fall)
        values = np.zeros(int(run[-1]) + 1)
        values[0] = self._pulse_rel
        starts = np.flatnonzero(onset | fall)
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

    # --- what the SMU reads -------------------------------------------------------------
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

    def describe(self) -> dict:
        """This device's drawn parameters (after device-to-device variability)."""
        return asdict(self.p)
