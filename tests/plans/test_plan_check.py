"""`labqc plan check`: the demo plan passes with its costs per step; each kind of problem
is one sentence; the estimates are held against what the runs then really wrote; `plan
run` refuses a disk that cannot hold the plan."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from labqc.cli import main
from labqc.instruments.sim.lab import get_lab, sim_library
from labqc.journal import JOURNAL_NAME, Journal
from labqc.procedures.plan_check import check_plan
from labqc.results import read_summary
from labqc.procedures.plan_runner import STEPS_DIR, run_plan, start_plan

DEMO = Path(__file__).resolve().parents[2] / "sample_data" / "plans" / "demo.toml"


def problems_in(err: str) -> list[str]:
    return [ln[len("  - "):] for ln in err.splitlines() if ln.startswith("  - ")]


def write(tmp_path: Path, text: str, name: str = "plan.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_demo_plan_checks_with_costs_per_step_and_in_total(tmp_path, capsys):
    assert main(["plan", "check", str(DEMO), "-o", str(tmp_path / "tonight")]) == 0
    out = capsys.readouterr().out
    table = {ln.split()[0]: ln.split() for ln in out.splitlines() if ln.startswith("  ")}
    assert set(table) >= {"setreset", "pulses", "retention", "total"}
    assert table["setreset"][1] == "4" and table["pulses"][1] == "2" and table["retention"][1] == "1"
    assert table["total"][1] == "7"
    assert "expected end if started now" in out and "free disk space" in out and "the plan can run" in out
    assert not (tmp_path / "tonight").exists()  # a check creates nothing


def test_estimates_match_what_the_runs_write(tmp_path):
    # The plan's figures come from the procedures; hold them against a real run on the simulator.
    for seed in (1, 2):
        get_lab(sim_library("bfo", seed)).reset()
    report = check_plan(DEMO)
    assert report.ok and len(report.estimates) == 7
    directory = start_plan(DEMO, tmp_path / "run")
    assert run_plan(directory, stream=None).ok
    state = Journal(directory / JOURNAL_NAME).state()
    for e in report.estimates:
        data = directory / STEPS_DIR / state.run(e.run.id).final["file"]
        summary = read_summary(data)
        assert summary["rows"] == e.rows, e.run.id  # every demo run goes to its end: exact
        size = data.stat().st_size
        assert size <= e.bytes <= 2 * size, (e.run.id, size, e.bytes)  # at most, and not wildly so
        assert abs(summary["instrument seconds"] - e.seconds) <= 0.1 * e.seconds + 0.1, e.run.id


BASE = """
[[device]]
label = "A1"
{device}

[[step]]
name = "first"
procedure = "{procedure}"
[step.parameters]
cycles = 1
set_compliance = "{compliance}"
"""


def test_unknown_procedure_is_one_sentence(tmp_path, capsys):
    plan = write(tmp_path, BASE.format(device='sim_preset = "bfo"', procedure="SetRset", compliance="1 mA"))
    assert main(["plan", "check", str(plan)]) == 2
    problems = problems_in(capsys.readouterr().err)
    assert len(problems) == 1 and "no procedure called 'SetRset'" in problems[0]


def test_compliance_above_the_instruments_limit_is_one_sentence(tmp_path, capsys):
    # 2614B: 1.5 A per channel; 4200-SMU: 100 mA (the drivers' listed limits). The 4200A is
    # named by its model only: nothing is opened, the GPIB address does not exist here.
    for device, amps, limit in (('sim_preset = "bfo"', "2 A", "1.5 A"),
                                ('resource = "GPIB0::9::INSTR"\nmodel = "4200A"', "0.5 A", "0.1 A")):
        plan = write(tmp_path, BASE.format(device=device, procedure="SetReset", compliance=amps))
        assert main(["plan", "check", str(plan)]) == 2
        problems = problems_in(capsys.readouterr().err)
        assert len(problems) == 1, problems
        assert "compliance" in problems[0] and f"exceeds {limit}" in problems[0]


def test_missing_parent_of_the_run_directory_is_one_sentence(tmp_path, capsys):
    plan = write(tmp_path, BASE.format(device='sim_preset = "bfo"', procedure="SetReset", compliance="1 mA"))
    assert main(["plan", "check", str(plan), "-o", str(tmp_path / "no" / "such" / "run")]) == 2
    problems = problems_in(capsys.readouterr().err)
    assert len(problems) == 1 and str(tmp_path / "no" / "such") in problems[0] and "does not exist" in problems[0]
    # plan run refuses it the same way, before creating anything
    assert main(["plan", "run", str(plan), "-o", str(tmp_path / "no" / "such" / "run")]) == 2
    assert problems_in(capsys.readouterr().err) == problems
    assert not (tmp_path / "no").exists()


def test_three_problems_three_sentences(tmp_path, capsys):
    text = BASE.format(device='sim_preset = "bfo"', procedure="SetReset", compliance="2 A") + """
[[step]]
name = "second"
procedure = "Sweep"
"""
    assert main(["plan", "check", str(write(tmp_path, text)), "-o", str(tmp_path / "x" / "run")]) == 2
    problems = problems_in(capsys.readouterr().err)
    assert len(problems) == 3, problems


def test_a_model_only_the_instrument_knows_is_a_warning(tmp_path, capsys):
    plan = write(tmp_path, BASE.format(device='resource = "GPIB0::9::INSTR"', procedure="SetReset",
                                       compliance="1 mA"))
    assert main(["plan", "check", str(plan)]) == 0
    assert 'add model = "2614B" or "4200A"' in capsys.readouterr().err


HUGE = """
[[device]]
label = "{label}"
{device}

[[step]]
name = "forever"
procedure = "Endurance"
[step.parameters]
method = "sweep"
cycles = 10000000
step = 0.2
"""


def test_plan_run_refuses_a_disk_too_small_unless_told(tmp_path, capsys):
    # Ten million sweep cycles at 0.2 mV steps: tens of terabytes, more than a test disk holds.
    plan = write(tmp_path, HUGE.format(label="A1", device='sim_preset = "bfo"'))
    report = check_plan(plan, tmp_path / "run")
    assert report.disk_short and report.bytes > 1e13
    assert main(["plan", "check", str(plan), "-o", str(tmp_path / "run")]) == 0  # a warning only
    assert "free at" in capsys.readouterr().err
    assert main(["plan", "run", str(plan), "-o", str(tmp_path / "run")]) == 2
    problems = problems_in(capsys.readouterr().err)
    assert len(problems) == 1 and "--ignore-disk" in problems[0]
    assert not (tmp_path / "run").exists()
    # With --ignore-disk the disk no longer stops it: the next check does (a port nobody serves).
    closed = write(tmp_path, HUGE.format(label="B1", device='resource = "TCPIP0::127.0.0.1::1::SOCKET"\n'
                                                          'model = "2614B"'), "closed.toml")
    assert main(["plan", "run", str(closed), "-o", str(tmp_path / "run2"), "--ignore-disk"]) == 2
    err = capsys.readouterr().err
    assert "cannot open its instrument" in err and "free at" not in err


RETENTION = """
[[device]]
label = "L1"
resource = "TCPIP0::10.99.99.4::5025::SOCKET"

[[step]]
name = "hold"
procedure = "Retention"
[step.parameters]
duration = 7200
interval = 60
prepare = "none"
"""


def test_expected_end_is_the_instrument_time_from_now(tmp_path):
    # Two hours of retention started at 22:00 end just after midnight, the next day.
    report = check_plan(write(tmp_path, RETENTION))
    assert report.ok and 7200 <= report.seconds < 7260
    line = report.lines(now=datetime(2026, 12, 3, 22, 0))[-1]
    assert line.startswith("expected end if started now: 00:0") and "Fri 04 Dec 2026" in line


def test_open_asks_the_instruments_as_plan_run_does(tmp_path, capsys):
    assert main(["plan", "check", str(DEMO), "--open"]) == 0  # the simulated instruments answer
    capsys.readouterr()
    closed = write(tmp_path, RETENTION.replace("10.99.99.4::5025", "127.0.0.1::1").replace(
        'label = "L1"', 'label = "L1"\nmodel = "2614B"'))
    assert main(["plan", "check", str(closed)]) == 0  # nothing opened: the listed limits hold
    capsys.readouterr()
    assert main(["plan", "check", str(closed), "--open"]) == 2
    problems = problems_in(capsys.readouterr().err)
    assert len(problems) == 1 and "device L1: cannot open its instrument" in problems[0]


def test_resume_warns_when_the_runs_left_may_not_fit(tmp_path, capsys):
    # A plan started past the disk check; its device (a port nobody serves) fails at once.
    closed = write(tmp_path, HUGE.format(label="B1", device='resource = "TCPIP0::127.0.0.1::1::SOCKET"\n'
                                                          'model = "2614B"'))
    directory = start_plan(closed, tmp_path / "run", check_instruments=False)
    assert main(["plan", "resume", str(directory), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "labqc plan resume: warning: the runs left write up to" in err and "is free at" in err
