"""Each procedure's own row and time estimates (what `labqc plan check` adds up) against
what a run on the simulated 2614B really writes; program mode is an upper bound."""
from __future__ import annotations

import pytest

from labqc.instruments.sim.lab import get_lab, sim_library
from labqc.procedures import PROCEDURES
from labqc.procedures.runner import Target, run_procedure
from labqc.results import estimated_bytes

CASES = [
    ("VoltageSweep", {"cycles": 2, "step": 50}),
    ("VoltageSweep", {"cycles": 2, "step": 50, "branches": "set"}),
    ("CurrentSweep", {"cycles": 2, "i_step": 200, "rate": 2000}),
    ("CurrentSweep", {"cycles": 2, "i_step": 200, "rate": 2000, "reverse": True}),
    ("SetReset", {"cycles": 2, "step": 50}),
    ("PulseTrain", {"mode": "ltp-ltd", "count": 10}),
    ("Endurance", {"cycles": 3, "step": 50}),
    ("Endurance", {"cycles": 30, "method": "pulse", "stuck_cycles": 0}),
    ("Retention", {"duration": 30, "spacing": "log", "first": 1, "per_decade": 5}),
]


@pytest.mark.parametrize("name,params", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_estimates_are_what_the_run_writes(tmp_path, name, params):
    get_lab(sim_library("bfo", 4)).reset()
    proc = PROCEDURES[name](**params)
    rows, seconds = proc.estimated_rows(), proc.estimated_duration()
    result = run_procedure(proc, tmp_path / "run.csv", target=Target(preset="bfo", seed=4))
    assert result.ok, result.error
    assert result.rows == rows
    assert abs(result.instrument_seconds - seconds) <= 0.1 * seconds + 0.1
    size = result.path.stat().st_size
    assert size <= estimated_bytes(proc, rows) <= 2 * size


def test_programming_estimate_is_an_upper_bound(tmp_path):
    get_lab(sim_library("ag-nanowire", 1)).reset()
    proc = PROCEDURES["SetReset"](mode="program", target=1, tolerance=0.25)
    result = run_procedure(proc, tmp_path / "run.csv", target=Target(preset="ag-nanowire", seed=1))
    assert result.ok and 0 < result.rows <= proc.estimated_rows()
    assert result.instrument_seconds <= proc.estimated_duration()
