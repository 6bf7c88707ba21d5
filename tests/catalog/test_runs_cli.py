"""`labqc runs list/show/import/verify` on real files: filters, JSON, import of loose
results files and plan folders (twice adds nothing), verify's findings and exit code."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pandas as pd

from labqc.catalog import Catalog

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_data"


def labqc(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "LABQC_CATALOG"}
    return subprocess.run([sys.executable, "-m", "labqc", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=env)


def stamp(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()  # local time, as the command line reads dates


def fill(path: Path) -> dict[str, int]:
    """Six runs on three devices over three days; returns name -> id."""
    made = {}
    with Catalog(path) as cat:
        for name, device, sample, proc, day, status in [
                ("a", "NW1", "W1", "CurrentSweep", "2026-11-01T10:00", "finished"),
                ("b", "NW2", "W1", "CurrentSweep", "2026-11-02T10:00", "finished"),
                ("c", "NW3", "W2", "CurrentSweep", "2026-11-02T23:30", "aborted"),
                ("d", "NW1", "W1", "Endurance", "2026-11-03T08:00", "stuck"),
                ("e", "nw2", "W1", "SetReset", "2026-11-03T09:00", "failed"),
                ("f", "NW2", "W2", "CurrentSweep", "2026-11-04T09:00", "running")]:
            made[name] = cat.register(file=path.parent / f"{name}.csv", device=device, sample=sample,
                                      procedure=proc, started=stamp(day), status=status, rows=10)
    return made


def listed(*args: str) -> list[dict]:
    done = labqc("runs", "list", "--json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_list_filters_and_json(tmp_path):
    ids = fill(tmp_path / "catalog.sqlite")
    cat = ["--catalog", str(tmp_path)]
    every = listed(*cat)
    assert [r["id"] for r in every] == [ids[k] for k in "abcdef"]  # oldest first
    for r in every:
        assert {"id", "sample", "device", "procedure", "status", "rows", "file", "started", "finished"} <= set(r)
    by = lambda *a: [r["file"] for r in listed(*cat, *a)]  # noqa: E731
    assert by("--device", "NW1", "--device", "NW3") == ["a.csv", "c.csv", "d.csv"]
    assert by("--device", "nw2") == ["b.csv", "e.csv", "f.csv"]  # names match without case
    assert by("--procedure", "CurrentSweep", "--sample", "W1") == ["a.csv", "b.csv"]
    assert by("--status", "stuck", "--status", "failed") == ["d.csv", "e.csv"]
    assert by("--since", "2026-11-02", "--until", "2026-11-02") == ["b.csv", "c.csv"]  # the whole day
    assert by("--since", "2026-11-03T08:30") == ["e.csv", "f.csv"]
    assert listed(*cat, "--device", "NW7") == []
    assert [Path(r["path"]) for r in every] == [tmp_path / f"{k}.csv" for k in "abcdef"]
    started = listed(*cat, "--device", "NW1")[0]["started"]
    assert datetime.fromisoformat(started).timestamp() == stamp("2026-11-01T10:00")
    table = labqc("runs", "list", *cat, "--procedure", "Endurance")
    assert table.returncode == 0 and "stuck" in table.stdout and "d.csv" in table.stdout


def test_bad_date_is_one_sentence(tmp_path):
    fill(tmp_path / "catalog.sqlite")
    done = labqc("runs", "list", "--catalog", str(tmp_path), "--since", "last tuesday")
    assert done.returncode == 2 and "is not a date" in done.stderr


def test_show_one_run(tmp_path):
    out = tmp_path / "r.csv"
    assert labqc("run", "SetReset", "--cycles", "1", "--note", "check", "-o", str(out), "--no-progress").returncode == 0
    done = labqc("runs", "show", "1", "--catalog", str(tmp_path), "--json")
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    assert run["note"] == "check" and run["parameters"]["Cycles"] == "1"
    assert run["rows"] == len(pd.read_csv(out, comment="#"))
    summary = json.loads((tmp_path / "r.summary.json").read_text())["results"]
    assert run["summary"]["cycles done"] == 1 == len(summary["per cycle"])  # the summary's own figures
    assert run["summary"]["median LRS G/G0"] == summary["median LRS G/G0"]
    text = labqc("runs", "show", "1", "--catalog", str(tmp_path))
    assert "note:" in text.stdout and "parameters:" in text.stdout
    # the header stores SetReset's default SET compliance as "0.0001 A": shown as typed, 100 µA
    assert "  SET compliance: 100 µA\n" in text.stdout and "0.0001 A" not in text.stdout
    assert "  RESET compliance: 10 mA\n" in text.stdout
    missing = labqc("runs", "show", "99", "--catalog", str(tmp_path))
    assert missing.returncode == 1 and "no run 99" in missing.stderr


def test_import_loose_files_and_a_plan_folder_twice(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for name in ("ag-current-sweep", "bfo-set-reset"):
        for suffix in (".csv", ".summary.json"):
            shutil.copy(SAMPLES / f"{name}{suffix}", data / f"{name}{suffix}")
    (data / "notes.csv").write_text("a,b\n1,2\n")  # not a results file
    plan = tmp_path / "plans" / "demo"
    plan.parent.mkdir()
    done = labqc("plan", "run", str(SAMPLES / "plans" / "demo.toml"), "-o", str(plan), "--no-progress",
                 "--catalog", str(tmp_path / "elsewhere"))
    assert done.returncode == 0, done.stderr
    steps = sorted((plan / "steps").glob("*.csv"))
    # a run killed before it ended: its file without a summary
    torn = plan / "steps" / "999-killed-A1.partial.csv"
    torn.write_text(steps[0].read_text()[:-5])
    cat = ["--catalog", str(tmp_path / "index.sqlite")]
    first = labqc("runs", "import", str(data), str(tmp_path / "plans"), *cat)
    assert first.returncode == 0, first.stderr
    assert f"imported {2 + len(steps) + 1} runs" in first.stdout and "1 .csv files that are not" in first.stdout
    second = labqc("runs", "import", str(data), str(tmp_path / "plans"), *cat)
    assert "imported 0 runs" in second.stdout
    runs = listed(*cat)
    assert len(runs) == 2 + len(steps) + 1
    in_plan = [r for r in runs if r["plan"] == "demo"]
    assert len(in_plan) == len(steps) + 1
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10
        import tomli as tomllib
    labels = {d["label"] for d in tomllib.loads((SAMPLES / "plans" / "demo.toml").read_text())["device"]}
    assert {r["device"] for r in in_plan} == labels  # each run knows the device it was measured on
    for r in in_plan:
        assert f"-{r['device']}" in r["file"]
    killed = [r for r in runs if r["file"].endswith("999-killed-A1.partial.csv")][0]
    assert killed["status"] == "failed" and killed["rows"] == len(pd.read_csv(torn, comment="#")) - 1
    sweep = [r for r in runs if r["file"].endswith("ag-current-sweep.csv")][0]
    assert sweep["procedure"] == "CurrentSweep" and sweep["status"] == "finished" and sweep["rows"] == 1004


def test_verify_reports_missing_and_changed_files(tmp_path):
    for k in range(3):
        assert labqc("run", "SetReset", "--cycles", "1", "-o", str(tmp_path / f"r{k}.csv"),
                     "--no-progress").returncode == 0
    ok = labqc("runs", "verify", "--catalog", str(tmp_path))
    assert ok.returncode == 0 and "3 runs" in ok.stdout
    (tmp_path / "r0.csv").unlink()
    with open(tmp_path / "r2.csv", "a") as f:
        f.write("0,0,0,0,0,0,0,False,1,read,-1\n")
    bad = labqc("runs", "verify", "--catalog", str(tmp_path))
    assert bad.returncode == 1
    assert "run 1: its file" in bad.stdout and "is missing" in bad.stdout
    assert "run 3:" in bad.stdout and "changed since it was registered" in bad.stdout
    assert "run 2" not in bad.stdout


def test_labqc_catalog_names_the_catalog_and_a_dry_run_is_not_recorded(tmp_path):
    env = {**os.environ, "LABQC_CATALOG": str(tmp_path / "lab.sqlite")}
    run = lambda *a: subprocess.run([sys.executable, "-m", "labqc", *a], cwd=ROOT, env=env,  # noqa: E731
                                    capture_output=True, text=True, timeout=300)
    assert run("run", "SetReset", "--cycles", "1", "-o", str(tmp_path / "d" / "x.csv"), "--no-progress").returncode == 0
    assert run("run", "SetReset", "--cycles", "1", "--dry-run", "-o", str(tmp_path / "y.csv"),
               "--no-progress").returncode == 0
    (tmp_path / "plans").mkdir()
    rehearsal = run("plan", "run", str(SAMPLES / "plans" / "demo.toml"), "--dry-run", "-o", str(tmp_path / "plans" / "r"),
                    "--no-progress")
    assert rehearsal.returncode == 0, rehearsal.stderr
    assert list((tmp_path / "plans" / "r" / "steps").glob("*.csv"))  # it did measure (on the simulator)
    assert not (tmp_path / "d" / "catalog.sqlite").exists()
    with Catalog(tmp_path / "lab.sqlite", create=False) as cat:
        assert [Path(r["path"]).name for r in cat.runs()] == ["x.csv"]


def test_a_run_that_stopped_stuck_is_catalogued_stuck_and_imports_so(tmp_path):
    # A RESET too weak to reset the filament: the device stays in LRS and the run stops.
    done = labqc("run", "Endurance", "--sim", "ag-nanowire", "--cycles", "20", "--reset-voltage", "-0.05",
                 "--stuck-cycles", "3", "-o", str(tmp_path / "e.csv"), "--no-progress")
    assert done.returncode == 0, done.stderr
    assert "stuck in LRS" in read_summary_text(tmp_path / "e.summary.json")
    assert [r["status"] for r in listed("--catalog", str(tmp_path))] == ["stuck"]
    imported = labqc("runs", "import", str(tmp_path), "--catalog", str(tmp_path / "other.sqlite"))
    assert imported.returncode == 0
    assert [r["status"] for r in listed("--catalog", str(tmp_path / "other.sqlite"))] == ["stuck"]


def read_summary_text(path: Path) -> str:
    return json.loads(path.read_text())["results"]["stop reason"]


def test_import_finds_the_device_of_an_older_plan_file_from_its_run_id(tmp_path):
    """Files written before runs recorded their device: the plan's device label in the
    file name (the run id) says which device it was."""
    run_dir = tmp_path / "old"
    shutil.copytree(SAMPLES / "multi-device", run_dir)
    for f in (run_dir / "steps").glob("*"):
        if f.suffix == ".csv":
            f.write_text("".join(ln for ln in f.read_text().splitlines(keepends=True) if not ln.startswith("#\tDevice:")))
        else:
            data = json.loads(f.read_text())
            data.pop("device", None)
            f.write_text(json.dumps(data))
    done = labqc("runs", "import", str(run_dir), "--catalog", str(tmp_path / "c.sqlite"))
    assert done.returncode == 0, done.stderr
    runs = listed("--catalog", str(tmp_path / "c.sqlite"))
    assert len(runs) == 15
    for r in runs:
        assert r["device"] == Path(r["file"]).name.split("-")[2].split(".")[0]  # 001-sweep-NW1-r1.csv
