"""Who was measured: --sample/--device/--operator/--note on the command line, in a plan
and in the GUI form reach the results file header (read back by PyMeasure) and the summary."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pymeasure.experiment import Results

from labqc.plan import parse_plan
from labqc.procedures import PROCEDURES
from labqc.procedures.spec import SPECS
from labqc.results import read_header, read_summary

ROOT = Path(__file__).resolve().parents[2]


def labqc(*args: str, env: dict | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labqc", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})


def test_command_line_metadata_in_header_pymeasure_and_summary(tmp_path):
    out = tmp_path / "sweep.csv"
    done = labqc("run", "SetReset", "--sim", "bfo", "--cycles", "1", "--sample", "W3 (BiFeO3)",
                 "--device", "NW1", "--operator", "Ana Ruiz", "--note", "after anneal: 300 °C",
                 "-o", str(out), "--no-progress")
    assert done.returncode == 0, done.stderr
    header = read_header(out)["parameters"]
    assert header["Sample"] == "W3 (BiFeO3)" and header["Device"] == "NW1"
    # The header escapes non-ASCII text as PyMeasure does (\xb0), and PyMeasure reads it as written.
    loaded = Results.load(str(out)).procedure
    assert (loaded.sample, loaded.device, loaded.operator) == ("W3 (BiFeO3)", "NW1", "Ana Ruiz")
    summary = read_summary(out)
    assert summary["sample"] == "W3 (BiFeO3)" and summary["device"] == "NW1"
    assert summary["operator"] == "Ana Ruiz" and summary["note"] == "after anneal: 300 °C"


def test_ascii_metadata_loads_back_exactly_in_pymeasure(tmp_path):
    out = tmp_path / "a.csv"
    done = labqc("run", "SetReset", "--sim", "bfo", "--cycles", "1", "--device", "NW 2",
                 "--note", "probe: tip B", "-o", str(out), "--no-progress")
    assert done.returncode == 0, done.stderr
    loaded = Results.load(str(out)).procedure
    assert (loaded.device, loaded.note) == ("NW 2", "probe: tip B")


def test_without_metadata_the_fields_are_empty_and_listed_once(tmp_path):
    out = tmp_path / "r.csv"
    done = labqc("run", "SetReset", "--sim", "bfo", "--cycles", "1", "-o", str(out), "--no-progress")
    assert done.returncode == 0, done.stderr
    assert read_summary(out)["device"] == "" and Results.load(str(out)).procedure.sample == ""
    listing = labqc("list", "SetReset").stdout
    assert "--sample" in listing and listing.count("--device") == 1  # in the closing line only


PLAN = """
[plan]
name = "meta"
sample = "W3"
operator = "ana"

[[device]]
label = "NW1"
seed = 1
[[device]]
label = "NW2"
sample = "W4"
seed = 2

[[step]]
name = "sr"
procedure = "SetReset"
[step.parameters]
cycles = 1
note = "first look"
"""


def test_plan_devices_and_plan_defaults_become_run_metadata():
    plan = parse_plan(PLAN, SPECS)
    first, second = plan.runs
    assert first.parameters["device"] == "NW1" and first.parameters["sample"] == "W3"
    assert second.parameters["device"] == "NW2" and second.parameters["sample"] == "W4"
    assert first.parameters["operator"] == "ana" and second.parameters["note"] == "first look"


def test_plan_run_writes_metadata_into_each_file(tmp_path):
    plan_file = tmp_path / "meta.toml"
    plan_file.write_text(PLAN)
    done = labqc("plan", "run", str(plan_file), "-o", str(tmp_path / "run"), "--no-progress")
    assert done.returncode == 0, done.stderr
    files = sorted((tmp_path / "run" / "steps").glob("*.csv"))
    assert len(files) == 2
    got = [(Results.load(str(f)).procedure.device, read_summary(f)["sample"]) for f in files]
    assert got == [("NW1", "W3"), ("NW2", "W4")]


def test_plan_with_non_text_sample_is_refused():
    from labqc.plan import PlanError
    import pytest
    with pytest.raises(PlanError, match="sample in \\[plan\\] must be text"):
        parse_plan(PLAN.replace('sample = "W3"', "sample = 3"), SPECS)


def test_gui_form_has_the_fields_and_the_procedure_gets_them(qtbot):
    from labqc.gui.run_control import ParameterForm

    form = ParameterForm()
    qtbot.addWidget(form)
    form.set_procedure(PROCEDURES["SetReset"])
    for attr in ("sample", "device", "operator", "note"):
        assert attr in form.fields
    form.set_value("sample", "W3")
    form.set_value("device", "NW7")
    proc = form.build()
    assert (proc.sample, proc.device) == ("W3", "NW7")
    assert json.dumps(proc.device)  # plain text, as the header writes it
