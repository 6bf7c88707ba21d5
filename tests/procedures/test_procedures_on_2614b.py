"""Each procedure on the simulated 2614B (PyVISA -> @labqcsim -> TSP emulator -> device
physics): the physics shows through, the outputs end off, the files load in PyMeasure."""
import numpy as np
import pytest
from pymeasure.experiment import Results

from labqc.instruments.connect import SIM_2614B
from labqc.instruments.sim.lab import get_lab, sim_library
from labqc.results import read_data, read_summary
from labqc.procedures import CurrentSweep, Endurance, PulseTrain, Retention, SetReset, VoltageSweep
from labqc.procedures.runner import FINISHED, Target, run_procedure


def run_on(preset, proc, tmp_path, seed=0, name="run.csv"):
    """Run ``proc`` on a freshly reset simulated lab; return (result, rows, lab)."""
    lib = sim_library(preset, seed)
    lab = get_lab(lib)
    lab.reset()
    result = run_procedure(proc, tmp_path / name, target=Target(preset=preset, seed=seed))
    assert result.status == FINISHED, result.error
    assert not lab.emulator(SIM_2614B).any_output_on
    return result, read_data(result.path), lab


def test_bfo_voltage_sweep_at_5_mA_climbs_past_5_G0_and_never_exceeds_5_mA(tmp_path):
    proc = VoltageSweep(cycles=2, set_compliance=5e-3, step=20)
    result, rows, _ = run_on("bfo", proc, tmp_path)
    set_rows = rows[rows["Segment"] == "set"]
    assert set_rows["G/G0"].max() > 5
    assert np.abs(set_rows["Current (A)"]).max() <= 5e-3 * 1.001
    assert set_rows["Compliance"].any()
    reset_rows = rows[rows["Segment"] == "reset"]
    assert (reset_rows["Source (V|A)"] <= 0).all() and reset_rows["Source (V|A)"].min() == pytest.approx(-3.0)
    s = result.summary
    assert s["cycles done"] == 2
    assert 0 < s["median V_SET (V)"] <= 3.0
    assert -3.0 <= s["median V_RESET (V)"] < 0
    assert s["median LRS G/G0"] > 2 * s["median HRS G/G0"]
    assert (rows["Segment"] == "read").sum() == 4
    assert np.all(np.diff(rows["Time (s)"]) >= 0)  # instrument time runs forward
    loaded = Results.load(str(result.path))
    assert loaded.procedure.set_compliance == 5e-3 and len(loaded.data) == len(rows)
    assert "bfo" in loaded.procedure.instrument and "2614B" in loaded.procedure.instrument
    assert read_summary(result.path)["status"] == "finished"


def test_ag_nanowire_current_sweep_rises_in_steps(tmp_path):
    proc = CurrentSweep(cycles=1, i_step=100, reverse=False, reset=False)
    result, rows, _ = run_on("ag-nanowire", proc, tmp_path)
    fwd = rows[rows["Segment"] == "forward"]
    assert fwd["Source (V|A)"].max() == pytest.approx(20e-6)
    assert np.abs(fwd["Voltage (V)"]).max() <= 2.0 * 1.001  # the voltage limit holds
    g = fwd["G/G0"].to_numpy()
    assert result.summary["per cycle"][0]["steps up"] >= 2
    assert len(result.summary["levels visited (G0)"]) >= 2
    assert g[-1] > g[len(g) // 4]


def test_set_reset_cycles_switch_between_states(tmp_path):
    proc = SetReset(cycles=2, set_compliance=1e-3)
    result, rows, _ = run_on("bfo", proc, tmp_path)
    s = result.summary
    assert s["cycles done"] == 2
    assert s["median LRS G/G0"] > 2 * s["median HRS G/G0"]
    assert np.abs(rows.loc[rows["Segment"] == "set", "Current (A)"]).max() <= 1e-3 * 1.001


def test_program_to_one_g0_on_ag_nanowire(tmp_path):
    proc = SetReset(mode="program", target=1.0, tolerance=0.3, set_compliance=50e-6, max_attempts=40)
    result, rows, _ = run_on("ag-nanowire", proc, tmp_path)
    s = result.summary
    assert s["reached"], s.get("report")
    assert abs(s["final G/G0"] - 1.0) <= 0.3
    last_read = rows[rows["Segment"] == "read"].iloc[-1]
    assert last_read["G/G0"] == pytest.approx(s["final G/G0"])


def test_program_gives_up_with_a_report(tmp_path):
    # A resistor never reaches 3 G0 (10 kOhm is 1.29 G0): the loop must stop and say so.
    proc = SetReset(mode="program", target=3.0, tolerance=0.1, max_attempts=3)
    result, _, _ = run_on("ohmic", proc, tmp_path)
    s = result.summary
    assert not s["reached"] and s["attempts"] == 3
    assert "did not reach 3 +- 0.1 G0 in 3 attempts" in s["report"]


def test_reset_pulse_train_lowers_conductance_pulse_by_pulse(tmp_path):
    proc = PulseTrain(mode="reset", count=60)
    result, rows, _ = run_on("bfo", proc, tmp_path)
    tops = rows[rows["Segment"] == "pulse"]
    reads = rows[rows["Segment"] == "read"]
    assert tops["Pulse"].tolist() == list(range(1, 61)) and reads["Pulse"].tolist() == list(range(1, 61))
    assert tops["Source (V|A)"].to_numpy() == pytest.approx(-1.5)
    assert reads["Source (V|A)"].to_numpy() == pytest.approx(0.1)
    s = result.summary
    assert s["per pulse"]["I_i/I_1"][0] == pytest.approx(1.0)
    assert s["last read G/G0"] < s["first read G/G0"]


def test_potentiation_then_depression(tmp_path):
    proc = PulseTrain(mode="ltp-ltd", count=30, read_voltage=0.2)
    result, rows, _ = run_on("bfo", proc, tmp_path)
    reads = rows[rows["Segment"] == "read"]
    ltp, ltd = reads[reads["Cycle"] == 1], reads[reads["Cycle"] == 2]
    assert len(ltp) == len(ltd) == 30
    assert ltp["Source (V|A)"].to_numpy() == pytest.approx(0.2)
    assert ltd["Source (V|A)"].to_numpy() == pytest.approx(-0.2)
    assert ltp["G/G0"].iloc[-1] > ltp["G/G0"].iloc[0]
    assert ltd["G/G0"].iloc[-1] < ltd["G/G0"].iloc[0]


def test_endurance_reads_both_states_every_cycle(tmp_path):
    proc = Endurance(cycles=5, set_compliance=1e-3)
    result, rows, _ = run_on("bfo", proc, tmp_path)
    s = result.summary
    assert s["cycles done"] == 5 and s["cycles switched"] >= 4
    assert rows.groupby("Cycle")["Segment"].apply(lambda seg: (seg == "read").sum()).tolist() == [2] * 5
    assert rows.loc[rows["Segment"] == "read", "Source (V|A)"].to_numpy() == pytest.approx(0.4)


def test_endurance_stops_when_stuck(tmp_path):
    # A resistor never switches: after 3 unswitched cycles the run stops and says why.
    proc = Endurance(cycles=20, stuck_cycles=3)
    result, _, _ = run_on("ohmic", proc, tmp_path)
    s = result.summary
    assert s["cycles done"] == 3 and s["cycles switched"] == 0
    assert "stuck in LRS for 3 cycles" in s["stop reason"]


def test_retention_samples_on_the_instrument_clock(tmp_path):
    proc = Retention(duration=200, interval=10, prepare="set", prepare_compliance=1e-3)
    result, rows, _ = run_on("bfo", proc, tmp_path)
    hold = rows[rows["Segment"] == "hold"]
    assert len(hold) == 20
    assert np.diff(hold["Time (s)"]).mean() == pytest.approx(10.0, rel=0.01)
    assert hold["Source (V|A)"].to_numpy() == pytest.approx(0.1)
    assert result.summary["samples"] == 20 and result.summary["hold length (s)"] == pytest.approx(200, rel=0.01)
    assert hold["G/G0"].iloc[0] > 1  # held in LRS after the SET


def test_log_spaced_retention(tmp_path):
    proc = Retention(duration=100, spacing="log", first=1, per_decade=5, prepare="none")
    result, rows, _ = run_on("ohmic", proc, tmp_path)
    t = rows["Time (s)"].to_numpy() - result.summary["hold start (s)"]
    assert t == pytest.approx(np.geomspace(1, 100, 11), rel=0.02)
    assert rows["G/G0"].to_numpy() == pytest.approx(1 / 10e3 / 7.748091729e-5, rel=0.01)


def test_series_resistance_correction_on_a_known_resistor(tmp_path):
    # ohmic preset: 10 kOhm. With R_s = 5 kOhm declared, the corrected conductance is that
    # of the remaining 5 kOhm: twice the measured one.
    proc = Retention(duration=5, interval=1, prepare="none", r_series=5000.0)
    result, rows, _ = run_on("ohmic", proc, tmp_path)
    assert rows["G/G0"].to_numpy() == pytest.approx(1 / 10e3 / 7.748091729e-5, rel=1e-3)
    assert rows["G_corr/G0"].to_numpy() == pytest.approx(1 / 5e3 / 7.748091729e-5, rel=1e-3)
    assert Results.load(str(result.path)).procedure.r_s_used.startswith("5000")
