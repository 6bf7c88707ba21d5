"""`labqc analyze --device NW1 --device NW2 --procedure CurrentSweep`: the runs the catalog
filters select, pooled (labqc.pooled), as text and figures.

The first line is ``pooled N runs, M samples``, then one line per run used; then R_s per
device, the peaks of the raw and R_s-corrected 0.05 G0 histograms, plateaus per level with
their cycle-to-cycle and device-to-device spread, the 2-D correlation histogram's size, and
HRS/LRS (endurance) and retention per device. Figures go next to the catalog
(pooled-histogram.png, pooled-corr2d.png) unless --no-figures.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from labqc.catalog import CatalogError, catalog_path
from labqc.pooled import Pool, PooledResult
from labqc.quantity import format_quantity


def run_pooled(args: argparse.Namespace) -> int:
    from labqc.runs_cli import open_catalog, select

    try:
        with open_catalog(args) as cat:
            runs = select(cat, args)
    except CatalogError as exc:
        print(f"labqc analyze: {exc}", file=sys.stderr)
        return 2
    runs = [r for r in runs if r["status"] != "running"]
    if not runs:
        print("labqc analyze: no finished run in the catalog matches those filters "
              "(see `labqc runs list` with the same filters)", file=sys.stderr)
        return 2
    pool = Pool(v_min=args.v_min)
    for run in runs:
        pool.add(run)
    if not pool.used:
        print(f"labqc analyze: none of the {len(runs)} selected runs could be read; "
              f"first: {pool.skipped[0][1]}", file=sys.stderr)
        return 2
    result = pool.finish()
    print("\n".join(summary_lines(result, pool.skipped)))
    if not args.no_figures:
        folder = Path(catalog_path(args.catalog)).parent
        for path in write_figures(result, folder):
            print(f"wrote {path}")
    return 0


def summary_lines(result: PooledResult, skipped: list[tuple[dict, str]] = ()) -> list[str]:
    from labqc.views import histogram_peaks

    lines = [f"pooled {len(result.runs)} runs, {result.samples} samples"]
    for r in result.runs:
        lines.append(f"  run {r['id']:>5}  {r['device'] or '-':<8} {r['procedure']:<13} {r['status']:<8} "
                     f"{r['rows']:>8} rows  {r['path']}")
    for run, why in skipped:
        lines.append(f"  skipped run {run['id']}: {why}")
    if result.r_series:
        lines.append("series resistance per device (comb fit over all its plateaus): " + ", ".join(
            f"{d} {rs:.1f} ohm" + (f" ({result.r_series_note[d]})" if result.r_series_note.get(d) else "")
            for d, rs in result.r_series.items()))
    if result.raw.any():
        for label, counts in (("raw", result.raw), ("R_s-corrected", result.corrected)):
            peaks = histogram_peaks(counts, result.edges, max_peaks=8)
            text = ", ".join(f"{p.position:.2f}" for p in sorted(peaks, key=lambda p: p.position))
            lines.append(f"0.05 G0 histogram peaks ({label}, G0): {text or 'none'}")
    if result.levels:
        lines.append("plateaus per level (R_s-corrected, per-device R_s):")
        lines.append("  level (G0)  plateaus  devices  mean (G0)  cycle-to-cycle SD (G0)  device-to-device SD (G0)")
        for lv in result.levels:
            lines.append(f"  {lv.quantum:10.1f}  {lv.plateaus:8d}  {lv.devices:7d}  {lv.mean:9.3f}  "
                         f"{_num(lv.cycle_to_cycle):>22}  {_num(lv.device_to_device):>24}")
        for d, counts in result.per_device_levels.items():
            lines.append(f"  {d}: " + ", ".join(f"{q:g} G0 x{n}" for q, n in sorted(counts.items())))
    if result.corr is not None:
        lines.append(f"2-D correlation histogram: {result.cycles} cycles, 0..{result.corr_edges[-1]:g} G0")
    elif result.raw.any():
        lines.append("2-D correlation histogram: needs at least 10 cycles with samples")
    for d, s in result.hrs_lrs.items():
        lines.append(f"endurance {d}: " + (s["error"] if "error" in s else
                     f"HRS {s['HRS']:.3g} G0, LRS {s['LRS']:.3g} G0 (medians), window {format_quantity(s['window'], digits=3)}, "
                     f"{s['reads']} reads"))
    for d, s in result.retention.items():
        lines.append(f"retention {d}: {s['runs']} runs, G/G0 {s['start']:.3g} -> {s['end']:.3g} (medians), "
                     f"longest {s['longest_s']:.0f} s")
    return lines


def _num(x: float) -> str:
    return "-" if not np.isfinite(x) else f"{x:.3f}"


def write_figures(result: PooledResult, folder: Path) -> list[Path]:
    from labqc.figures import correlation_figure, save_figure
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    if result.raw.any():
        fig, ax = plt.subplots(figsize=(8, 4.5))
        top = result.corr_edges[-1] if result.corr_edges is not None else 10.0
        ax.stairs(result.raw, result.edges, label="measured")
        ax.stairs(result.corrected, result.edges, label="R_s-corrected (R_s per device)")
        for k in range(1, int(2 * top) + 1):
            ax.axvline(k / 2, color="0.8" if k % 2 else "0.6", lw=0.6, ls=":" if k % 2 else "-", zorder=0)
        ax.set_xlim(0, top)
        ax.set_xlabel("G/G0 (G0 = 77.48 µS)")
        ax.set_ylabel("counts per 0.05 G0 bin")
        ax.set_title(f"{len(result.runs)} runs, {len(result.r_series)} devices, {result.samples} samples",
                     fontsize=10)
        ax.legend()
        out.append(save_figure(fig, folder / "pooled-histogram.png"))
    if result.corr is not None:
        fig = correlation_figure(result.corr_edges, result.corr,
                                 f"2-D correlation histogram, {result.cycles} cycles pooled, R_s-corrected")
        out.append(save_figure(fig, folder / "pooled-corr2d.png"))
    return out


__all__ = ["run_pooled", "summary_lines", "write_figures"]
