"""`labqc analyze` with catalog filters: the selected runs pooled file by file, on the
multi-device sample set (five simulated Ag nanowires, sample_data/multi-device)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from labqc.analyze_cli import load
from labqc.catalog import Catalog
from labqc.catalog_files import import_directory
from labqc.pooled import Pool, rebin
from labqc.results import read_summary

ROOT = Path(__file__).resolve().parents[2]
SET = ROOT / "sample_data" / "multi-device"


def labqc(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "LABQC_CATALOG"}
    return subprocess.run([sys.executable, "-m", "labqc", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env=env)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pool") / "catalog.sqlite"
    with Catalog(path) as cat:
        report = import_directory(cat, SET)
    assert report.added == 15
    return path


def runs(catalog: Path, **filters) -> list[dict]:
    with Catalog(catalog, create=False) as cat:
        return cat.runs(**filters)


def test_first_line_counts_runs_and_samples_then_lists_them(catalog):
    done = labqc("analyze", "--catalog", str(catalog), "--device", "NW1", "--device", "NW2",
                 "--procedure", "CurrentSweep", "--no-figures")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    chosen = runs(catalog, device=["NW1", "NW2"], procedure=["CurrentSweep"])
    assert len(chosen) == 4  # two sweeps on each
    usable = sum(int(np.isfinite(load(Path(r["path"]))["g"]).sum()) for r in chosen)
    assert lines[0] == f"pooled 4 runs, {usable} samples"
    for line, run in zip(lines[1:5], chosen):
        assert f"run {run['id']:>5}" in line and run["path"] in line and run["device"] in line


def test_raw_histogram_is_the_sum_of_the_files(catalog):
    chosen = runs(catalog, procedure=["CurrentSweep"])
    pool = Pool()
    for run in chosen:
        pool.add(run)
    result = pool.finish()
    expected = sum(np.histogram(load(Path(r["path"]))["g"], bins=result.edges)[0] for r in chosen)
    assert result.raw.sum() == pytest.approx(expected.sum())
    assert np.abs(result.raw - expected).sum() <= 1e-3 * expected.sum()  # edge rounding only
    assert result.corrected.sum() == pytest.approx(expected.sum(), rel=1e-3)
    # every cycle of every run takes part in the correlation histogram
    assert result.cycles == 2 * len(chosen) and result.corr.shape == (result.corr_edges.size - 1,) * 2


def test_corrected_peaks_sit_on_the_quantum_levels_the_simulator_makes(catalog):
    # The simulated Ag nanowire conducts n·G0 through its filament, in series with R_s
    # (instruments/sim/memristor.py): measured levels sit below n, corrected ones on n.
    done = labqc("analyze", "--catalog", str(catalog), "--procedure", "CurrentSweep", "--no-figures")
    assert done.returncode == 0, done.stderr
    text = done.stdout
    raw = [float(x) for x in text.split("peaks (raw, G0): ")[1].splitlines()[0].split(", ")]
    corr = [float(x) for x in text.split("peaks (R_s-corrected, G0): ")[1].splitlines()[0].split(", ")]
    for n in (1.0, 2.0, 3.0):
        assert min(abs(c - n) for c in corr) < 0.06
    assert min(abs(r - 3.0) for r in raw) > 0.1  # the correction did something
    table = text.split("device-to-device SD (G0)\n")[1].splitlines()
    levels = {float(row.split()[0]): row.split() for row in table if row.split()[0].replace(".", "").isdigit()}
    assert {1.0, 2.0, 3.0} <= set(levels)
    assert all(int(levels[q][2]) == 5 for q in (1.0, 2.0, 3.0))  # seen on all five devices
    assert "series resistance per device" in text and text.count(" ohm") >= 5


def test_rs_is_fitted_per_device_and_follows_the_devices_own(catalog):
    from labqc.instruments.sim.lab import get_lab, sim_library

    pool = Pool()
    for run in runs(catalog, procedure=["CurrentSweep"]):
        pool.add(run)
    fitted = pool.finish().r_series
    truth = {f"NW{k}": get_lab(sim_library("ag-nanowire", 10 + k)).device_for("2614B").p.r_s for k in range(1, 6)}
    assert set(fitted) == set(truth)
    # the lowest and the highest device are told apart (their R_s differ by ~110 ohm)
    low, high = min(truth, key=truth.get), max(truth, key=truth.get)
    assert fitted[low] < fitted[high]
    assert len({round(v) for v in fitted.values()}) >= 3


def test_endurance_pools_hrs_and_lrs_per_device(catalog):
    done = labqc("analyze", "--catalog", str(catalog), "--procedure", "Endurance", "--no-figures")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("pooled 5 runs, 200 samples")  # 20 cycles x 2 reads x 5 devices
    for run in runs(catalog, procedure=["Endurance"]):
        own = read_summary(run["path"])["results"]
        line = [ln for ln in done.stdout.splitlines() if ln.startswith(f"endurance {run['device']}:")][0]
        assert f"LRS {own['median LRS G/G0']:.3g} G0" in line and f"HRS {own['median HRS G/G0']:.3g} G0" in line
        # the window LRS/HRS, ~10^3 here, written out as a number to three digits (not 1.1e+03)
        window = float(line.split("window ")[1].split(",")[0])
        assert window == pytest.approx(own["median LRS G/G0"] / own["median HRS G/G0"], rel=0.01)
        assert "e+" not in line


def test_figures_and_refusals(catalog, tmp_path):
    done = labqc("analyze", "--catalog", str(catalog), "--sample", "W1", "--procedure", "CurrentSweep")
    assert done.returncode == 0, done.stderr
    for name in ("pooled-histogram.png", "pooled-corr2d.png"):
        assert (catalog.parent / name).stat().st_size > 10_000
    none = labqc("analyze", "--catalog", str(catalog), "--device", "NW9")
    assert none.returncode == 2 and "no finished run" in none.stderr
    both = labqc("analyze", str(SET / "steps" / "001-sweep-NW1-r1.csv"), "--device", "NW1")
    assert both.returncode == 2 and "not both" in both.stderr


def test_rebin_keeps_counts_and_shares_bins_by_overlap():
    counts = np.array([10.0, 0.0, 4.0])
    out = rebin(counts, np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 0.5, 1.5, 3.0]))
    assert out.tolist() == [5.0, 5.0, 4.0]
    stretched = rebin(counts, np.array([0.0, 2.0, 4.0, np.nan]), np.array([0.0, 1.0, 2.0, 5.0]))
    assert stretched.tolist() == [5.0, 5.0, 0.0]  # beyond a NaN edge (G past 1/R_s) nothing is kept


def test_the_sample_set_is_small_and_its_readme_shows_the_command():
    size = sum(p.stat().st_size for p in SET.rglob("*") if p.is_file())
    assert size < 3_000_000
    readme = (ROOT / "sample_data" / "README.md").read_text()
    assert "labqc runs import sample_data/multi-device" in readme
    assert "labqc analyze --device NW1 --device NW2" in readme
    plan = json.loads((SET / "steps" / "001-sweep-NW1-r1.summary.json").read_text())
    assert plan["device"] == "NW1" and plan["sample"] == "W1"
