"""One filament state of the simulated memristor, tabulated: its I–V (Miranda–Suñé channels,
the tunnelling gap, R_s) and its event rates against the filament voltage, and the
operating point of any source level and compliance read from that table. Pure functions
of the parameters and the state (N open channels, partial-channel progress x); the
kinetics that move between states are in instruments/sim/memristor.py.
"""
from __future__ import annotations

import math
from bisect import bisect_right
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from labqc.instruments.sim.memristor_params import MemristorParams
from labqc.units import G0

K_B = 8.617333262e-5  # Boltzmann constant, eV/K
RATE_MAX = 1e9  # /s: caps runaway rates so cumulative hazards stay finite
SINH_ARG_MAX = 200.0
T_MAX = 1500.0  # K: Joule heating saturates (the filament would melt or break first)

#: Filament voltages at which each state's I–V and rates are tabulated: 5 mV apart
#: within ±5 V (where QPC features, ~1/α wide, and the rates live), coarser beyond.
V_GRID = np.concatenate([np.linspace(-50.0, -5.25, 180), np.linspace(-5.0, 5.0, 2001),
                         np.linspace(5.25, 50.0, 180)])


@dataclass(frozen=True)
class StateTable:
    v_f: np.ndarray  # filament voltage, V (the grid)
    i: np.ndarray  # filament current, A
    v_term: np.ndarray  # terminal voltage V_f + R_s*I, V
    drive_rate: np.ndarray  # growth (V_f > 0) or rupture (V_f < 0) rate, 1/s
    total_rate: np.ndarray  # drive_rate + thermal dissolution rate, 1/s
    lists: tuple  # v_term, i, total_rate, drive_rate as Python lists, for one step at a time


def interp1(x: float, xs: list, ys: list) -> float:
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


def _softplus(z: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, z)


def channel_transmission(v: np.ndarray, phi: float, alpha: float, beta: float) -> np.ndarray:
    """Miranda–Suñé: I/(G0·V) of one channel with barrier ``phi`` (eV) at ``v`` volts."""
    small = np.abs(v) < 1e-6
    vs = np.where(small, 1e-6, v)
    i_over_g0 = vs + (_softplus(alpha * (phi - beta * vs)) - _softplus(alpha * (phi + (1 - beta) * vs))) / alpha
    low_bias = 1.0 / (1.0 + math.exp(min(alpha * phi, 700.0)))
    return np.where(small, low_bias, i_over_g0 / vs)


def g_filament(p: MemristorParams, n: int, x: float, offset: float, v_f: np.ndarray) -> np.ndarray:
    """Filament conductance (S) at filament voltage ``v_f`` with ``n`` open channels, a
    partial channel at progress ``x`` and ``offset`` (G0) for this level's atomic arrangement."""
    g = np.full(v_f.shape, p.g_gap)
    if n:
        g += G0 * n * channel_transmission(v_f, -p.phi_open, p.alpha, p.beta)
        g += G0 * offset
    if n or x:
        # The channel being built; with N = 0 and x = 0 there is only the gap.
        g += G0 * channel_transmission(v_f, p.phi_c * (1 - 2 * x), p.alpha, p.beta)
    return np.maximum(g, p.g_gap)


def growth_rate(p: MemristorParams, n: int, x: float, v: np.ndarray, kt: np.ndarray) -> np.ndarray:
    """Growth rate at filament voltage ``v`` (>= 0) before the N_max factor.

    Field-driven hopping, ν_g·e^(−E_a/kT)·sinh(q·V/kT), limited in series by the
    supply of atoms to the constriction (k_supply): 1/k = 1/k_hop + 1/k_supply.
    With a high-field channel (q_high > 0) the empty gap bridges only through it
    (no filament, no supply path; its own barrier e_bridge, as the field is
    concentrated in the gap), and it adds to the growth of a formed filament.
    """
    hop = p.nu_g * np.exp(-p.e_a / kt) * np.sinh(np.minimum(p.q_field * v / kt, SINH_ARG_MAX))
    if p.k_supply > 0:
        supply = p.k_supply * max(n, 1)  # atoms join at the rim, which grows with N
        hop = hop / (1.0 + hop / supply)
    if p.q_high <= 0:
        return hop
    bridging = n == 0 and x == 0
    barrier = p.e_bridge if bridging and p.e_bridge > 0 else p.e_high
    high = p.nu_g * np.exp(-barrier / kt) * np.sinh(np.minimum(p.q_high * v / kt, SINH_ARG_MAX))
    return high if bridging else hop + high


def dissolution_rate(p: MemristorParams, n: int, x: float, temp: np.ndarray | float) -> np.ndarray | float:
    """Thermal dissolution rate (1/s) at temperature ``temp``: none without a filament,
    thin filaments first."""
    if n == 0 and x == 0:
        return 0.0 * temp
    return p.nu_d * np.exp(-(p.e_d + n * p.de_atom) / (K_B * temp))


def state_table(p: MemristorParams, n: int, x: float, offset: float) -> StateTable:
    """I–V and rates of one state on a grid of filament voltages.

    The filament current I(V_f) is monotonic (each QPC channel's is), and so is the
    terminal voltage V_f + R_s·I, so the operating point for any source level and
    compliance is one interpolation instead of an iterative solve.
    """
    v_f = V_GRID
    g = g_filament(p, n, x, offset, v_f)
    i = v_f * g
    temp = np.minimum(p.t0 + p.r_th * np.abs(v_f * i), T_MAX)  # Joule heating
    kt = K_B * temp
    grow = growth_rate(p, n, x, np.abs(v_f), kt) * (1 - n / p.n_max)
    field_r = np.sinh(np.minimum(p.q_rupture * np.abs(v_f) / kt, SINH_ARG_MAX))
    rupt = p.nu_r * np.exp(-p.e_r / kt) * field_r * (n + x) ** p.rupture_order
    drive = np.where(v_f > 0, grow, rupt)
    drive = np.minimum(drive, RATE_MAX)
    total = drive + np.minimum(dissolution_rate(p, n, x, temp), RATE_MAX)
    v_term = v_f + p.r_s * i
    return StateTable(v_f=v_f, i=i, v_term=v_term, drive_rate=drive, total_rate=total,
                      lists=(v_term.tolist(), i.tolist(), total.tolist(), drive.tolist()))


def operating_point(tb: StateTable, source: str, levels: np.ndarray, compliance: float):
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


class LastUsed(OrderedDict):
    """A dict that keeps only its ``size`` most recently used entries (per-state caches of
    the memristor: a run that keeps visiting new states must not grow memory with them)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def get(self, key, default=None):
        if key in self:
            self.move_to_end(key)
            return self[key]
        return default

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        if len(self) > self.size:
            self.popitem(last=False)
