"""The simulated memristor's parameters (:class:`MemristorParams`, checked on
construction), its device-to-device draw and the state summary it reports. The physics
they enter is described in instruments/sim/memristor.py.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np


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


def draw_device(p: MemristorParams, rng: np.random.Generator) -> MemristorParams:
    """Device-to-device variability: this device's own copy of the parameters."""
    ln = lambda: float(np.exp(p.d2d * rng.standard_normal()))  # noqa: E731
    jitter = lambda: float(1 + p.d2d_rs * rng.standard_normal())  # noqa: E731
    return replace(p, nu_g=p.nu_g * ln(), nu_r=p.nu_r * ln(), nu_d=p.nu_d * ln(),
                   r_s=p.r_s * max(jitter(), 0.2),
                   n_max=max(1, int(round(p.n_max * jitter()))))
