"""Statistics pooled over many runs, read file by file with bounded memory.

    pool = Pool()
    for run in runs:                  # catalog rows: id, device, procedure, path
        pool.add(run)                 # reads one file, keeps only compact accumulators
    result = pool.finish()            # R_s per device, histograms, levels, correlation

What is kept per file is small and does not grow with its samples: a fine histogram of raw
G/G0 per device (FINE_BIN wide), per cycle the non-empty bins of a coarser histogram (for
the 2-D correlation histogram, which is by nature per cycle), and per plateau its raw level,
length and cycle (the offline detector runs on each file as `labqc analyze` does). Endurance
runs give their per-cycle reads, retention runs the start and end of their hold.

The series resistance is fitted per device from all its plateaus (labqc.series); the
R_s-corrected histogram maps each device's fine raw histogram through the correction and
shares every fine bin among the 0.05 G0 bins it overlaps (no comb artefact from rebinning).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from labqc.analyze_cli import (BadFile, CYCLE_COL, MIN_CORRELATION_CYCLES, SEGMENT_COL, V_COL, cycle_starts,
                               is_voltage_sweep, load)
from labqc.levels import assign_levels, correct_g0

BIN = 0.05  # G0, the bin of the published histograms
G_TOP = 25.0  # G0, top of the histograms (diffusive transport above)
FINE_BIN = 0.001  # G0, the per-device raw histogram the correction is applied to
CYCLE_BIN = 0.01  # G0, per-cycle histograms for the correlation
ENDURANCE, RETENTION = "Endurance", "Retention"
_N_FINE = int(round(G_TOP / FINE_BIN))
_N_CYCLE = int(round(G_TOP / CYCLE_BIN))


@dataclass
class _Device:
    raw: np.ndarray = field(default_factory=lambda: np.zeros(_N_FINE, np.int64))
    levels: list[np.ndarray] = field(default_factory=list)  # raw plateau levels per file
    lengths: list[np.ndarray] = field(default_factory=list)
    sigmas: list[np.ndarray] = field(default_factory=list)
    plateau_cycles: list[np.ndarray] = field(default_factory=list)  # pooled cycle number of each plateau
    reads: list[np.ndarray] = field(default_factory=list)  # endurance reads, G/G0
    holds: list[tuple[float, float, float]] = field(default_factory=list)  # retention: G start, G end, s
    runs: int = 0
    rs_hint: float | None = None  # ohm, the first file's R_s: later files' detection starts from it


@dataclass
class LevelStats:
    quantum: float  # G0
    plateaus: int
    devices: int
    mean: float  # corrected G/G0, all plateaus on this level
    cycle_to_cycle: float  # G0: spread within a device, pooled over the devices (RMS of their SDs)
    device_to_device: float  # G0: SD of the device means (NaN with fewer than 2 devices)


@dataclass
class PooledResult:
    runs: list[dict]
    samples: int
    cycles: int
    r_series: dict[str, float]  # ohm per device (0 where it could not be fitted)
    r_series_note: dict[str, str]
    edges: np.ndarray  # 0.05 G0 bins
    raw: np.ndarray
    corrected: np.ndarray
    levels: list[LevelStats]
    per_device_levels: dict[str, dict[float, int]]  # device -> quantum -> plateaus
    corr_edges: np.ndarray | None = None
    corr: np.ndarray | None = None  # 2-D correlation histogram (NaN where undefined)
    hrs_lrs: dict[str, dict] = field(default_factory=dict)  # endurance, per device
    retention: dict[str, dict] = field(default_factory=dict)


class Pool:
    """Accumulates runs one file at a time (see the module docstring)."""

    def __init__(self, v_min: float = 0.02) -> None:
        self.v_min = float(v_min)
        self.devices: dict[str, _Device] = defaultdict(_Device)
        self.cycle_bins: list[np.ndarray] = []  # per pooled cycle: non-empty CYCLE_BIN bins
        self.cycle_counts: list[np.ndarray] = []
        self.cycle_device: list[str] = []
        self.used: list[dict] = []
        self.skipped: list[tuple[dict, str]] = []
        self.samples = 0

    def add(self, run: dict) -> int:
        """Pool one run (a catalog row with path, device, procedure); its usable samples, or
        0 with the reason in ``skipped`` when the file cannot be read."""
        try:
            data = read(Path(run["path"]), self.v_min)
        except BadFile as exc:
            self.skipped.append((run, str(exc)))
            return 0
        device = self.devices[run.get("device") or "(no device)"]
        device.runs += 1
        if run.get("procedure") == ENDURANCE:
            n = self._endurance(device, data)
        elif run.get("procedure") == RETENTION:
            n = self._retention(device, data)
        else:
            n = self._conductance(device, run.get("device") or "(no device)", data)
        self.used.append(run)
        self.samples += n
        return n

    # ------------------------------------------------------------------ per file
    def _conductance(self, device: _Device, name: str, data: dict) -> int:
        from labqc.plateaus import analyze

        g = data["g"]
        ok = np.isfinite(g)
        k = np.minimum((g[ok] / FINE_BIN).astype(np.int64), _N_FINE - 1)
        inside = g[ok] >= 0
        device.raw += np.bincount(k[inside], minlength=_N_FINE)
        starts = cycle_starts(data[CYCLE_COL]) if CYCLE_COL in data else np.zeros(1, np.int64)
        first_cycle = len(self.cycle_bins)
        self._cycles(g, starts, name)
        # The detector as `labqc analyze FILE` runs it; the comb fit only on a device's first
        # file (the levels are refitted over all its files at the end): it costs a third.
        if is_voltage_sweep(data, self.v_min):
            result = analyze(data["g_unmasked"], r_series=device.rs_hint, cycle_starts=starts, v=data[V_COL],
                             v_min=self.v_min)
        else:
            result = analyze(g, r_series=device.rs_hint, cycle_starts=starts)
        if device.rs_hint is None and result.r_series_estimated and not result.reason:
            device.rs_hint = float(result.r_series)
        if result.plateaus:
            pl = result.plateaus
            device.levels.append(np.array([p.raw_level for p in pl]))
            device.lengths.append(np.array([max(p.n, p.duration) for p in pl], float))
            device.sigmas.append(np.array([p.sigma for p in pl]))
            device.plateau_cycles.append(first_cycle + np.searchsorted(starts, [p.start for p in pl], "right") - 1)
        return int(ok.sum())

    def _cycles(self, g: np.ndarray, starts: np.ndarray, name: str) -> None:
        trace = np.searchsorted(starts, np.arange(g.size), side="right") - 1
        ok = np.isfinite(g) & (g >= 0) & (g < G_TOP)
        key = trace[ok] * _N_CYCLE + (g[ok] / CYCLE_BIN).astype(np.int64)
        keys, counts = np.unique(key, return_counts=True)
        cut = np.searchsorted(keys // _N_CYCLE, np.arange(len(starts) + 1))
        for c in range(len(starts)):
            a, b = cut[c], cut[c + 1]
            self.cycle_bins.append((keys[a:b] % _N_CYCLE).astype(np.int32))
            self.cycle_counts.append(counts[a:b].astype(np.int32))
            self.cycle_device.append(name)

    def _endurance(self, device: _Device, data: dict) -> int:
        g = data["g"]
        reads = g[data[SEGMENT_COL] == "read"] if SEGMENT_COL in data else g
        reads = reads[np.isfinite(reads) & (reads > 0)]
        device.reads.append(reads.astype(np.float32))
        return int(reads.size)

    def _retention(self, device: _Device, data: dict) -> int:
        g = data["g"]
        hold = (data[SEGMENT_COL] == "hold") if SEGMENT_COL in data else np.ones(g.size, bool)
        t = data.get("Time (s)", np.arange(g.size, dtype=float))[hold]
        g = g[hold]
        ok = np.isfinite(g)
        if ok.sum() < 2:
            return 0
        g, t = g[ok], t[ok]
        tenth = max(g.size // 10, 1)
        device.holds.append((float(np.median(g[:tenth])), float(np.median(g[-tenth:])), float(t[-1] - t[0])))
        return int(g.size)

    # ------------------------------------------------------------------ at the end
    def finish(self) -> PooledResult:
        from labqc.series import fit_series_resistance

        edges = BIN * np.arange(int(round(G_TOP / BIN)) + 1)
        raw = np.zeros(edges.size - 1)
        corrected = np.zeros(edges.size - 1)
        r_series, notes = {}, {}
        per_level: dict[float, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        per_device_levels: dict[str, dict[float, int]] = {}
        fine_edges = FINE_BIN * np.arange(_N_FINE + 1)
        for name, dev in sorted(self.devices.items()):
            if not dev.raw.any():
                continue
            levels = np.concatenate(dev.levels) if dev.levels else np.zeros(0)
            r_series[name], notes[name] = 0.0, ""
            if levels.size:
                try:
                    fit = fit_series_resistance(levels, np.concatenate(dev.lengths),
                                                groups=np.concatenate(dev.plateau_cycles))
                    r_series[name], notes[name] = float(fit.r_series), fit.reason
                except ValueError as exc:
                    notes[name] = str(exc)
            else:
                notes[name] = "no plateaus"
            raw += rebin(dev.raw, fine_edges, edges)
            corrected += rebin(dev.raw, correct_g0(fine_edges, r_series[name]), edges)
            if levels.size:
                a = assign_levels(levels, np.concatenate(dev.lengths), np.nan_to_num(np.concatenate(dev.sigmas), nan=0.05),
                                  r_series=r_series[name])
                q = a.quantum
                per_device_levels[name] = {float(v): int((q == v).sum()) for v in np.unique(q[np.isfinite(q)])}
                for v, lv in zip(q[np.isfinite(q)], a.level[np.isfinite(q)]):
                    per_level[float(v)][name].append(float(lv))
        result = PooledResult(self.used, self.samples, len(self.cycle_bins), r_series, notes, edges, raw, corrected,
                              level_stats(per_level), per_device_levels)
        self._correlation(result)
        self._states(result)
        return result

    def _correlation(self, result: PooledResult) -> None:
        n = len(self.cycle_bins)
        if n < MIN_CORRELATION_CYCLES or not result.corrected.any():
            return
        top = _top(result.corrected, result.edges)
        edges = BIN * np.arange(int(round(top / BIN)) + 1)
        fine_edges = CYCLE_BIN * np.arange(_N_CYCLE + 1)
        mapped = {d: correct_g0(fine_edges, result.r_series.get(d, 0.0)) for d in set(self.cycle_device)}
        counts = np.zeros((n, edges.size - 1))
        for c in range(n):
            dense = np.zeros(_N_CYCLE)
            dense[self.cycle_bins[c]] = self.cycle_counts[c]
            counts[c] = rebin(dense, mapped[self.cycle_device[c]], edges)
        keep = counts.sum(axis=1) > 0
        if keep.sum() >= MIN_CORRELATION_CYCLES:
            result.corr_edges, result.corr = edges, pearson(counts[keep])
            result.cycles = int(keep.sum())

    def _states(self, result: PooledResult) -> None:
        from labqc.views import hrs_lrs

        for name, dev in sorted(self.devices.items()):
            if dev.reads:
                reads = np.concatenate(dev.reads).astype(float)
                try:
                    s = hrs_lrs(reads)
                    result.hrs_lrs[name] = {"reads": int(reads.size), "HRS": float(np.median(s.hrs)),
                                            "LRS": float(np.median(s.lrs)), "window": s.window}
                except ValueError as exc:
                    result.hrs_lrs[name] = {"reads": int(reads.size), "error": str(exc)}
            if dev.holds:
                h = np.array(dev.holds)
                result.retention[name] = {"runs": len(h), "start": float(np.median(h[:, 0])),
                                          "end": float(np.median(h[:, 1])), "longest_s": float(h[:, 2].max())}


# ---------------------------------------------------------------------- helpers
_COLUMNS = ("Time (s)", "Voltage (V)", "G/G0", "Compliance", "Cycle", "Segment")


def read(path: Path, v_min: float = 0.02) -> dict[str, np.ndarray]:
    """What :func:`labqc.analyze_cli.load` gives (the same masks), reading only the columns
    pooling needs from a labqc results file (other CSVs go through ``load`` itself)."""
    import pandas as pd

    try:
        frame = pd.read_csv(path, comment="#", usecols=lambda c: c in _COLUMNS,
                            dtype={"G/G0": float, "Voltage (V)": float, "Time (s)": float, "Segment": str})
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return load(path, v_min)
    if len(frame.columns) != len(_COLUMNS):
        return load(path, v_min)
    g = frame["G/G0"].to_numpy(dtype=float, copy=True)
    compliance = frame["Compliance"].to_numpy()
    if compliance.dtype != bool:
        compliance = np.isin(np.char.lower(compliance.astype(str)), ["1", "1.0", "true", "yes"])
    g[compliance] = np.nan
    v = frame["Voltage (V)"].to_numpy(dtype=float)
    data = {"Time (s)": frame["Time (s)"].to_numpy(dtype=float), V_COL: v, "g_unmasked": g.copy(),
            CYCLE_COL: frame["Cycle"].to_numpy(dtype=float), SEGMENT_COL: frame["Segment"].to_numpy(dtype=str)}
    g[np.abs(v) < v_min] = np.nan
    if not np.isfinite(g).any():
        raise BadFile(f"{path} holds no finite G/G0 samples.")
    data["g"] = g
    return data


def rebin(counts: np.ndarray, from_edges: np.ndarray, to_edges: np.ndarray) -> np.ndarray:
    """Counts on ``from_edges`` (increasing; NaN edges end the range) redistributed on
    ``to_edges``, each source bin shared by overlap (counts uniform within a bin)."""
    ok = np.isfinite(from_edges)
    last = int(np.argmin(ok)) if not ok.all() else from_edges.size
    e = from_edges[:last]
    cum = np.concatenate([[0.0], np.cumsum(counts[: max(last - 1, 0)], dtype=float)])
    at = np.interp(to_edges, e, cum, left=0.0, right=cum[-1])
    return np.diff(at)


def pearson(x: np.ndarray) -> np.ndarray:
    """Correlation between the columns of x (rows: cycles); NaN where a column is constant."""
    d = x - x.mean(axis=0)
    cov = d.T @ d / x.shape[0]
    sd = np.sqrt(np.diag(cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        c = cov / np.outer(sd, sd)
    c[~np.isfinite(c)] = np.nan
    k = np.arange(c.shape[0])
    c[k, k] = np.where(sd > 0, 1.0, np.nan)
    return c


def level_stats(per_level: dict[float, dict[str, list[float]]]) -> list[LevelStats]:
    """Device-to-device and cycle-to-cycle spread of each quantised level."""
    out = []
    for q in sorted(per_level):
        by_dev = {d: np.asarray(v) for d, v in per_level[q].items()}
        every = np.concatenate(list(by_dev.values()))
        within = [v.var(ddof=1) for v in by_dev.values() if v.size >= 2]
        means = np.array([v.mean() for v in by_dev.values()])
        out.append(LevelStats(q, int(every.size), len(by_dev), float(every.mean()),
                              float(np.sqrt(np.mean(within))) if within else float("nan"),
                              float(means.std(ddof=1)) if means.size >= 2 else float("nan")))
    return out


def _top(counts: np.ndarray, edges: np.ndarray) -> float:
    """Half a quantum above the 99.5th percentile of a histogram, 1..G_TOP G0."""
    cdf = np.cumsum(counts) / counts.sum()
    p995 = float(edges[1:][np.searchsorted(cdf, 0.995)])
    return float(np.clip(np.ceil(p995 * 2 + 1) / 2, 1.0, G_TOP))


__all__ = ["Pool", "PooledResult", "LevelStats", "rebin", "pearson", "level_stats", "BIN", "FINE_BIN"]
