"""The run catalog under stress, with real processes and real files: runs register at
their start and complete at their end, a killed run stays "running" until verify marks
it, two writers lose nothing, kill -9 mid-write leaves a whole catalog, and a read-only
or corrupt catalog costs one sentence and no data."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import pytest

from labqc.catalog import Catalog
from labqc.catalog_files import file_sha256

ROOT = Path(__file__).resolve().parents[2]


def labqc(*args: str, cwd: Path = ROOT, **kw) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "LABQC_CATALOG"}
    return subprocess.run([sys.executable, "-m", "labqc", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=env, **kw)


def rows_in(csv: Path) -> int:
    return len(pd.read_csv(csv, comment="#"))


def catalogued(cat_path: Path, **filters) -> list[dict]:
    """The runs in the catalog at ``cat_path`` ([] while there is none)."""
    if not cat_path.exists():
        return []
    with Catalog(cat_path, create=False) as cat:
        return cat.runs(**filters)


def kill_9_when(proc: subprocess.Popen, ready: Callable[[], Any], settle: float = 0.0) -> Any:
    """kill -9 ``proc`` once ``ready()`` returns something (up to 60 s) and ``settle`` s
    more; what ready() returned last. The process is killed however this ends."""
    try:
        deadline = time.monotonic() + 60
        found = ready()
        while not found and time.monotonic() < deadline:
            time.sleep(0.1)
            found = ready()
        time.sleep(settle)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        return found
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_cli_run_is_registered_then_completed_with_its_file(tmp_path):
    out = tmp_path / "res" / "sr.csv"
    done = labqc("run", "SetReset", "--cycles", "2", "--sample", "W1", "--device", "NW3", "-o", str(out),
                 "--no-progress")
    assert done.returncode == 0, done.stderr
    with Catalog(tmp_path / "res" / "catalog.sqlite", create=False) as cat:  # beside the results
        (run,) = cat.runs()
    assert (run["sample"], run["device"], run["procedure"], run["status"]) == ("W1", "NW3", "SetReset", "finished")
    assert run["rows"] == rows_in(out) and run["sha256"] == file_sha256(out)
    assert Path(run["path"]) == out and run["file"] == "sr.csv"  # stored relative to the catalog
    assert run["started"] <= run["finished"]
    assert f"catalog: run {run['id']}" in done.stdout


def test_a_killed_run_stays_running_until_verify_marks_it(tmp_path):
    out = tmp_path / "ret.csv"
    cat_path = tmp_path / "catalog.sqlite"
    env = {k: v for k, v in os.environ.items() if k != "LABQC_CATALOG"}
    proc = subprocess.Popen([sys.executable, "-m", "labqc", "run", "Retention", "--duration", "200",
                             "--interval", "1", "--time-scale", "0.2", "--device", "NW9", "-o", str(out),
                             "--no-progress"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    runs = kill_9_when(proc, lambda: out.exists() and rows_in(out) >= 3 and catalogued(cat_path))
    assert runs, "the run was not catalogued with rows on disk within 60 s"
    run = runs[0]
    assert run["status"] == "running" and run["pid"] == proc.pid
    with Catalog(cat_path, create=False) as cat:
        assert cat.get(run["id"])["status"] == "running"  # nothing could complete it
    first = labqc("runs", "verify", "--catalog", str(cat_path))
    assert first.returncode == 1
    assert f"run {run['id']}: left running" in first.stdout
    with Catalog(cat_path, create=False) as cat:
        marked = cat.get(run["id"])
    assert marked["status"] == "failed" and marked["rows"] == rows_in(out) > 0
    assert marked["sha256"] == file_sha256(out)
    again = labqc("runs", "verify", "--catalog", str(cat_path))
    assert again.returncode == 0, again.stdout  # marked once, now consistent


WRITER = textwrap.dedent("""
    import sys, time
    from labqc.catalog import Catalog
    path, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    for k in range(n):
        with Catalog(path) as cat:
            run_id = cat.register(file=f"{tag}-{k}.csv", device=tag, procedure="CurrentSweep", started=time.time())
        with Catalog(path) as cat:
            cat.complete(run_id, status="finished", rows=k, sha256="x" * 64, summary={"k": k})
        print(run_id, flush=True)
""")


def test_two_writer_processes_lose_nothing(tmp_path):
    path = tmp_path / "catalog.sqlite"
    n = 150
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), tag, str(n)], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True) for tag in ("gui", "plan")]
    outs = [p.communicate(timeout=240)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    ids = [int(x) for out in outs for x in out.split()]
    assert len(ids) == len(set(ids)) == 2 * n
    with Catalog(path, create=False) as cat:
        runs = cat.runs()
        assert len(runs) == 2 * n
        assert {r["status"] for r in runs} == {"finished"}
        for tag in ("gui", "plan"):
            mine = cat.runs(device=[tag], full=True)
            assert sorted(r["rows"] for r in mine) == list(range(n))
            assert all(r["summary"] == {"k": r["rows"]} for r in mine)
        assert cat.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_kill_9_while_registering_leaves_a_whole_catalog(tmp_path):
    path = tmp_path / "catalog.sqlite"
    Catalog(path).close()
    for round_ in range(4):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"k{round_}", "100000"], cwd=ROOT,
                                stdout=subprocess.PIPE, text=True)
        first = proc.stdout.readline()  # it is writing now
        assert first.strip()
        time.sleep(0.15 + 0.1 * round_)
        proc.send_signal(signal.SIGKILL)
        printed = [first] + proc.stdout.read().split()
        proc.wait(timeout=30)
        with Catalog(path, create=False) as cat:
            assert cat.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            mine = cat.runs(device=[f"k{round_}"], full=True)
        # every id it reported is there and complete; at most the one in flight is not
        assert {int(x) for x in printed} <= {r["id"] for r in mine}
        assert len(mine) - len(printed) in (0, 1)
        unfinished = [r for r in mine if r["status"] != "finished"]
        assert len(unfinished) <= 1 and all(r["status"] == "running" and r["file"] for r in unfinished)
    with Catalog(path) as cat:  # and it still takes writes
        assert cat.register(file="after.csv") > 0


def _corrupt(path: Path) -> None:
    path.write_bytes(b"this is not a database, it was overwritten by something else\n" * 100)


def test_a_corrupt_catalog_costs_one_sentence_and_no_data(tmp_path):
    cat_path = tmp_path / "catalog.sqlite"
    _corrupt(cat_path)
    out = tmp_path / "sr.csv"
    done = labqc("run", "SetReset", "--cycles", "1", "-o", str(out), "--no-progress")
    assert done.returncode == 0
    assert rows_in(out) > 0 and (tmp_path / "sr.summary.json").exists()
    warnings = [ln for ln in done.stderr.splitlines() if "catalog" in ln]
    assert len(warnings) == 1 and "not a readable SQLite catalog" in warnings[0]
    assert "Traceback" not in done.stderr
    listing = labqc("runs", "list", "--catalog", str(cat_path))
    assert listing.returncode == 1 and len(listing.stderr.strip().splitlines()) == 1
    assert "not a readable SQLite catalog" in listing.stderr


def _read_only_run(catalog_dir: Path, args: list[str]) -> subprocess.CompletedProcess:
    """Run labqc with ``catalog_dir`` read-only: a private read-only bind mount when we are
    root (root ignores permission bits), else permission bits."""
    env = {k: v for k, v in os.environ.items() if k != "LABQC_CATALOG"}
    cmd = [sys.executable, "-m", "labqc", *args]
    if os.geteuid() == 0:
        assert shutil.which("unshare"), "the read-only test needs unshare(1) when run as root"
        script = (f"mount --bind {catalog_dir} {catalog_dir} && mount -o remount,bind,ro {catalog_dir} "
                  f"&& exec " + " ".join(f"'{c}'" for c in cmd))
        return subprocess.run(["unshare", "-m", "sh", "-c", script], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=300)
    catalog_dir.chmod(0o555)
    for f in catalog_dir.iterdir():
        f.chmod(0o444)
    try:
        return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    finally:
        catalog_dir.chmod(0o755)


@pytest.mark.parametrize("existing", [True, False], ids=["existing catalog", "no catalog yet"])
def test_a_read_only_catalog_costs_one_sentence_and_no_data(tmp_path, existing):
    ro = tmp_path / "ro"
    ro.mkdir()
    if existing:
        with Catalog(ro / "catalog.sqlite") as cat:
            cat.register(file=ro / "old.csv")
    out = tmp_path / "data" / "sr.csv"
    done = _read_only_run(ro, ["run", "SetReset", "--cycles", "1", "-o", str(out), "--catalog",
                               str(ro / "catalog.sqlite"), "--no-progress"])
    assert done.returncode == 0, done.stderr
    assert rows_in(out) > 0
    warnings = [ln for ln in done.stderr.splitlines() if "catalog" in ln]
    assert len(warnings) == 1 and "read-only" in warnings[0], done.stderr
    if existing:
        with Catalog(ro / "catalog.sqlite", create=False) as cat:
            assert cat.count() == 1  # untouched
        listing = _read_only_run(ro, ["runs", "list", "--json", "--catalog", str(ro / "catalog.sqlite")])
        assert listing.returncode == 0, listing.stderr  # still readable where it cannot be written
        assert '"file": "old.csv"' in listing.stdout


def test_the_catalog_moves_with_its_results(tmp_path):
    a = tmp_path / "a"
    done = labqc("run", "SetReset", "--cycles", "1", "-o", str(a / "x.csv"), "--no-progress")
    assert done.returncode == 0
    b = tmp_path / "b"
    a.rename(b)
    check = labqc("runs", "verify", "--catalog", str(b))
    assert check.returncode == 0, check.stdout + check.stderr


def test_runs_in_one_process_share_a_connection_and_lose_nothing(tmp_path):
    """The GUI runs many measurements in one process, from a worker thread: each is
    registered and completed, and the catalog stays readable by others meanwhile."""
    import threading

    from labqc.procedures import PROCEDURES
    from labqc.procedures.runner import run_procedure

    results = []

    def measure(k: int) -> None:
        proc = PROCEDURES["SetReset"]()
        proc.cycles, proc.device = 1, f"NW{k}"
        results.append(run_procedure(proc, tmp_path / f"r{k}.csv"))

    for k in range(3):
        worker = threading.Thread(target=measure, args=(k,))
        worker.start()
        worker.join()
    assert [r.warnings for r in results] == [[], [], []]
    seen = labqc("runs", "list", "--json", "--catalog", str(tmp_path))  # another process, meanwhile
    import json
    listed = json.loads(seen.stdout)
    assert [(r["device"], r["status"], r["rows"]) for r in listed] == [
        (f"NW{k}", "finished", results[k].rows) for k in range(3)]
    assert [r.catalog_id for r in results] == [r["id"] for r in listed]


def test_the_same_file_name_again_after_a_delete_keeps_both_runs(tmp_path):
    out = tmp_path / "x.csv"
    assert labqc("run", "SetReset", "--cycles", "1", "-o", str(out), "--no-progress").returncode == 0
    out.unlink()
    (tmp_path / "x.summary.json").unlink()
    again = labqc("run", "SetReset", "--cycles", "1", "-o", str(out), "--no-progress")
    assert again.returncode == 0 and "catalog" not in again.stderr  # no warning
    with Catalog(tmp_path / "catalog.sqlite", create=False) as cat:
        old, new = cat.runs()
    assert new["file"] == "x.csv" and new["sha256"] == file_sha256(out)
    assert old["file"].startswith("x.csv (replaced ")
    check = labqc("runs", "verify", "--catalog", str(tmp_path))
    assert check.returncode == 1 and f"run {old['id']}: its file" in check.stdout and "missing" in check.stdout


PLAN = """
[plan]
name = "slow"
time_scale = 0.1
[[device]]
label = "D1"
[[step]]
name = "hold"
procedure = "Retention"
[step.parameters]
duration = 40
interval = 1
"""


def test_a_plan_killed_mid_run_then_resumed(tmp_path):
    plan_file = tmp_path / "slow.toml"
    plan_file.write_text(PLAN)
    run_dir = tmp_path / "night"
    env = {k: v for k, v in os.environ.items() if k != "LABQC_CATALOG"}
    proc = subprocess.Popen([sys.executable, "-m", "labqc", "plan", "run", str(plan_file), "-o", str(run_dir),
                             "--no-progress"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cat_path = run_dir / "catalog.sqlite"
    kill_9_when(proc, lambda: catalogued(cat_path, status=["running"]), settle=0.5)
    resumed = labqc("plan", "resume", str(run_dir), "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    check = labqc("runs", "verify", "--catalog", str(run_dir))
    assert check.returncode == 1
    assert "left running by a process that is gone; marked failed (its file is gone)" in check.stdout
    assert "a resumed plan kept it as 001-hold-D1.partial.csv" in check.stdout
    imported = labqc("runs", "import", str(run_dir), "--catalog", str(run_dir))
    assert "imported 1 run" in imported.stdout  # the kept partial file
    with Catalog(cat_path, create=False) as cat:
        runs = {Path(r["file"]).name: r for r in cat.runs()}
    assert runs["001-hold-D1.partial.csv"]["status"] == "failed" and runs["001-hold-D1.partial.csv"]["rows"] > 0
    assert runs["001-hold-D1.try2.csv"]["status"] == "finished"
    assert runs["001-hold-D1.csv"]["status"] == "failed"  # marked by the first verify
