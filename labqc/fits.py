"""Potentiation/depression non-linearity fits (BiFeO3 pulse programming).

LTP:  G(P) = B·(1 - exp(-P/A)) + G_min
LTD:  G(P) = G_max - B·(1 - exp(-P/A))

P counts pulses from the start of each phase. The LTD form is the papers'
G_LTD = -B(1 - e^((P' - P_max)/A)) + G_max written with P = P_max - P', so both phases report
the same kind of A (the papers' 5.08 and 4.85); a small A is a strongly non-linear response.
B = (G_max - G_min)/(1 - e^(-P_max/A)) follows from the fitted curve.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SaturationFit:
    kind: str  # "LTP" or "LTD"
    a: float  # non-linearity A (pulses)
    sigma_a: float
    b: float  # amplitude B (units of G)
    sigma_b: float
    g_start: float  # G_min for LTP, G_max for LTD
    p_max: float
    rms: float  # residual RMS (units of G)

    def __call__(self, p) -> np.ndarray:
        p = np.asarray(p, dtype=float)
        rise = self.b * (1.0 - np.exp(-p / self.a))
        return self.g_start + rise if self.kind == "LTP" else self.g_start - rise

    @property
    def g_end(self) -> float:
        """G at the last pulse (G_max for LTP, G_min for LTD)."""
        return float(self(self.p_max))


def _ltp(p, a, b, g0):
    return b * (1.0 - np.exp(-p / a)) + g0


def _ltd(p, a, b, g0):
    return g0 - b * (1.0 - np.exp(-p / a))


def fit_saturation(pulses, g, kind: str = "LTP") -> SaturationFit:
    """Least-squares fit of the LTP or LTD curve; A and B with 1-sigma uncertainties."""
    kind = kind.upper()
    if kind not in ("LTP", "LTD"):
        raise ValueError(f"kind must be 'LTP' or 'LTD', got {kind!r}")
    p = np.asarray(pulses, dtype=float).ravel()
    y = np.asarray(g, dtype=float).ravel()
    if p.shape != y.shape:
        raise ValueError("pulse numbers and conductances must have the same length")
    ok = np.isfinite(p) & np.isfinite(y)
    p, y = p[ok], y[ok]
    if p.size < 4:
        raise ValueError("need at least 4 pulses to fit A, B and the start level")
    order = np.argsort(p)
    p, y = p[order], y[order]
    span = float(p.max() - p.min()) or 1.0
    g_first, g_last = float(y[: max(1, p.size // 10)].mean()), float(y[-max(1, p.size // 10):].mean())
    amp = abs(g_last - g_first) or float(np.ptp(y)) or 1.0
    model = _ltp if kind == "LTP" else _ltd
    from scipy.optimize import curve_fit  # here: importing SciPy's optimizer costs every
    # process that imports the procedures (the dashboard among them) ~35 MB resident

    # Start from a few A values and keep the best: the likelihood is flat along A·B for
    # nearly linear data, and a single start can stop on that ridge.
    best = None
    for a0 in (span / 10, span / 3, span):
        try:
            popt, pcov = curve_fit(
                model, p, y, p0=(a0, amp, g_first),
                bounds=([1e-3 * span, 0.0, -np.inf], [1e3 * span, np.inf, np.inf]), maxfev=5000,
            )
        except (RuntimeError, ValueError):
            continue
        rms = float(np.sqrt(np.mean((model(p, *popt) - y) ** 2)))
        if best is None or rms < best[2]:
            best = (popt, pcov, rms)
    if best is None:
        raise ValueError("the saturation fit did not converge")
    popt, pcov, rms = best
    err = np.sqrt(np.clip(np.diag(pcov), 0.0, np.inf)) if np.all(np.isfinite(pcov)) else np.full(3, np.inf)
    return SaturationFit(
        kind=kind, a=float(popt[0]), sigma_a=float(err[0]), b=float(popt[1]), sigma_b=float(err[1]),
        g_start=float(popt[2]), p_max=float(p.max()), rms=rms,
    )


def fit_ltp(pulses, g) -> SaturationFit:
    return fit_saturation(pulses, g, "LTP")


def fit_ltd(pulses, g) -> SaturationFit:
    return fit_saturation(pulses, g, "LTD")


def fit_potentiation_depression(pulse, g, phase) -> dict[str, SaturationFit | None]:
    """The non-linearity fits of a potentiation/depression train from its reads: LTP on
    the reads of phase 1, LTD on those of phase 2 (``phase``: the Cycle column), P counting
    1, 2, ... from each phase's first pulse. A phase with fewer than 4 finite reads, or
    whose fit does not converge, gets None."""
    pulse = np.asarray(pulse, dtype=float).ravel()
    g = np.asarray(g, dtype=float).ravel()
    phase = np.asarray(phase).ravel()
    out: dict[str, SaturationFit | None] = {}
    for kind, which in (("LTP", 1), ("LTD", 2)):
        sel = (phase == which) & np.isfinite(pulse) & np.isfinite(g)
        out[kind] = None
        if sel.sum() >= 4:
            p = pulse[sel] - pulse[sel].min() + 1.0
            try:
                out[kind] = fit_saturation(p, g[sel], kind)
            except ValueError:
                pass
    return out


def ltp_ltd_record(fits: dict[str, SaturationFit | None]) -> dict[str, float]:
    """a_ltp, a_ltd and their 1-sigma uncertainties (pulses; NaN for a phase not fitted),
    as the summary file stores them."""
    rec = {}
    for kind in ("LTP", "LTD"):
        f = fits.get(kind)
        rec[f"a_{kind.lower()}"] = f.a if f is not None else float("nan")
        rec[f"a_{kind.lower()}_sigma"] = f.sigma_a if f is not None else float("nan")
    return rec


def ltp_ltd_text(fits: dict[str, SaturationFit | None]) -> str:
    """One line: "A_LTP = 5.1 ± 0.4, A_LTD = 4.9 ± 0.5 pulses" (what was fitted)."""
    parts = [f"A_{kind} = {f.a:.3g} ± {f.sigma_a:.2g}" for kind, f in fits.items() if f is not None]
    return (", ".join(parts) + " pulses") if parts else "no LTP/LTD fit (fewer than 4 reads per phase)"
