"""Dry runs: a plan whose instruments do not exist runs on the simulated instruments of the
same models; nothing real is opened (a listening socket stays untouched, every PyVISA open
goes to the simulator); the report counts what the runs met; refusals and unknown models
are one sentence each; `labqc run --dry-run` does the same for one run."""
from __future__ import annotations

import json
import socket
import tempfile
import threading
from pathlib import Path

import pytest
import pyvisa

from labqc.cli import main
from labqc.instruments.connect import SIM_2614B
from labqc.instruments.sim.lab import get_lab, sim_library
from labqc.journal import JOURNAL_NAME, Journal
from labqc.plan import PlanError
from labqc.results import read_data, read_summary
from labqc.procedures.dry_run import dry_run_plan
from labqc.procedures.plan_runner import STEPS_DIR, open_plan, plan_status, run_plan

#: The simulator's PyVISA backend (instruments/sim/visa_backend.py); any other means real VISA.
SIM_BACKEND = "labqc.instruments.sim.visa_backend"
DEMO = Path(__file__).resolve().parents[2] / "sample_data" / "plans" / "demo.toml"


class Listener:
    """A real TCP port that counts who connects: an instrument that must not be reached."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def listener():
    lst = Listener()
    yield lst
    lst.close()


@pytest.fixture
def visa_opens(monkeypatch):
    """Every resource PyVISA opens, with the backend it was opened on (the real open runs)."""
    opened: list[tuple[str, str]] = []
    original = pyvisa.ResourceManager.open_resource

    def recording(self, resource_name, *args, **kwargs):
        opened.append((type(self.visalib).__module__, resource_name))
        return original(self, resource_name, *args, **kwargs)

    monkeypatch.setattr(pyvisa.ResourceManager, "open_resource", recording)
    return opened


NIGHT = """
[plan]
name = "night"
on_failure = "continue"

[[device]]
label = "K1"
resource = "TCPIP0::127.0.0.1::{port}::SOCKET"
model = "2614B"
seed = 1

[[device]]
label = "S2"
resource = "GPIB0::3::INSTR"
model = "4200A"
sim_preset = "ohmic"

[[device]]
label = "L3"
resource = "TCPIP0::10.99.99.1::1225::SOCKET"

[[step]]
name = "cycling"
procedure = "SetReset"
repeat = 3
[step.parameters]
cycles = 2
step = "200 mV"
[step.stop]
stuck_cycles = 2

[[step]]
name = "pulses"
procedure = "PulseTrain"
devices = ["K1", "L3"]
[step.parameters]
mode = "reset"
count = 20
pmu_load = 1000  # ohm in series on the 4200A's PMU path: what holds its pulses to 5 mA
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plan.toml"
    path.write_text(text)
    return path


def problems_in(err: str) -> list[str]:
    return [ln[len("  - "):] for ln in err.splitlines() if ln.startswith("  - ")]


def test_a_plan_of_instruments_that_do_not_exist_runs_on_their_stand_ins(tmp_path, listener, visa_opens, capsys):
    plan = write(tmp_path, NIGHT.format(port=listener.port))
    out = tmp_path / "rehearsal"
    assert main(["plan", "run", str(plan), "--dry-run", "-o", str(out), "--no-progress"]) == 0
    assert listener.accepted == 0
    assert visa_opens and all(module == SIM_BACKEND for module, _ in visa_opens), visa_opens
    assert {name for _, name in visa_opens} == {"GPIB0::26::INSTR", "GPIB0::17::INSTR"}
    report = capsys.readouterr().out
    state = Journal(out / JOURNAL_NAME).state()
    instruments = {}
    rows = hits = 0
    for f in sorted((out / STEPS_DIR).glob("*.csv")):
        summary = read_summary(f)
        instruments.setdefault(f.stem.split("-")[2], summary["instrument"])
        rows += len(read_data(f))
        hits += summary["compliance hits"]
    assert "2614B" in instruments["K1"] and "seed 1" in instruments["K1"]
    assert "4200A" in instruments["S2"] and "preset ohmic" in instruments["S2"]
    assert "4200A" in instruments["L3"]  # port 1225: the 4200A's KXCI port
    assert all("simulated" in i for i in instruments.values())
    # The report adds up what the files hold, and names the stop condition the resistor met.
    assert f"rows: {rows:,}" in report and f"compliance hits: {hits:,}" in report
    stopped = [i for i, rs in state.runs.items() if rs.final and rs.final.get("stop")]
    assert stopped and all("-S2-" in i for i in stopped)
    assert f"stop conditions fired: {len(stopped)}" in report and stopped[0] in report
    assert "skipped: 2" in report and "refusals: 0" in report


def test_demo_dry_run_goes_to_a_throwaway_directory(tmp_path, capsys):
    assert main(["plan", "run", str(DEMO), "--dry-run", "--no-progress"]) == 0
    head = capsys.readouterr().out.splitlines()[0]
    assert "7 of 7 runs done" in head
    directory = Path(head.rsplit(" in ", 1)[1])
    assert Path(tempfile.gettempdir()) in directory.parents
    assert len(list((directory / STEPS_DIR).glob("*.csv"))) == 7


def test_sim_and_seed_choose_the_simulated_devices(tmp_path):
    def run(name: str):
        for seed in (5, 6):
            get_lab(sim_library("ag-nanowire", seed)).reset()
        report = dry_run_plan(DEMO, tmp_path / name, preset="ag-nanowire", seed=5, stream=None)
        assert report.ok
        return {f.name: (read_summary(f)["instrument"], read_data(f)["Current (A)"].tolist())
                for f in sorted((tmp_path / name / STEPS_DIR).glob("*.csv"))}

    first, again = run("a"), run("b")
    assert first == again  # the same preset and seeds: the same night
    a1 = first["001-setreset-A1-set_compliance=2mA.csv"][0]
    a2 = first["003-setreset-A2-set_compliance=2mA.csv"][0]
    assert "preset ag-nanowire, seed 5" in a1 and "preset ag-nanowire, seed 6" in a2


def test_a_dry_run_directory_stays_a_dry_run(tmp_path, listener):
    report = dry_run_plan(write(tmp_path, NIGHT.format(port=listener.port)), tmp_path / "run", stream=None)
    plan, _ = open_plan(report.directory)
    assert {d.resource for d in plan.devices} == {"GPIB0::26::INSTR", "GPIB0::17::INSTR"}
    assert run_plan(report.directory, stream=None).ok  # resuming it opens nothing real either
    assert listener.accepted == 0
    assert "a dry run on the simulated instruments" in plan_status(report.directory)[0]


def test_a_device_whose_model_cannot_be_told_is_one_sentence(tmp_path, capsys):
    text = NIGHT.format(port=1).replace('model = "4200A"\n', "")
    assert main(["plan", "run", str(write(tmp_path, text)), "--dry-run", "-o", str(tmp_path / "run")]) == 2
    problems = problems_in(capsys.readouterr().err)
    assert len(problems) == 1 and "device S2" in problems[0] and 'model = "2614B" or "4200A"' in problems[0]
    assert not (tmp_path / "run").exists()


def test_a_request_the_instrument_refuses_stops_the_rehearsal_as_it_would_the_night(tmp_path, capsys):
    # 0.5 A is within the 2614B's 1.5 A but above the 4200-SMU's 100 mA.
    text = NIGHT.format(port=1).replace('step = "200 mV"', 'step = "200 mV"\nset_compliance = "500 mA"')
    assert main(["plan", "run", str(write(tmp_path, text)), "--dry-run", "-o", str(tmp_path / "run")]) == 2
    problems = problems_in(capsys.readouterr().err)
    assert problems and all("-S2-" in p or "-L3-" in p for p in problems)
    assert all("4200A" in p and "exceeds 0.1 A" in p for p in problems)


RETRY = """
[plan]
retries = 1

[[device]]
label = "R"
resource = "TCPIP0::10.99.99.2::5025::SOCKET"
seed = 41

[[step]]
name = "loops"
procedure = "VoltageSweep"
[step.parameters]
cycles = 2
step = 100
v_set = 1.0
v_reset = 1.0
"""


def clean_messages(tmp_path: Path, plan: Path) -> int:
    """Messages the stand-in 2614B receives in a clean rehearsal of ``plan`` (seed 41)."""
    lab = get_lab(sim_library("bfo", 41))
    lab.reset()
    assert dry_run_plan(plan, tmp_path / "clean", stream=None).ok
    return lab.emulator(SIM_2614B).messages


def test_injected_faults_rehearse_retries(tmp_path, capsys):
    # An instrument error halfway through a clean rehearsal's messages fails the first
    # attempt once; the plan's retry goes through.
    plan = write(tmp_path, RETRY)
    faults = f"2614B=error@{clean_messages(tmp_path, plan) // 2}:-286"
    get_lab(sim_library("bfo", 41, 0.0, faults)).reset()
    assert main(["plan", "run", str(plan), "--dry-run", "--faults", faults, "-o", str(tmp_path / "run"),
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "retries: 1\n    001-loops-R attempt 1: InstrumentReportedError" in out
    assert "failures: 0" in out and "refusals: 0" in out


def test_injected_faults_rehearse_a_stop(tmp_path, capsys):
    # The same fault with no retry left: the plan's policy (stop) ends the rehearsal, exit 1.
    plan = write(tmp_path, RETRY.replace("retries = 1", "retries = 0"))
    faults = f"2614B=drop@{clean_messages(tmp_path, plan) // 2}"
    get_lab(sim_library("bfo", 41, 0.0, faults)).reset()
    assert main(["plan", "run", str(plan), "--dry-run", "--faults", faults, "-o", str(tmp_path / "run"),
                 "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "dry run failed: 0 of 1 runs done" in err
    assert "failures: 1\n    001-loops-R: connection to GPIB0::26::INSTR lost" in err


def test_unreadable_faults_are_one_sentence(tmp_path, capsys):
    assert main(["plan", "run", str(write(tmp_path, RETRY)), "--dry-run", "--faults", "2614B=melt@3",
                 "-o", str(tmp_path / "run")]) == 2
    problems = problems_in(capsys.readouterr().err)
    assert len(problems) == 1 and "2614B=melt@3" in problems[0]


def test_labqc_run_dry_run_replaces_the_instrument(tmp_path, listener, visa_opens, capsys):
    resource = f"TCPIP0::127.0.0.1::{listener.port}::SOCKET"
    args = ["run", "SetReset", "--cycles", "1", "--no-progress", "--dry-run"]
    assert main(args + ["--resource", resource, "--model", "2614B"]) == 0
    captured = capsys.readouterr()
    assert listener.accepted == 0 and visa_opens == [(SIM_BACKEND, "GPIB0::26::INSTR")] * len(visa_opens)
    path = Path(captured.out.split("data:")[1].split()[0])
    assert Path(tempfile.gettempdir()) in path.parents and "simulated" in read_summary(path)["instrument"]
    assert "dry run:" in captured.err and "stood in for by the simulated 2614B" in captured.err

    out = tmp_path / "lan.csv"  # the KXCI port names a 4200A; -o is honoured
    assert main(args + ["--resource", "TCPIP0::10.99.99.3::1225::SOCKET", "--sim", "ag-nanowire",
                        "-o", str(out)]) == 0
    summary = read_summary(out)
    assert "4200A" in summary["instrument"] and "preset ag-nanowire" in summary["instrument"]
    capsys.readouterr()

    assert main(args + ["--resource", "GPIB0::5::INSTR"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--model 2614B or --model 4200A" in err[0]


BENCH = """
[[device]]
label = "P1"
resource = "TCPIP0::10.99.99.5::5025::SOCKET"

[[device]]
label = "P2"
resource = "TCPIP0::10.99.99.6::5025::SOCKET"

[[step]]
name = "cycling"
procedure = "SetReset"
[step.parameters]
cycles = 1
"""


def test_bench_devices_rehearse_on_devices_of_their_own(tmp_path):
    # Instruments on the bench name no seed: the two stand-ins must still be two devices.
    report = dry_run_plan(write(tmp_path, BENCH), tmp_path / "run", stream=None)
    assert report.ok
    plan, _ = open_plan(report.directory)
    assert len({(d.resource, d.sim_preset, d.seed) for d in plan.devices}) == 2
    seeds = [read_summary(f)["instrument"].rsplit("seed ", 1)[1] for f in sorted((report.directory / STEPS_DIR).glob("*.csv"))]
    assert len(set(seeds)) == 2
