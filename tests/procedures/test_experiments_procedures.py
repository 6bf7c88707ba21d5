"""The new experiments end to end on the simulated instruments: Breakdown, Forming,
ProgramToLevel, SwitchingThreshold and Volatility find what the simulated devices do
(science.md: the Ag nanowire breaks down near 5.17 V; a fresh BFO stack forms; a 1 G0 level
is programmable), report a stop latency, refuse bad input before the output turns on, and
leave the output off, read back, however they end."""
import pytest

from labqc.cli import main
from labqc.instruments.connect import SIM_2614B, SIM_4200A
from labqc.instruments.errors import CapabilityError
from labqc.instruments.search import Search, Stop
from labqc.instruments.sim.lab import get_lab, sim_library
from labqc.procedures import (PROCEDURES, Breakdown, Forming, ProgramToLevel, SwitchingThreshold,
                              Volatility)
from labqc.procedures.base import ParameterError
from labqc.procedures.runner import ABORTED, FAILED, FINISHED, Target, run_procedure
from labqc.results import read_data, read_summary


def fresh(preset, seed=0):
    lab = get_lab(sim_library(preset, seed))
    lab.reset()
    return lab


def off(lab, resource=SIM_2614B):
    return not lab.emulator(resource).any_output_on


def test_new_procedures_are_listed(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("Breakdown", "Forming", "ProgramToLevel", "SwitchingThreshold", "Volatility"):
        assert name in PROCEDURES and f"{name}:" in out


def test_breakdown_stops_when_the_current_drops_near_5_17_v_and_keeps_the_gap(tmp_path):
    lab = fresh("ag-nanowire-fresh")
    result = run_procedure(Breakdown(), tmp_path / "b.csv", target=Target(preset="ag-nanowire-fresh"))
    s = result.summary
    assert result.status == FINISHED and off(lab)
    assert s["reached"] and 5.0 < s["breakdown voltage (V)"] < 5.4
    assert s["largest current (A)"] > 1e-3  # the intact wire conducted
    assert s["G/G0 after"] < 0.1  # stopped in time: the fresh gap did not bridge again
    # the stop latency, in instrument time, measured by the 2614B's own timer (one sample)
    assert s["latency clock"] == "instrument" and 0 <= s["stop latency (s)"] < 0.1
    rows = read_data(result.path)
    ramp = rows[rows["Segment"] == "ramp"]
    assert ramp["Source (V|A)"].iloc[-1] == pytest.approx(s["breakdown voltage (V)"])  # no level after it
    assert ramp["Time (s)"].iloc[-1] == pytest.approx(ramp["Source (V|A)"].iloc[-1] / 0.017, rel=0.02)  # 17 mV/s


def test_breakdown_on_the_4200a_decides_on_the_host_and_says_so(tmp_path):
    lab = fresh("ag-nanowire-fresh")
    proc = Breakdown(step=50.0, step_time=100.0)
    result = run_procedure(proc, tmp_path / "b.csv", target=Target(SIM_4200A, "ag-nanowire-fresh"))
    assert result.status == FINISHED and off(lab, SIM_4200A)
    assert result.summary["reached"] and 5.0 < result.summary["breakdown voltage (V)"] < 5.5
    assert result.summary["latency clock"] == "host"


def test_forming_of_a_fresh_bfo_stack(tmp_path):
    lab = fresh("bfo-fresh")
    result = run_procedure(Forming(), tmp_path / "f.csv", target=Target(preset="bfo-fresh"))
    s = result.summary
    assert result.status == FINISHED and off(lab)
    assert s["reached"] and 3.8 < s["forming voltage (V)"] < 4.5 and s["G/G0 after"] > 0.5
    rows = read_data(result.path)
    assert rows["Current (A)"].abs().max() <= 100e-6 * 1.001  # the current limit held


def test_forming_on_a_jump(tmp_path):
    fresh("bfo-fresh", 1)
    result = run_procedure(Forming(stop="jump", jump=2.0), tmp_path / "f.csv", target=Target(preset="bfo-fresh", seed=1))
    assert result.summary["reached"] and 3.8 < result.summary["forming voltage (V)"] < 4.5


@pytest.mark.parametrize("preset, target", [("ag-nanowire", 1.0), ("bfo", 3.0)])
def test_program_to_level_reaches_the_window(tmp_path, preset, target):
    lab = fresh(preset)
    result = run_procedure(ProgramToLevel(target=target, tolerance=0.25), tmp_path / "p.csv",
                           target=Target(preset=preset))
    s = result.summary
    assert result.status == FINISHED and off(lab)
    assert s["reached"] and abs(s["final G/G0"] - target) <= 0.25
    assert s["latency clock"] == "instrument" and s["stop latency (s)"] is not None
    rows = read_data(result.path)
    reads = rows[rows["Segment"] == "read"]
    assert abs(reads["Voltage (V)"].median() - 0.1) < 0.01  # each pulse was verified at the read voltage


def test_program_to_level_gives_up_after_its_reversals_and_exits_5(tmp_path, capsys):
    fresh("bfo", 2)
    path = tmp_path / "p.csv"
    code = main(["run", "ProgramToLevel", "--sim", "bfo", "--seed", "2", "--target", "2.5", "--tolerance", "0.02",
                 "--max-reversals", "1", "-o", str(path), "--no-progress"])
    s = read_summary(path)["results"]
    assert code == 5 and s["reached"] is False
    assert "did not reach 2.5" in s["report"] and s["phases"] <= 2
    assert "did not reach" in capsys.readouterr().out


def test_switching_threshold_is_repeatable_on_the_ag_device(tmp_path):
    lab = fresh("ag-nanowire")
    result = run_procedure(SwitchingThreshold(), tmp_path / "s.csv", target=Target(preset="ag-nanowire"))
    s = result.summary
    assert result.status == FINISHED and off(lab)
    assert s["reached"] and len(s["thresholds (V)"]) == 3
    assert 0.8 < s["median threshold (V)"] < 2.0  # the high-field hop bridges the gap from ~1 V


def test_volatility_sees_a_level_relax_and_stops_when_stable(tmp_path):
    lab = fresh("ag-nanowire")
    result = run_procedure(Volatility(), tmp_path / "v.csv", target=Target(preset="ag-nanowire"))
    s = result.summary
    assert result.status == FINISHED and off(lab)
    assert s["G/G0 first read"] > 0.8 and s["relaxed by G0"] > 0.7 and s["stable"]
    assert s["stable after (s)"] < 10.0


@pytest.mark.parametrize("proc, words", [
    (lambda: Breakdown(v_stop=205.0), "205 V, beyond the 200 V range"),
    (lambda: Breakdown(compliance=5.0), "compliance 5 A exceeds 1.5 A"),
    (lambda: ProgramToLevel(target=2.0, set_compliance=10e-6, tolerance=0.25), "cannot be reached"),
    (lambda: ProgramToLevel(target=20.0, tolerance=0.5, read_compliance=100e-6), "cannot be verified"),
    (lambda: Forming(step=0.0), "step must be > 0"),
    (lambda: SwitchingThreshold(amplitude_step=0.0), "step must be > 0"),
])
def test_bad_input_is_refused_before_the_output_turns_on(tmp_path, proc, words):
    lab = fresh("ag-nanowire")
    with pytest.raises((ParameterError, CapabilityError), match=words):
        run_procedure(proc(), tmp_path / "never.csv", target=Target(preset="ag-nanowire"))
    assert not (tmp_path / "never.csv").exists() and off(lab)


def test_a_search_with_a_zero_step_is_refused_by_the_interface():
    with Target(preset="ohmic").session() as smu:
        with pytest.raises(CapabilityError, match="step other than 0 V"):
            list(smu.run(Search(0.1, 1.0, 0.0, 1e-3, Stop("g_above", 1e-3))))


def test_a_stop_request_mid_search_ends_with_the_output_off(tmp_path):
    lab = fresh("ag-nanowire-fresh")
    batches = []
    result = run_procedure(Breakdown(), tmp_path / "b.csv", target=Target(preset="ag-nanowire-fresh"),
                           listeners=[lambda topic, payload: batches.append(1) if topic == "batch" else None],
                           should_stop=lambda: len(batches) >= 3)
    assert result.status == ABORTED and off(lab)
    assert result.output_off


def test_a_search_that_runs_out_of_levels_ends_with_the_output_off(tmp_path):
    lab = fresh("bfo")  # a formed device: no breakdown up to 1 V
    result = run_procedure(Breakdown(v_stop=1.0, step=20.0, step_time=30.0, min_current=1e-6), tmp_path / "b.csv",
                           target=Target(preset="bfo"))
    assert result.status == FINISHED and off(lab) and result.summary["reached"] is False


def test_the_resolution_check_covers_the_new_procedures(capsys):
    assert main(["run", "ProgramToLevel", "--sim", "ag-nanowire", "--check"]) == 0
    out = capsys.readouterr().out
    assert "read at 0.1 V" in out or "0.1 V" in out


def test_the_new_experiments_run_in_a_plan(tmp_path, capsys):
    """Breakdown, then program to 1 G0 on the gap it made, then the volatility of a pulse."""
    plan = tmp_path / "gap.toml"
    plan.write_text('''
[plan]
name = "gap"

[[device]]
label = "NW1"
sim_preset = "ag-nanowire-fresh"
seed = 2

[[step]]
name = "breakdown"
procedure = "Breakdown"
[step.parameters]
step = "20 mV"
step_time = "100 ms"

[[step]]
name = "program"
procedure = "program-to-level"
[step.parameters]
target = 1
tolerance = 0.25

[[step]]
name = "volatility"
procedure = "Volatility"
''')
    fresh("ag-nanowire-fresh", 2)
    assert main(["plan", "run", str(plan), "-o", str(tmp_path / "run")]) == 0
    files = sorted((tmp_path / "run").rglob("*.csv"))
    names = " ".join(p.name for p in files)
    assert "Breakdown" in names or "breakdown" in names
    summaries = [read_summary(p) for p in files if p.with_suffix(".summary.json").exists()]
    by_procedure = {s["procedure"]: s["results"] for s in summaries}
    assert by_procedure["Breakdown"]["reached"] and 5.0 < by_procedure["Breakdown"]["breakdown voltage (V)"] < 5.5
    assert by_procedure["ProgramToLevel"]["reached"]
    assert "Volatility" in by_procedure


@pytest.mark.parametrize("fault", ["drop@40", "garble@40", "error@40:-286"])
def test_a_fault_mid_search_fails_the_run_with_the_output_off(tmp_path, fault):
    """A dropped connection, a garbled reply or an instrument error in the middle of a
    breakdown ramp: the run fails with a sentence and the output ends off, read back."""
    library = sim_library("ag-nanowire-fresh", 7, faults={"2614B": fault})
    lab = get_lab(library)
    lab.reset()
    target = Target(preset="ag-nanowire-fresh", seed=7, visa_library=library)
    result = run_procedure(Breakdown(step=20.0, step_time=100.0), tmp_path / "b.csv", target=target)
    assert result.status == FAILED and result.error
    assert off(lab) and result.output_off
