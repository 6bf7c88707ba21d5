"""Retention keeps its summary as the rows stream, so that an overnight hold's memory stays
flat; what it says is what its results file says."""
import numpy as np
import pytest

from labqc.instruments.sim.lab import get_lab, sim_library
from labqc.procedures import Retention, derive
from labqc.procedures.runner import Target, run_procedure
from labqc.results import read_data


def test_retention_summary_kept_as_it_streams_matches_its_file(tmp_path):
    """The hold's summary is kept chunk by chunk (memory flat); it says what the file says."""
    get_lab(sim_library("ag-nanowire", 5)).reset()
    result = run_procedure(Retention(duration=300, interval=1, prepare="set"), tmp_path / "r.csv",
                           target=Target(preset="ag-nanowire", seed=5))
    rows = read_data(result.path)
    hold = rows[rows["Segment"] == "hold"]
    g = hold["G/G0"].to_numpy()
    s = result.summary
    assert s["samples"] == len(hold) == 300
    assert (s["first G/G0"], s["last G/G0"]) == pytest.approx((g[0], g[-1]))
    assert (s["min G/G0"], s["max G/G0"]) == pytest.approx((np.nanmin(g), np.nanmax(g)))
    assert s["levels visited (G0)"] == derive.levels_visited(g, min_points=3)
    assert s["compliance hits"] == int(hold["Compliance"].sum())
    assert s["hold length (s)"] == pytest.approx(hold["Time (s)"].iloc[-1] - s["hold start (s)"])
