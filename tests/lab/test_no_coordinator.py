"""`labqc lab ...` with no coordinator running says so in one sentence, at once: it does not
wait out PyLECO's sign-in and sign-out timeouts (2 s each) first."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from labqc.procedures.station_director import LabDirector, LabError

from .conftest import ROOT, free_port


def test_lab_status_without_a_coordinator_says_so_in_one_sentence(tmp_path):
    port = free_port()  # nothing listens there
    env = {**os.environ, "LABQC_LAB": str(tmp_path / "lab")}
    done = subprocess.run([sys.executable, "-m", "labqc", "lab", "--coordinator", f"127.0.0.1:{port}", "status"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stdout == ""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr  # no PyLECO "timed out" log lines before it
    assert lines[0].startswith(f"labqc lab status: no coordinator at 127.0.0.1:{port} ")
    assert "`labqc lab coordinator`" in lines[0] and "Traceback" not in done.stderr


def test_a_director_is_refused_before_any_answer_timeout(tmp_path):
    # With a 30 s answer timeout, signing in and out would take a minute; the refused
    # connection is seen long before. The lab folder is not created for nothing.
    port = free_port()
    start = time.monotonic()
    with pytest.raises(LabError, match=f"no coordinator at 127.0.0.1:{port}"):
        LabDirector("alice", "127.0.0.1", port, lab=tmp_path / "lab", timeout=30.0)
    assert time.monotonic() - start < 10.0
    assert not (tmp_path / "lab").exists()


def test_lab_runs_without_a_coordinator_lists_the_runs_as_last_pulled(tmp_path):
    from labqc.procedures.station_director import LAB_DB, CentralRuns

    port = free_port()
    env = {**os.environ, "LABQC_LAB": str(tmp_path / "lab")}
    command = [sys.executable, "-m", "labqc", "lab", "--coordinator", f"127.0.0.1:{port}", "runs", "--json"]
    nothing = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert nothing.returncode == 1 and f"no coordinator at 127.0.0.1:{port}" in nothing.stderr

    central = CentralRuns(tmp_path / "lab" / LAB_DB)  # as an earlier `labqc lab runs` left it
    central.replace_station("probe2", [{"id": 7, "device": "NW1", "procedure": "SetReset", "status": "finished",
                                        "started": "2026-12-01T10:00:00", "rows": 12, "file": "a.csv"}])
    central.close()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "warning: no coordinator at" in done.stderr and "as last pulled" in done.stderr
    (row,) = json.loads(done.stdout)
    assert row["station"] == "probe2" and row["id"] == 7 and row["device"] == "NW1"
