"""Seeded synthetic G/G0 traces with ground truth, for tests and benchmarks.

A trace is ``n_cycles`` cycles; each cycle walks up (SET) then down (RESET) over plateaus at
multiples of 0.5 G0 (some pushed off the grid), joined by abrupt steps or short ramps. Noise
is applied in the device (1/f as a sum of Lorentzians, telegraph noise, per-plateau drift),
then the series resistance, then read noise and spikes:

    G_int = G + flicker·G·f(t) + RTN + drift;   G_meas = G_int/(1 + R_s·G0·G_int) + white + spikes

``make_trace(spec)`` returns the measured samples and the truth (every plateau with its start,
stop, level, quantised flag and cycle; the cycle starts; R_s). ``SCENARIOS`` holds the
clean / realistic / hard settings of the reference's quick experiment.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy.signal import lfilter

from labqc import rs
from labqc.units import G0

JUMPS = np.array([1, 1, 1, 2, 2, 3, 4, 6])  # step sizes of the level walk, in half-quanta


@dataclass(frozen=True)
class TraceSpec:
    """Everything that defines a synthetic trace; the same spec and seed give the same trace."""

    seed: int = 0
    n_cycles: int = 20
    plateaus_per_cycle: tuple[int, int] = (6, 19)
    dwell_median: float = 228.0
    dwell_sigma_ln: float = 0.8
    dwell_min: int = 8
    max_half_quanta: int = 50  # 25 G0
    p_reversal: float = 0.15
    p_off_grid: float = 0.0
    off_grid_offset: tuple[float, float] = (0.15, 0.35)
    p_ramp: float = 0.0
    ramp_length: tuple[int, int] = (3, 30)
    white: float = 0.02  # G0, read noise (after R_s)
    flicker: float = 0.0  # relative amplitude of 1/f noise (0.01 = 1 % of G)
    rtn_fraction: float = 0.0  # fraction of plateaus with a telegraph fluctuator
    rtn_amplitude: float = 0.15  # G0
    rtn_dwell: tuple[float, float] = (3.0, 160.0)  # mean dwell, samples
    rtn_duty: tuple[float, float] = (0.2, 0.5)
    drift: float = 0.0  # G0: sd of the linear drift across one plateau
    r_series: float = 0.0  # ohm
    spike_rate: float = 0.0  # per sample
    spike_amplitude: float = 2.0  # G0 (sign random)


@dataclass(frozen=True)
class TruthPlateau:
    start: int
    stop: int  # exclusive
    level: float  # true (intrinsic, uncorrected-for-nothing) G/G0
    quantised: bool
    cycle: int

    @property
    def quantum(self) -> float | None:
        return self.level if self.quantised else None


@dataclass
class Trace:
    g: np.ndarray  # measured G/G0
    truth: list[TruthPlateau]
    cycle_starts: np.ndarray  # index of the first sample of each cycle
    spec: TraceSpec
    g_true: np.ndarray = field(repr=False, default=None)  # noiseless intrinsic G/G0

    @property
    def r_series(self) -> float:
        return self.spec.r_series


SCENARIOS: dict[str, TraceSpec] = {
    "clean": TraceSpec(white=0.02),
    "realistic": TraceSpec(
        white=0.03, flicker=0.005, rtn_fraction=0.3, rtn_amplitude=0.15, drift=0.03,
        r_series=200.0, p_off_grid=0.10, p_ramp=0.30,
    ),
    "hard": TraceSpec(
        white=0.10, flicker=0.01, rtn_fraction=0.4, rtn_amplitude=0.25, drift=0.06,
        r_series=400.0, p_off_grid=0.15, p_ramp=0.40, spike_rate=1e-3,
    ),
}


def scenario(name: str, **overrides) -> TraceSpec:
    """A named scenario with some fields overridden (e.g. n_cycles, seed)."""
    return replace(SCENARIOS[name], **overrides)


def _level_walk(rng: np.random.Generator, n_plateaus: int, spec: TraceSpec) -> np.ndarray:
    """Half-quantum indices: up for the SET half, down for the RESET half, no repeats."""
    q = np.empty(n_plateaus, dtype=int)
    q[0] = rng.integers(1, 5)
    turn = n_plateaus // 2
    for k in range(1, n_plateaus):
        direction = 1 if k <= turn else -1
        if rng.random() < spec.p_reversal:
            direction = -direction
        step = int(rng.choice(JUMPS))
        nxt = q[k - 1] + direction * step
        if nxt < 1 or nxt > spec.max_half_quanta:
            nxt = q[k - 1] - direction * step
        q[k] = int(np.clip(nxt, 1, spec.max_half_quanta))
        if q[k] == q[k - 1]:
            q[k] = q[k - 1] + (1 if q[k - 1] < spec.max_half_quanta else -1)
    return q


def _flicker(rng: np.random.Generator, n: int, n_lorentzians: int = 10) -> np.ndarray:
    """Unit-variance 1/f-like noise: a sum of AR(1) processes with log-uniform corner times."""
    taus = np.logspace(0.3, np.log10(max(n, 10)), n_lorentzians)
    out = np.zeros(n)
    for tau in taus:
        a = np.exp(-1.0 / tau)
        e = rng.normal(0.0, np.sqrt(1 - a * a), n)
        x = lfilter([1.0], [1.0, -a], e)
        out += x
    return out / np.sqrt(n_lorentzians)


def _telegraph(rng: np.random.Generator, n: int, mean_dwell: float, duty: float) -> np.ndarray:
    """0/1 telegraph signal, in the excited state a fraction ``duty`` of the time."""
    up, down = mean_dwell * duty / 0.5, mean_dwell * (1 - duty) / 0.5
    n_pairs = int(n / (up + down)) * 2 + 4
    d_up = rng.geometric(1 / max(up, 1.0), n_pairs)
    d_down = rng.geometric(1 / max(down, 1.0), n_pairs)
    durations = np.column_stack([d_down, d_up]).ravel()
    states = np.tile([0, 1], n_pairs)
    while durations.sum() < n:  # rare: extend the draw
        durations = np.concatenate([durations, durations])
        states = np.concatenate([states, states])
    return np.repeat(states, durations)[:n].astype(float)


def make_trace(spec: TraceSpec) -> Trace:
    """Build the trace of ``spec`` (deterministic in spec.seed)."""
    rng = np.random.default_rng(spec.seed)
    pieces: list[np.ndarray] = []
    noise_pieces: list[np.ndarray] = []
    truth: list[TruthPlateau] = []
    cycle_starts = []
    pos = 0
    for cycle in range(spec.n_cycles):
        cycle_starts.append(pos)
        n_plat = int(rng.integers(spec.plateaus_per_cycle[0], spec.plateaus_per_cycle[1] + 1))
        halves = _level_walk(rng, n_plat, spec)
        prev_level = None
        for k, q in enumerate(halves):
            level = q / 2.0
            quantised = True
            if rng.random() < spec.p_off_grid:
                level += rng.choice([-1, 1]) * rng.uniform(*spec.off_grid_offset)
                level = max(level, 0.2)
                quantised = False
            if prev_level is not None and rng.random() < spec.p_ramp:
                length = int(rng.integers(spec.ramp_length[0], spec.ramp_length[1] + 1))
                ramp = np.linspace(prev_level, level, length + 2)[1:-1]
                pieces.append(ramp)
                noise_pieces.append(np.zeros(length))
                pos += length
            dwell = max(spec.dwell_min, int(round(rng.lognormal(np.log(spec.dwell_median), spec.dwell_sigma_ln))))
            pieces.append(np.full(dwell, level))
            # Intrinsic per-plateau disturbances: centred linear drift and telegraph noise.
            extra = np.zeros(dwell)
            if spec.drift > 0:
                extra += rng.normal(0.0, spec.drift) * (np.arange(dwell) / max(dwell - 1, 1) - 0.5)
            if spec.rtn_fraction > 0 and rng.random() < spec.rtn_fraction:
                amp = spec.rtn_amplitude * rng.choice([-1, 1])
                tele = _telegraph(rng, dwell, rng.uniform(*spec.rtn_dwell), rng.uniform(*spec.rtn_duty))
                extra += amp * tele
            noise_pieces.append(extra)
            truth.append(TruthPlateau(pos, pos + dwell, float(level), quantised, cycle))
            pos += dwell
            prev_level = level
    g_true = np.concatenate(pieces)
    g_int = g_true + np.concatenate(noise_pieces)
    n = g_true.size
    if spec.flicker > 0:
        g_int = g_int + spec.flicker * g_true * _flicker(rng, n)
    g_int = np.maximum(g_int, 0.0)
    g = rs.uncorrect(g_int, spec.r_series)
    g = g + rng.normal(0.0, spec.white, n)
    if spec.spike_rate > 0:
        hits = rng.random(n) < spec.spike_rate
        g[hits] += spec.spike_amplitude * rng.choice([-1.0, 1.0], hits.sum())
    return Trace(g=g, truth=truth, cycle_starts=np.asarray(cycle_starts), spec=spec, g_true=g_true)


def pulse_train(
    n_pulses: int = 500,
    *,
    seed: int = 0,
    start_level: float = 12.0,
    p_step: float = 0.04,
    white: float = 0.03,
    r_series: float = 200.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-pulse G/G0 of a RESET train: a staircase down in half-quanta (one sample per pulse).

    Returns (measured G/G0 per pulse, true intrinsic level per pulse).
    """
    rng = np.random.default_rng(seed)
    steps = (rng.random(n_pulses) < p_step) * rng.choice([1, 1, 1, 2], n_pulses)
    steps[0] = 0
    q = np.maximum(int(round(2 * start_level)) - np.cumsum(steps), 1)
    level = q / 2.0
    g = rs.uncorrect(level, r_series) + rng.normal(0.0, white, n_pulses)
    return g, level


def voltage_sweep_trace(spec: TraceSpec, *, v_max: float = 3.0, sigma_i: float = 2e-7) -> tuple[Trace, np.ndarray]:
    """A trace re-timed onto a 0 → v_max → 0 bias ramp per cycle, with G noise σ_I/|V|.

    Returns the trace (g already includes the heteroscedastic noise, which replaces
    ``spec.white``) and the bias V per sample.
    """
    base = make_trace(replace(spec, white=0.0))
    rng = np.random.default_rng(spec.seed + 7)
    v = np.empty_like(base.g)
    bounds = list(base.cycle_starts) + [base.g.size]
    for a, b in zip(bounds[:-1], bounds[1:]):
        n = b - a
        v[a:b] = v_max * (1.0 - np.abs(np.linspace(-1.0, 1.0, n)))
    v = np.maximum(v, 1e-3)
    sigma_g = sigma_i / v / G0
    g = base.g + rng.normal(0.0, 1.0, v.size) * sigma_g
    return Trace(g=g, truth=base.truth, cycle_starts=base.cycle_starts, spec=spec, g_true=base.g_true), v


# ----- field families: what traces from other generators and real files look like -----------
# R_s unknown and different in every trace (0-600 ohm), levels up to ~20 G0, one long record
# without cycle marks or several cycles, staircases of 1-3 half-quanta per step up and down
# with short or no ramps, geometric dwell times, white noise up to 0.15 G0, spikes, drift
# inside plateaus, sub-quantum telegraph noise, ~15 % off-grid plateaus.


@dataclass(frozen=True)
class FieldSpec:
    """One field trace; ranges are drawn per trace from the seed (r_series None: drawn)."""

    seed: int = 0
    n_samples: int | tuple[int, int] = (6000, 30000)  # drawn per trace when a range
    cycles: bool = False  # False: one long record, no cycle marks
    r_series: float | None = None
    r_series_range: tuple[float, float] = (0.0, 600.0)  # ohm
    top_level: tuple[float, float] = (6.0, 20.0)  # G0: highest level of the trace (or cycle)
    steps: tuple[int, ...] = (1, 1, 2, 3)  # half-quanta per step
    p_turn: float = 0.2  # a long record's staircase turns round at a step with this chance
    dwell_mean: tuple[float, float] = (100.0, 200.0)  # samples, geometric dwell
    p_ramp: float = 0.3
    ramp_length: tuple[int, int] = (1, 5)
    white: tuple[float, float] = (0.02, 0.04)  # G0, drawn per trace
    spike_rate: float = 0.0
    spike_amplitude: tuple[float, float] = (0.5, 3.0)  # G0
    drift: float = 0.0  # G0, sd of the change across one plateau
    rtn_fraction: float = 0.0
    rtn_amplitude: tuple[float, float] = (0.05, 0.3)  # G0, sub-quantum
    p_off_grid: float = 0.15
    flicker: float = 0.0


FIELD_SCENARIOS: dict[str, FieldSpec] = {
    "easy": FieldSpec(white=(0.02, 0.04), p_off_grid=0.10, p_ramp=0.1),
    "realistic": FieldSpec(white=(0.03, 0.06), spike_rate=5e-4, drift=0.03, rtn_fraction=0.25),
    "noisy": FieldSpec(white=(0.10, 0.15), spike_rate=1e-3, drift=0.03, rtn_fraction=0.2),
    "hard": FieldSpec(
        white=(0.05, 0.12), spike_rate=2e-3, drift=0.06, rtn_fraction=0.4, flicker=0.005,
        dwell_mean=(60.0, 200.0), p_ramp=0.4,
    ),
    "short": FieldSpec(white=(0.03, 0.05), dwell_mean=(40.0, 60.0), rtn_fraction=0.1, spike_rate=5e-4),
}


def field_scenario(name: str, **overrides) -> FieldSpec:
    """A named field family with some fields overridden (seed, n_samples, cycles, r_series)."""
    return replace(FIELD_SCENARIOS[name], **overrides)


def _staircase(rng: np.random.Generator, n_steps: int, spec: FieldSpec) -> tuple[np.ndarray, np.ndarray]:
    """Half-quantum indices of a staircase that runs up and down by 1-3 half-quanta a step,
    and where cycles begin (bool per step).

    With cycles, each cycle climbs from near 0.5 G0 to its own top and comes back down; a
    long record walks between 0.5 G0 and the trace's top, turning round at random.
    """
    top = int(round(2 * rng.uniform(*spec.top_level)))
    q = np.empty(n_steps, dtype=int)
    new_cycle = np.zeros(n_steps, dtype=bool)
    q[0], new_cycle[0], up = int(rng.integers(1, 4)), True, True
    cycle_top = int(rng.integers(min(6, top), top + 1))
    for k in range(1, n_steps):
        step = int(rng.choice(spec.steps))
        if spec.cycles:
            if up and q[k - 1] + step > cycle_top:
                up = False
            elif not up and q[k - 1] - step < 1:  # back at the bottom: the next cycle
                up, new_cycle[k] = True, True
                cycle_top = int(rng.integers(min(6, top), top + 1))
        elif rng.random() < spec.p_turn:
            up = not up
        nxt = q[k - 1] + (step if up else -step)
        if nxt < 1 or nxt > top:
            up = not up
            nxt = q[k - 1] + (step if up else -step)
        q[k] = int(np.clip(nxt, 1, top))
        if q[k] == q[k - 1]:
            q[k] = q[k - 1] + (1 if q[k - 1] < top else -1)
    return q, new_cycle


def make_field_trace(spec: FieldSpec) -> Trace:
    """Build a field trace (deterministic in spec.seed); the truth holds the R_s drawn."""
    rng = np.random.default_rng(spec.seed)
    r_series = float(rng.uniform(*spec.r_series_range)) if spec.r_series is None else float(spec.r_series)
    white = float(rng.uniform(*spec.white))
    dwell_mean = float(rng.uniform(*spec.dwell_mean))
    n_samples = spec.n_samples if np.ndim(spec.n_samples) == 0 else int(rng.integers(*spec.n_samples))
    n_steps = int(n_samples / dwell_mean * 1.3) + 4
    halves, new_cycle = _staircase(rng, n_steps, spec)
    pieces, extras, truth, cycle_starts = [], [], [], []
    pos, cycle, prev = 0, 0, None
    for k, q in enumerate(halves):
        if pos >= n_samples:
            break
        if spec.cycles and new_cycle[k]:
            cycle_starts.append(pos)
            cycle = len(cycle_starts) - 1
        level, quantised = q / 2.0, True
        if rng.random() < spec.p_off_grid:
            level = max(level + rng.choice([-1.0, 1.0]) * rng.uniform(0.15, 0.35), 0.2)
            quantised = False
        if prev is not None and rng.random() < spec.p_ramp:
            length = int(rng.integers(spec.ramp_length[0], spec.ramp_length[1] + 1))
            pieces.append(np.linspace(prev, level, length + 2)[1:-1])
            extras.append(np.zeros(length))
            pos += length
        dwell = int(rng.geometric(1.0 / dwell_mean))
        pieces.append(np.full(dwell, level))
        extra = np.zeros(dwell)
        if spec.drift > 0:
            extra += rng.normal(0.0, spec.drift) * (np.arange(dwell) / max(dwell - 1, 1) - 0.5)
        if spec.rtn_fraction > 0 and rng.random() < spec.rtn_fraction:
            amp = rng.uniform(*spec.rtn_amplitude) * rng.choice([-1.0, 1.0])
            extra += amp * _telegraph(rng, dwell, rng.uniform(3.0, 30.0), rng.uniform(0.1, 0.4))
        extras.append(extra)
        truth.append(TruthPlateau(pos, pos + dwell, float(level), quantised, cycle))
        pos += dwell
        prev = level
    g_true = np.concatenate(pieces)
    g_int = g_true + np.concatenate(extras)
    n = g_true.size
    if spec.flicker > 0:
        g_int = g_int + spec.flicker * g_true * _flicker(rng, n)
    g = rs.uncorrect(np.maximum(g_int, 0.0), r_series) + rng.normal(0.0, white, n)
    if spec.spike_rate > 0:
        hits = np.flatnonzero(rng.random(n) < spec.spike_rate)
        g[hits] += rng.uniform(*spec.spike_amplitude, hits.size) * rng.choice([-1.0, 1.0], hits.size)
    starts = np.asarray(cycle_starts if spec.cycles else [0], dtype=int)
    return Trace(g=g, truth=truth, cycle_starts=starts, spec=replace(spec, r_series=r_series), g_true=g_true)
