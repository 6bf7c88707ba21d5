"""The procedures on the simulated 4200A-SCS (KXCI over PyVISA, GPIB framing): SMU
sweeps and sampling, PMU pulse trains; the same procedure code as on the 2614B."""
import numpy as np
import pytest

from labqc.instruments.connect import SIM_4200A
from labqc.instruments.errors import CapabilityError
from labqc.instruments.sim.lab import get_lab, sim_library
from labqc.results import read_data
from labqc.procedures import CurrentSweep, Endurance, PulseTrain, Retention, SetReset, VoltageSweep
from labqc.procedures.runner import FINISHED, Target, run_procedure


def run_on_4200a(preset, proc, tmp_path, seed=1):
    lib = sim_library(preset, seed)
    lab = get_lab(lib)
    lab.reset()
    result = run_procedure(proc, tmp_path / "run.csv", target=Target(SIM_4200A, preset, seed))
    assert result.status == FINISHED, result.error
    assert not lab.emulator(SIM_4200A).any_output_on
    assert "4200" in result.instrument
    return result, read_data(result.path)


def test_voltage_sweep_on_4200a(tmp_path):
    result, rows = run_on_4200a("bfo", VoltageSweep(cycles=1, step=20, set_compliance=5e-3), tmp_path)
    set_rows = rows[rows["Segment"] == "set"]
    assert set_rows["G/G0"].max() > 5
    assert np.abs(set_rows["Current (A)"]).max() <= 5e-3 * 1.001
    assert len(rows) == 2 * 301 + 2


def test_current_sweep_on_4200a(tmp_path):
    proc = CurrentSweep(cycles=1, i_step=200, reverse=False, reset=False)
    result, rows = run_on_4200a("ag-nanowire", proc, tmp_path)
    fwd = rows[rows["Segment"] == "forward"]
    assert fwd["Source (V|A)"].max() == pytest.approx(20e-6)
    assert np.abs(fwd["Voltage (V)"]).max() <= 2.0 * 1.001
    assert result.summary["per cycle"][0]["steps up"] >= 1


#: The BiFeO3 preset's own 250 ohm series resistance, stated as the PMU's load: 1.5 V can
#: then pass 6 mA at most, so a 10 mA compliance holds on the PMU, which has no limit of its own.
BFO_LOAD = dict(pmu_load=250.0, compliance=10e-3)


def test_pulse_train_on_the_pmu(tmp_path):
    result, rows = run_on_4200a("bfo", PulseTrain(mode="reset", count=40, **BFO_LOAD), tmp_path)
    assert (rows["Segment"] == "pulse").sum() == 40 and (rows["Segment"] == "read").sum() == 40
    assert result.summary["last read G/G0"] < result.summary["first read G/G0"]


def test_set_reset_endurance_and_retention_on_4200a(tmp_path):
    r1, _ = run_on_4200a("bfo", SetReset(cycles=1, set_compliance=1e-3), tmp_path / "a")
    assert r1.summary["median LRS G/G0"] > r1.summary["median HRS G/G0"]
    r2, _ = run_on_4200a("bfo", Endurance(cycles=2, method="pulse", set_voltage=1.5,
                                          reset_voltage=-1.5, set_compliance=5e-3), tmp_path / "b")
    assert r2.summary["cycles done"] == 2
    r3, rows = run_on_4200a("bfo", Retention(duration=20, interval=1, prepare="none"), tmp_path / "c")
    assert len(rows) == 20


def test_beyond_the_4200a_is_refused_before_anything_is_energised(tmp_path):
    lib = sim_library("bfo", 1)
    lab = get_lab(lib)
    lab.reset()
    proc = VoltageSweep(set_compliance=0.5)
    with pytest.raises(CapabilityError, match="compliance 0.5 A exceeds"):
        run_procedure(proc, tmp_path / "never.csv", target=Target(SIM_4200A, "bfo", 1))
    assert not (tmp_path / "never.csv").exists()
    assert not lab.emulator(SIM_4200A).any_output_on


def test_a_pulse_compliance_the_pmu_cannot_hold_is_refused_before_anything_is_energised(tmp_path):
    lab = get_lab(sim_library("bfo", 1))
    lab.reset()
    proc = PulseTrain(mode="reset", count=40, compliance=5e-3)
    with pytest.raises(CapabilityError, match="no current limit"):
        run_procedure(proc, tmp_path / "never.csv", target=Target(SIM_4200A, "bfo", 1))
    assert not lab.emulator(SIM_4200A).any_output_on


@pytest.mark.parametrize("proc", [VoltageSweep(cycles=2, step=20),
                                  PulseTrain(mode="reset", count=300, prepare=False, **BFO_LOAD)],
                         ids=["smu-sweep", "pmu-train"])
def test_stop_mid_run_leaves_the_4200a_off(tmp_path, proc):
    lab = get_lab(sim_library("bfo", 1))
    lab.reset()
    batches = []
    result = run_procedure(proc, tmp_path / "stopped.csv", target=Target(SIM_4200A, "bfo", 1),
                           listeners=[lambda topic, rows: topic == "batch" and batches.append(len(rows))],
                           should_stop=lambda: len(batches) >= 1)
    assert result.status == "aborted"
    assert not lab.emulator(SIM_4200A).any_output_on
    assert len(read_data(result.path)) == sum(batches) > 0
