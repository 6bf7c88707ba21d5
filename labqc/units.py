"""The conductance quantum and the conversions every layer shares."""
from __future__ import annotations

import numpy as np

#: Elementary charge and Planck constant, exact in the SI since 2019.
E_CHARGE = 1.602176634e-19  # C
PLANCK = 6.62607015e-34  # J s
#: G0 = 2e^2/h, the conductance quantum, in siemens (7.748091729e-5 S).
G0 = 2 * E_CHARGE**2 / PLANCK
#: 1/G0 in ohms (12 906.4037 ohm).
R0 = 1 / G0


def conductance(v: np.ndarray | float, i: np.ndarray | float, *, v_min: float = 0.0) -> np.ndarray:
    """G = I/V in siemens; NaN where |V| <= v_min (G is undefined at zero bias)."""
    v = np.asarray(v, dtype=float)
    i = np.asarray(i, dtype=float)
    out = np.full(np.broadcast(v, i).shape, np.nan)
    ok = np.abs(v) > max(v_min, 0.0)
    np.divide(i, v, out=out, where=ok)
    return out


def to_g0(g_siemens: np.ndarray | float) -> np.ndarray:
    """Conductance in units of G0."""
    return np.asarray(g_siemens, dtype=float) / G0


def correct_series(g_siemens: np.ndarray | float, r_series: float) -> np.ndarray:
    """Remove a series resistance: G_corr = 1/(1/G - R_s), in siemens.

    NaN where the correction is undefined (1/G <= R_s, i.e. the measured resistance is
    not larger than the series resistance alone).
    """
    from labqc import rs  # the one formula (rs imports G0 from here)

    return rs.correct(np.asarray(g_siemens, dtype=float), r_series, unit=1.0)
