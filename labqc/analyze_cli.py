"""`labqc analyze FILE`: offline plateau analysis of a results file, with PNG figures.

Reads a PyMeasure-style CSV ('#' header lines; columns such as "G/G0", "Voltage (V)",
"Current (A)", "Time (s)", "Cycle", "Pulse", "Compliance"), runs the offline detector
(per cycle when there is a Cycle column), prints a summary and writes figures next to the
file: <stem>_histogram.png, <stem>_trace.png, with a Pulse column <stem>_pulses.png and,
from 10 cycles on, the 2-D correlation histogram <stem>_corr2d.png.
A voltage sweep (a ramped Voltage column through zero) is segmented with the V²-weighted cost
on the current (labqc.sweep_segments), so the near-zero-bias samples need no mask there.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np

from labqc.figures import correlation_figure, save_figure
from labqc.levels import correct_g0
from labqc.units import G0

if TYPE_CHECKING:  # scipy, ruptures and matplotlib load only when the command runs
    from labqc import views
    from labqc.plateaus import PlateauAnalysis

G_COL, G_S_COL, V_COL, I_COL = "G/G0", "G (S)", "Voltage (V)", "Current (A)"
T_COL, CYCLE_COL, PULSE_COL, COMPLIANCE_COL = "Time (s)", "Cycle", "Pulse", "Compliance"
SEGMENT_COL = "Segment"  # e.g. "pulse", "read", "reset": which part of a protocol a row is


class BadFile(Exception):
    """The file cannot be analysed; the message is one sentence for the user."""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "analyze", help="detect conductance plateaus in a results file and draw its views",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    p.add_argument("file", type=Path, nargs="?",
                   help="results file (CSV with '#' header lines); or none, and catalog filters to pool runs")
    p.add_argument("--r-series", type=float, default=None, metavar="OHM",
                   help="series resistance to remove (default: estimate it by the comb fit)")
    p.add_argument("--v-min", type=float, default=0.02, metavar="V",
                   help="ignore samples with |V| below this, where G = I/V is undefined (default 0.02); "
                        "in a voltage sweep they still enter the V²-weighted segmentation, not the levels")
    p.add_argument("--no-figures", action="store_true", help="print the summary only")
    from labqc.runs_cli import add_catalog_option, add_filters  # pooled runs (labqc/pooled_cli.py)

    add_catalog_option(p)
    add_filters(p)
    p.set_defaults(func=run)


def load(path: Path, v_min: float = 0.02) -> dict[str, np.ndarray]:
    """Columns of a results file as arrays; G/G0 is derived from G (S) or V and I if needed.

    Samples at compliance or with |V| < v_min get G/G0 = NaN (not a device property there);
    with a voltage column, "g_unmasked" keeps the low-|V| samples.
    """
    import pandas as pd

    if not path.is_file():
        raise BadFile(f"{path} does not exist or is not a file.")
    try:
        df = pd.read_csv(path, comment="#", skipinitialspace=True)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise BadFile(f"{path} is not a readable results CSV ({type(exc).__name__}).") from exc
    df.columns = [str(c).strip() for c in df.columns]
    cols = {c: pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float) for c in df.columns}
    if SEGMENT_COL in df.columns:
        cols[SEGMENT_COL] = df[SEGMENT_COL].astype(str).str.strip().str.lower().to_numpy()
    if G_COL in cols:
        g = cols[G_COL].copy()
    elif G_S_COL in cols:
        g = cols[G_S_COL] / G0
    elif V_COL in cols and I_COL in cols:
        with np.errstate(divide="ignore", invalid="ignore"):
            g = cols[I_COL] / cols[V_COL] / G0
    else:
        raise BadFile(f"{path} has no '{G_COL}' column (nor '{G_S_COL}', nor voltage and current).")
    if COMPLIANCE_COL in df.columns:
        at = df[COMPLIANCE_COL].astype(str).str.strip().str.lower().isin(["1", "1.0", "true", "yes"])
        g[at.to_numpy()] = np.nan
    if V_COL in cols:
        # The voltage-sweep analysis weighs the near-zero-bias samples itself (by V²).
        cols["g_unmasked"] = g.copy()
        g[np.abs(cols[V_COL]) < v_min] = np.nan
    if not np.isfinite(g).any():
        raise BadFile(f"{path} holds no finite G/G0 samples.")
    cols["g"] = g
    return cols


def is_voltage_sweep(data: dict, v_min: float = 0.02) -> bool:
    """Whether the file is a voltage sweep: a ramped Voltage column (small steps against its
    range) that comes back to or through zero repeatedly, and no pulse train (a Pulse
    column with two pulse numbers or more; sweeps write -1 there)."""
    if V_COL not in data:
        return False
    if PULSE_COL in data:
        pulse = data[PULSE_COL]
        if np.unique(pulse[np.isfinite(pulse) & (pulse >= 0)]).size >= 2:
            return False
    v = data[V_COL][np.isfinite(data[V_COL])]
    if v.size < 10:
        return False
    top = float(np.max(np.abs(v)))
    if top < 10 * max(v_min, 1e-9) or np.median(np.abs(np.diff(v))) > 0.05 * top:
        return False
    low = np.abs(v) < v_min
    entries = int(np.count_nonzero(low[1:] & ~low[:-1]))  # arrivals at V ~ 0
    s = np.sign(v[~low])
    crossings = int(np.count_nonzero(s[1:] != s[:-1]))  # jumps through the band
    return entries + crossings >= 2


def cycle_starts(cycle: np.ndarray) -> np.ndarray:
    c = np.nan_to_num(cycle, nan=-1.0)
    return np.flatnonzero(np.concatenate([[True], c[1:] != c[:-1]]))


def run(args: argparse.Namespace) -> int:
    # Imported here, not at module import: `labqc --help` imports every registrar, and
    # scipy.signal alone costs about a second.
    from labqc.plateaus import analyze
    from labqc.runs_cli import has_filters

    if args.file is None or has_filters(args):
        if args.file is not None:
            print("labqc analyze: give a file or catalog filters (--device, --procedure ...), not both",
                  file=sys.stderr)
            return 2
        from labqc.pooled_cli import run_pooled

        return run_pooled(args)
    try:
        data = load(args.file, args.v_min)
        g = data["g"]
        starts = cycle_starts(data[CYCLE_COL]) if CYCLE_COL in data else None
        if is_voltage_sweep(data, args.v_min):
            # V²-weighted segmentation on the whole sweep; |V| < v_min only leaves the levels.
            result = analyze(data["g_unmasked"], r_series=args.r_series, cycle_starts=starts,
                             v=data[V_COL], v_min=args.v_min)
        else:
            result = analyze(g, r_series=args.r_series, cycle_starts=starts)
    except BadFile as exc:
        print(f"labqc analyze: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"labqc analyze: {args.file}: {exc}.", file=sys.stderr)
        return 2
    print(summary(args.file, data, result))
    if not args.no_figures:
        for path in write_figures(args.file, data, result):
            print(f"wrote {path}")
    return 0


def summary(path: Path, data: dict, result: PlateauAnalysis) -> str:
    from labqc import views

    g = data["g"]
    finite = np.isfinite(g)
    lines = [f"{path}: {g.size} samples ({int(finite.sum())} usable)"]
    if CYCLE_COL in data:
        lines.append(f"cycles: {len(np.unique(data[CYCLE_COL][np.isfinite(data[CYCLE_COL])]))}")
    how = "comb fit" if result.r_series_estimated else "given"
    lo, hi = result.r_series_interval
    lines.append(
        f"series resistance: {result.r_series:.1f} ± {result.sigma_r_series:.1f} ohm ({how}"
        + (f"; 95 % interval {lo:.1f}..{hi:.1f} ohm" if result.r_series_estimated and np.isfinite(lo + hi) else "")
        + f"); levels above {result.unassignable_above:.1f} G0 unassignable"
    )
    if result.r_series_ambiguous:
        lines.append(f"series resistance ambiguous: {result.r_series_alternative:.1f} ohm explains the plateaus "
                     "about as well; levels that depend on the choice are left unassigned")
    if result.reason:
        lines.append(f"no levels: {result.reason}")
    lines.append(f"white-noise scale: {result.noise_sigma:.3f} G0")
    pl = result.plateaus
    quantised = [p for p in pl if p.quantum is not None]
    lines.append(
        f"plateaus: {len(pl)} ({len(quantised)} on the quantum grid, "
        f"{sum(1 for p in pl if p.quantum is None and p.assignable)} off-grid, "
        f"{sum(1 for p in pl if not p.assignable)} unassignable); "
        f"telegraph excursions: {len(result.excursions)}"
    )
    if quantised:
        lines.append("  level (G0)  plateaus  samples  mean confidence")
        count = Counter(p.quantum for p in quantised)
        for q in sorted(count):
            these = [p for p in quantised if p.quantum == q]
            lines.append(
                f"  {q:9.1f}  {count[q]:8d}  {sum(p.duration for p in these):7d}  "
                f"{np.mean([p.confidence for p in these]):15.2f}"
            )
    for label, values in (("raw", g), ("corrected", correct_g0(g, result.r_series))):
        counts, edges = views.histogram(values)
        peaks = views.histogram_peaks(counts, edges, max_peaks=8)
        text = ", ".join(f"{p.position:.2f}" for p in sorted(peaks, key=lambda p: p.position))
        lines.append(f"histogram peaks ({label}, G0): {text or 'none'}")
    ps = _pulse_view(data, result.r_series)
    if ps is not None:
        text = (f"pulses: {ps.ratio.size}; I_N/I_1 = {ps.ratio[-1]:.3f}; "
                f"lag spread {100 * views.lag_spread(ps.mean_top):.1f} %")
        if np.isfinite(ps.g_read).any():
            read = ps.g_read[np.isfinite(ps.g_read)]
            text += f"; G/G0 at the read {read[0]:.2f} -> {read[-1]:.2f} (corrected)"
        lines.append(text)
        fit = _ltp_ltd_fit(path, data, result.r_series)
        if fit is not None:
            from labqc.fits import ltp_ltd_text

            lines.append(f"LTP/LTD non-linearity (G at the read, corrected): {ltp_ltd_text(fit)}")
    return "\n".join(lines)


def _ltp_ltd_fit(path: Path, data: dict, r_series: float) -> dict | None:
    """The potentiation/depression fit (labqc.fits) of a PulseTrain file written in mode
    ltp-ltd: its reads, phase 1 LTP and phase 2 LTD; None for any other file."""
    from labqc.fits import fit_potentiation_depression
    from labqc.results import read_header

    try:
        mode = str(read_header(path).get("parameters", {}).get("Mode", "")).strip()
    except (OSError, ValueError):
        return None
    segment = data.get(SEGMENT_COL)
    if mode != "ltp-ltd" or segment is None or CYCLE_COL not in data or PULSE_COL not in data:
        return None
    reading = (segment == "read") & np.isfinite(data["g"])
    return fit_potentiation_depression(data[PULSE_COL][reading], correct_g0(data["g"][reading], r_series),
                                       data[CYCLE_COL][reading])


def _pulse_view(data: dict, r_series: float = 0.0) -> views.PulseStats | None:
    """Per-pulse statistics when the file holds a pulse train (at least two pulse numbers).

    Rows with a negative pulse number are not part of a train. With a Segment column the
    top of each pulse is taken from its "pulse" rows and G/G0 at the read from its "read"
    rows; without one, every row of a pulse number counts as the pulse.
    """
    from labqc import views

    if PULSE_COL not in data:
        return None
    pulse = data[PULSE_COL]
    ok = np.isfinite(pulse) & (pulse >= 0)
    if np.unique(pulse[ok]).size < 2:
        return None
    segment = data.get(SEGMENT_COL)
    on_pulse = ok
    if segment is not None and (segment == "pulse").any():
        on_pulse = ok & (segment == "pulse")
    # Without a current column, the per-pulse statistic is taken on G/G0 itself.
    values = data[I_COL] if I_COL in data else np.nan_to_num(data["g"], nan=0.0)
    ps = views.pulse_statistics(pulse[on_pulse], values[on_pulse])
    if segment is not None and (segment == "read").any():
        reading = ok & (segment == "read") & np.isfinite(data["g"])
        g_corr = correct_g0(data["g"][reading], r_series)
        labels = pulse[reading]
        g_read = np.array([np.nanmedian(g_corr[labels == p]) if (labels == p).any() else np.nan for p in ps.pulse])
        ps = replace(ps, g_read=g_read)
    return ps


def write_figures(path: Path, data: dict, result: PlateauAnalysis) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from labqc import views

    stem = path.with_suffix("")
    out = []
    g = data["g"]
    g_corr = correct_g0(g, result.r_series)
    hi = views.display_max(g_corr)

    # Histogram, raw and corrected, with the half-quantum grid.
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for values, label in ((g, "measured"), (g_corr, f"R_s-corrected ({result.r_series:.0f} Ω)")):
        counts, edges = views.histogram(values, range=(0.0, hi))
        ax.stairs(counts, edges, label=label)
    _grid(ax, hi, vertical=True)
    ax.set_xlabel("G/G0 (G0 = 77.48 µS)")
    ax.set_ylabel("counts per 0.05 G0 bin")
    ax.legend()
    out.append(save_figure(fig, Path(f"{stem}_histogram.png")))

    # Trace against time (or sample index) with plateaus, and against V when available.
    panels = 2 if V_COL in data else 1
    fig, axes = plt.subplots(panels, 1, figsize=(10, 4 * panels), squeeze=False)
    ax = axes[0, 0]
    if T_COL in data and np.isfinite(data[T_COL]).any():
        x, xlabel = data[T_COL], "time (s)"
    else:
        x, xlabel = np.arange(g.size, dtype=float), "sample"
    ax.plot(x, g_corr, lw=0.6, color="0.4", label="G/G0 (corrected)")
    for p in result.plateaus:
        color = "tab:green" if p.quantum is not None else "tab:orange"
        ax.hlines(p.level, x[p.start], x[p.stop - 1], color=color, lw=2)
    _grid(ax, hi, vertical=False)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("G/G0")
    ax.set_ylim(-0.2, hi)
    ax.set_title("plateaus: green on the quantum grid, orange off-grid or unassignable")
    if panels == 2:
        ax = axes[1, 0]
        ax.plot(data[V_COL], g_corr, ".", ms=1.5, color="tab:blue")
        _grid(ax, hi, vertical=False)
        ax.set_xlabel("voltage (V)")
        ax.set_ylabel("G/G0")
        ax.set_ylim(-0.2, hi)
    out.append(save_figure(fig, Path(f"{stem}_trace.png")))

    ps = _pulse_view(data, result.r_series)
    if ps is not None:
        fig = plt.figure(figsize=(13, 4))
        ax1 = fig.add_subplot(1, 3, 1)
        ax1.plot(ps.pulse, ps.ratio, ".-", ms=3)
        ax1.set_xlabel("pulse number")
        ax1.set_ylabel("I_i/I_1")
        ax2 = fig.add_subplot(1, 3, 2)
        a, b = views.lag_pairs(ps.mean_top)
        ax2.plot(a, b, ".", ms=3)
        lim = [min(a.min(), b.min()), max(a.max(), b.max())]
        ax2.plot(lim, lim, "k--", lw=0.8)
        unit = "A" if I_COL in data else "G/G0"
        ax2.set_xlabel(f"I_i ({unit})")
        ax2.set_ylabel(f"I_i+1 ({unit})")
        ax3 = fig.add_subplot(1, 3, 3, projection="polar")
        r, theta = views.polar(ps.ratio)
        ax3.plot(theta, r, ".", ms=3)
        ax3.set_title("radius I_i/I_1, angle (i-1)·π")
        out.append(save_figure(fig, Path(f"{stem}_pulses.png")))

    corr = _correlation_view(data, result.r_series, hi)
    if corr is not None:
        fig = correlation_figure(corr.edges, corr.c, f"2-D correlation histogram, {corr.n_traces} cycles, "
                                 f"R_s-corrected ({result.r_series:.0f} Ω)\ngrey: bins that do not vary between cycles")
        out.append(save_figure(fig, Path(f"{stem}_corr2d.png")))
    return out


# Below this many cycles a correlation between cycles is mostly noise (two cycles give ±1
# everywhere); Makk et al. used 116 and the 20-cycle default runs are the useful minimum.
MIN_CORRELATION_CYCLES = 10


def _correlation_view(data: dict, r_series: float, g_max: float) -> views.CorrelationHistogram | None:
    """The 2-D correlation histogram over the cycles, when the file has at least
    MIN_CORRELATION_CYCLES cycles with samples."""
    from labqc import views

    if CYCLE_COL not in data:
        return None
    starts = cycle_starts(data[CYCLE_COL])
    if starts.size < MIN_CORRELATION_CYCLES:
        return None
    try:
        corr = views.correlation_histogram(data["g"], starts, g_max=g_max, r_series=r_series)
    except ValueError:  # fewer than two cycles hold a finite sample
        return None
    return corr if corr.n_traces >= MIN_CORRELATION_CYCLES else None


def _grid(ax, hi: float, *, vertical: bool) -> None:
    for k in range(1, int(2 * hi) + 1):
        style = dict(color="0.8" if k % 2 else "0.6", lw=0.6, ls=":" if k % 2 else "-", zorder=0)
        (ax.axvline if vertical else ax.axhline)(k / 2, **style)


