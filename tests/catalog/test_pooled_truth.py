"""Pooled analysis against ground truth it did not see: synthetic traces (labqc.synthetic)
with a known series resistance per device, written as results files; and retention runs
of the simulator pooled per device."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from labqc.catalog import Catalog
from labqc.pooled import Pool
from labqc.procedures.current_sweep import CurrentSweep
from labqc.results import COLUMNS, header_text, read_summary
from labqc.synthetic import TraceSpec, make_trace
from labqc.units import G0

ROOT = Path(__file__).resolve().parents[2]
TRUE_RS = {"A": 180.0, "B": 310.0, "C": 430.0}  # ohm per device


def write_trace(path: Path, seed: int, r_series: float) -> int:
    tr = make_trace(TraceSpec(seed=seed, n_cycles=4, plateaus_per_cycle=(4, 8), dwell_median=60,
                              max_half_quanta=14, white=0.03, r_series=r_series))
    g = tr.g
    cycle = np.searchsorted(tr.cycle_starts, np.arange(g.size), side="right")
    i = g * G0 * 0.1
    rows = [f"{0.01 * k:.4f},{i[k]:.6g},0.1,{i[k]:.6g},{g[k] * G0:.6g},{g[k]:.6g},{g[k]:.6g},False,{cycle[k]},forward,-1"
            for k in range(g.size)]
    path.write_text(header_text(CurrentSweep()) + ",".join(COLUMNS) + "\n" + "\n".join(rows) + "\n")
    return g.size


def test_series_resistance_per_device_recovers_the_truth(tmp_path):
    cat = Catalog(tmp_path / "catalog.sqlite")
    seed = 1000  # seeds nothing was tuned on
    for device, rs in TRUE_RS.items():
        for k in range(3):
            seed += 1
            path = tmp_path / f"{device}-{k}.csv"
            rows = write_trace(path, seed, rs)
            cat.register(file=path, device=device, procedure="CurrentSweep", status="finished", rows=rows,
                         started=float(seed))
    pool = Pool()
    for run in cat.runs():
        pool.add(run)
    result = pool.finish()
    for device, rs in TRUE_RS.items():
        assert result.r_series[device] == pytest.approx(rs, abs=5.0)
    # the corrected levels sit on the half-quantum grid of the generator
    assert {lv.quantum for lv in result.levels} >= {1.0, 2.0, 3.0}
    for lv in result.levels:
        assert abs(lv.mean - lv.quantum) < 0.05
    assert result.cycles == 3 * 3 * 4


def test_retention_runs_pool_per_device(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "LABQC_CATALOG"}
    for device, seed in (("R1", 3), ("R2", 4)):
        done = subprocess.run([sys.executable, "-m", "labqc", "run", "Retention", "--sim", "ag-nanowire", "--seed",
                               str(seed), "--duration", "100", "--interval", "5", "--device", device, "-o",
                               str(tmp_path / f"{device}.csv"), "--no-progress"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    out = subprocess.run([sys.executable, "-m", "labqc", "analyze", "--catalog", str(tmp_path), "--procedure",
                          "Retention", "--no-figures"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("pooled 2 runs")
    for device in ("R1", "R2"):
        line = [ln for ln in out.stdout.splitlines() if ln.startswith(f"retention {device}:")][0]
        assert "1 runs" in line and "longest 9" in line  # ~95-100 s between the first and last read
        summary = read_summary(tmp_path / f"{device}.csv")
        assert summary["device"] == device
