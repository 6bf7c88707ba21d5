"""The plan runner and `labqc plan`: the demo plan end to end, stop conditions, resume
after a stop and after kill -9 (no missing, no duplicated rows; the partial file kept
and marked), refusal of changed plans, instrument checks before the first step."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labqc.instruments.sim.lab import RES_2614B_LAN, SimulatedLab, get_lab, sim_library
from labqc.instruments.sim.server import start_background
from labqc.cli import main
from labqc.journal import JOURNAL_NAME, Journal
from labqc.plan import PlanError
from labqc.results import read_data, read_summary
from labqc.procedures import VoltageSweep
from labqc.procedures.plan_runner import (LOG_NAME, PLAN_NAME, STEPS_DIR, plan_status, run_plan,
                                    start_plan)
from labqc.procedures.runner import ABORTED, FINISHED, Target, run_procedure

DEMO = Path(__file__).resolve().parents[2] / "sample_data" / "plans" / "demo.toml"


def errors(capsys) -> str:
    return "\n".join(ln for ln in capsys.readouterr().err.splitlines() if "commands are unavailable" not in ln)


def test_demo_plan_runs_and_reports(tmp_path, capsys):
    for seed in (1, 2):
        get_lab(sim_library("bfo", seed)).reset()
    out = tmp_path / "demo"
    assert main(["plan", "run", str(DEMO), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "[1/7] 001-setreset-A1-set_compliance=2mA" in err and "ETA" in err and "instrument time" in err
    assert (out / PLAN_NAME).read_text() == DEMO.read_text()
    assert "plan finished" in (out / LOG_NAME).read_text()
    files = sorted((out / STEPS_DIR).glob("*.csv"))
    assert len(files) == 7
    for f in files:
        assert read_summary(f)["status"] == "finished" and len(read_data(f)) > 0
    assert main(["plan", "status", str(out)]) == 0
    status = capsys.readouterr().out
    assert "7 of 7 runs done (7 finished)" in status and "007-retention-A1" in status


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "plan.toml"
    path.write_text(text)
    return path


STUCK = """
[[device]]
label = "R"
sim_preset = "ohmic"
seed = 3

[[step]]
name = "cycling"
procedure = "SetReset"
repeat = 4
[step.parameters]
cycles = 2
step = "200 mV"
[step.stop]
stuck_cycles = 3
"""


def test_stop_condition_skips_the_rest_of_the_step(tmp_path):
    # A resistor (above 1 G0) never switches: after the second run it is stuck for 4 cycles.
    get_lab(sim_library("ohmic", 3)).reset()
    directory = start_plan(write(tmp_path, STUCK), tmp_path / "run")
    result = run_plan(directory, stream=None)
    assert result.status == FINISHED
    state = Journal(directory / JOURNAL_NAME).state()
    statuses = [state.run(f"00{k}-cycling-R-r{k}").status for k in range(1, 5)]
    assert statuses == ["finished", "finished", "skipped", "skipped"]
    assert state.run("002-cycling-R-r2").final["stop"].startswith("stuck in LRS for 4 cycles")
    assert "stop condition of step cycling on R" in state.run("003-cycling-R-r3").final["reason"]


SWEEPS = """
[plan]
time_scale = {scale}

[[device]]
label = "D"
{where}

[[step]]
name = "loops"
procedure = "VoltageSweep"
repeat = 3
[step.parameters]
cycles = 2
step = 50
v_set = 1.0
v_reset = 1.0
"""


def test_stop_request_then_resume(tmp_path):
    get_lab(sim_library("bfo", 8)).reset()
    directory = start_plan(write(tmp_path, SWEEPS.format(scale=0, where='sim_preset = "bfo"\nseed = 8')),
                           tmp_path / "run")
    seen = {"runs ended": 0, "batches since": 0}

    def count(topic, payload):
        if topic == "status":
            seen["runs ended"] += 1
        elif topic == "batch" and seen["runs ended"] == 1:
            seen["batches since"] += 1

    first = run_plan(directory, stream=None, listeners=[count],
                     should_stop=lambda: seen["batches since"] >= 2)  # two chunks into run 2
    assert first.status == ABORTED and "002-loops-D-r2" in first.message
    assert "aborted" in "\n".join(plan_status(directory))
    second = run_plan(directory, stream=None)
    assert second.status == FINISHED and second.done == 3
    state = Journal(directory / JOURNAL_NAME).state()
    run2 = state.run("002-loops-D-r2")
    assert run2.attempts == 2 and run2.final["file"] == "002-loops-D-r2.try2.csv"
    assert (directory / STEPS_DIR / "002-loops-D-r2.csv").exists()  # the cut-short file is kept


def test_changed_plan_and_busy_directory_are_refused(tmp_path, capsys):
    get_lab(sim_library("bfo", 8)).reset()
    plan = write(tmp_path, SWEEPS.format(scale=0, where='sim_preset = "bfo"\nseed = 8'))
    directory = start_plan(plan, tmp_path / "run", check_instruments=False)
    assert main(["plan", "run", str(plan), "-o", str(directory)]) == 2
    assert "is not empty" in errors(capsys)
    (directory / PLAN_NAME).write_text(plan.read_text().replace("cycles = 2", "cycles = 5"))
    assert main(["plan", "resume", str(directory)]) == 2
    assert "was changed after the plan started" in errors(capsys)
    assert main(["plan", "status", str(tmp_path)]) == 2
    assert "not a plan run directory" in errors(capsys)


def test_instrument_limits_are_checked_before_the_first_step(tmp_path, capsys):
    text = SWEEPS.format(scale=0, where='sim_preset = "bfo"\nseed = 8').replace("v_set = 1.0", "v_set = 205.0")
    lab = get_lab(sim_library("bfo", 8))
    lab.reset()
    code = main(["plan", "run", str(write(tmp_path, text)), "-o", str(tmp_path / "run")])
    err = errors(capsys)
    assert code == 2 and "001-loops-D-r1" in err and "exceeds the maximum of 200 V" in err
    assert not (tmp_path / "run").exists()
    assert not lab.emulator("GPIB0::26::INSTR").any_output_on


def test_invalid_plan_lists_every_problem_and_exits_2(tmp_path, capsys):
    text = SWEEPS.format(scale=0, where='seed = -1').replace("cycles = 2", "cycles = 0")
    assert main(["plan", "run", str(write(tmp_path, text)), "-o", str(tmp_path / "run")]) == 2
    err = errors(capsys)
    assert "has 2 problems" in err and "seed of device D" in err and "at least 1" in err


# ------------------------------------------------------------------ kill -9
def expected_rows(tmp_path) -> "object":
    """The programmed sequence of one run (what every complete step file must hold)."""
    get_lab(sim_library("bfo", 99)).reset()
    result = run_procedure(VoltageSweep(cycles=2, step=50, v_set=1.0, v_reset=1.0), tmp_path / "reference.csv",
                           target=Target(preset="bfo", seed=99))
    return read_data(result.path)[["Source (V|A)", "Cycle", "Segment", "Pulse"]]


def start_plan_run(tmp_path, server) -> tuple[subprocess.Popen, Path]:
    """`labqc plan run` of the SWEEPS plan on the server's 2614B, as a subprocess."""
    plan = write(tmp_path, SWEEPS.format(scale=0, where=f'resource = "{server.resources["2614B"]}"'))
    directory = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "labqc.cli", "plan", "run", str(plan), "-o", str(directory),
                             "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, directory


def wait_until_streaming(proc: subprocess.Popen, lab, step_file: Path) -> None:
    """Until the step writing ``step_file`` has rows on disk with the output on."""
    deadline = time.monotonic() + 60
    while not (step_file.exists() and len(read_data(step_file)) > 0 and lab.emulator(RES_2614B_LAN).any_output_on):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{step_file.name} never started streaming"
        time.sleep(0.02)


def test_kill_9_mid_step_then_resume(tmp_path):
    lab = SimulatedLab("bfo", seed=4, time_scale=1.0)
    server = start_background(lab, port_2614b=0, port_4200a=None)
    try:
        proc, directory = start_plan_run(tmp_path, server)
        victim = directory / STEPS_DIR / "002-loops-D-r2.csv"
        wait_until_streaming(proc, lab, victim)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        rows_at_kill = len(read_data(victim))

        lab.clock.time_scale = 0.0  # the rest as fast as possible
        assert main(["plan", "resume", str(directory), "--no-progress"]) == 0
        assert not lab.emulator(RES_2614B_LAN).any_output_on
        log = (directory / LOG_NAME).read_text()
        assert "outputs of D turned off after the interruption" in log

        state = Journal(directory / JOURNAL_NAME).state()
        partial = directory / STEPS_DIR / "002-loops-D-r2.partial.csv"
        assert partial.exists() and not victim.exists()  # renamed, not overwritten
        assert state.run("002-loops-D-r2").partials[0]["kept_as"] == partial.name
        kept = read_data(partial)
        assert len(kept) >= rows_at_kill and state.run("002-loops-D-r2").partials[0]["rows"] == len(kept)
        reference = expected_rows(tmp_path)
        assert 0 < len(kept) < len(reference)
        finals = []
        for k in (1, 2, 3):
            final = state.run(f"00{k}-loops-D-r{k}").final
            assert final["status"] == FINISHED
            finals.append(final["file"])
            data = read_data(directory / STEPS_DIR / final["file"])
            # each step's final file complete: exactly the programmed rows, none twice, none missing
            assert data[["Source (V|A)", "Cycle", "Segment", "Pulse"]].equals(reference)
            assert data["Time (s)"].is_monotonic_increasing
        assert finals[1] == "002-loops-D-r2.try2.csv"
        records = [json.loads(line) for line in (directory / JOURNAL_NAME).read_text().splitlines()]
        assert sum(r["event"] == "end" and r.get("final") for r in records) == 3
    finally:
        server.stop()


def test_sigterm_stops_the_plan_and_resume_finishes_it(tmp_path):
    """SIGTERM to `labqc plan run`: exit 143, the message names the signal, the step cut
    short runs again on resume."""
    lab = SimulatedLab("bfo", seed=6, time_scale=1.0)
    server = start_background(lab, port_2614b=0, port_4200a=None)
    try:
        proc, directory = start_plan_run(tmp_path, server)
        first = directory / STEPS_DIR / "001-loops-D-r1.csv"
        wait_until_streaming(proc, lab, first)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 143, err
        assert "stopped by SIGTERM" in err and "001-loops-D-r1" in err
        assert not lab.emulator(RES_2614B_LAN).any_output_on
        state = Journal(directory / JOURNAL_NAME).state()
        assert state.run("001-loops-D-r1").status == "aborted"
        lab.clock.time_scale = 0.0
        assert run_plan(directory, stream=None).status == FINISHED
        assert Journal(directory / JOURNAL_NAME).state().run("001-loops-D-r1").final["file"] == "001-loops-D-r1.try2.csv"
    finally:
        server.stop()
