"""A coordinator, two simulated stations and directors on one machine (tests/lab/conftest.py)."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from labqc.journal import JOURNAL_NAME, Journal
from labqc.procedures.station_director import LabDirector, LabError

from .conftest import ROOT, wait_for

QUICK = """
[plan]
name = "quick"
[[device]]
label = "D1"
seed = 4
[[step]]
name = "setreset"
procedure = "SetReset"
[step.parameters]
cycles = 1
step = "50 mV"
[step.vary]
set_compliance = ["2 mA", "5 mA"]
"""

# three runs of ~2 s wall each (time scale 0.05): long enough to be killed in the middle
SLOW = """
[plan]
name = "slow"
time_scale = 0.05
[[device]]
label = "A"
[[device]]
label = "B"
[[device]]
label = "C"
[[step]]
name = "hold"
procedure = "Retention"
[step.parameters]
duration = 40
interval = 2
prepare = "set"
"""


def director(lab, name: str) -> LabDirector:
    return LabDirector(name, "127.0.0.1", lab.port, lab=lab.tmp / "lab")


def idle(d: LabDirector, station: str) -> bool:
    (s,) = [s for s in d.status([station]) if s["name"] == station]
    return s["state"] == "idle" and s["queue"] == 0


def cli(lab, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labqc", "lab", "--coordinator", lab.address, *args],
                          cwd=ROOT, env=lab.env, capture_output=True, text=True, timeout=60)


def test_plans_on_two_stations_finish_and_one_run_list_shows_both(lab):
    with director(lab, "alice") as d:
        before = {name: len([r for r in d.central.runs(station=[name])]) for name in ("nw", "bf")}
        for name in ("nw", "bf"):
            entry = d.call(name, "submit_plan", text=QUICK, source="quick.toml")
            assert entry["runs"] == 2 and entry["by"].endswith("alice")
        for name in ("nw", "bf"):
            wait_for(lambda: idle(d, name), 40, f"the plan on {name} to finish")
    listed = cli(lab, "--as", "reader", "runs", "--procedure", "setreset", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    by_station = {name: [r for r in rows if r["station"] == name] for name in ("nw", "bf")}
    for name, mine in by_station.items():
        assert len(mine) - before[name] == 2, (name, mine)
        assert {r["status"] for r in mine} == {"finished"} and all(r["rows"] > 0 for r in mine)
        assert all(r["procedure"] == "SetReset" and r["device"] == "D1" for r in mine)
    # each station measured its own simulated device
    assert all("ag-nanowire" in r["instrument"] for r in by_station["nw"])
    assert all("preset bfo" in r["instrument"] for r in by_station["bf"])


def test_an_untrusted_director_may_look_but_not_control(lab):
    with director(lab, "mallory") as d:
        (status,) = [s for s in d.status(["bf"]) if s["name"] == "bf"]
        assert status["state"] in ("idle", "running") and status["trusted"] == ["alice"]
        runs_before = len(d.call("bf", "station_runs"))
        for method, params in (("submit_plan", {"text": QUICK, "source": "quick.toml"}),
                               ("run_procedure", {"procedure": "VoltageSweep", "parameters": {}}),
                               ("abort", {}), ("shut_down", {})):
            with pytest.raises(LabError, match="mallory may not .* not among the directors this station trusts"):
                d.call("bf", method, **params)
        time.sleep(0.5)
        (after,) = [s for s in d.status(["bf"]) if s["name"] == "bf"]
        assert after["state"] != "offline" and after["queue"] == status["queue"]
        assert len(d.call("bf", "station_runs")) == runs_before
    refused = cli(lab, "--as", "mallory", "abort", "bf")
    assert refused.returncode == 1 and "mallory may not abort on station bf" in refused.stderr
    listed = cli(lab, "--as", "mallory", "status", "--json")
    assert listed.returncode == 0, listed.stderr
    stations = {s["name"]: s for s in json.loads(listed.stdout)}
    assert {"nw", "bf"} <= set(stations)
    assert all(stations[n]["state"] in ("idle", "running") and stations[n]["queue"] >= 0 for n in ("nw", "bf"))
    # the generic device access of a PyLECO actor is not offered at all
    with director(lab, "alice") as d:
        with pytest.raises(LabError, match="Method not found"):
            d.call("bf", "call_action", action="abort")


def test_a_bad_plan_gets_its_problems_and_queues_nothing(lab):
    with director(lab, "alice") as d:
        with pytest.raises(LabError, match="cycles"):
            d.call("nw", "run_procedure", procedure="VoltageSweep", parameters={"cycles": "-1"})
        with pytest.raises(LabError, match="no procedure|NoSuch|choices|unknown|not a"):
            d.call("nw", "run_procedure", procedure="NoSuchProcedure", parameters={})
        assert idle(d, "nw")


def test_a_killed_station_is_offline_within_10_s_and_resumes_its_plan(lab):
    with director(lab, "alice") as d:
        entry = d.call("bf", "submit_plan", text=SLOW, source="slow.toml")

        def one_done():
            (s,) = [s for s in d.status(["bf"]) if s["name"] == "bf"]
            return s["state"] == "running" and (s["current"] or {}).get("runs_done", 0) >= 1
        wait_for(one_done, 40, "the first run of the slow plan")
        lab.kill("bf")
        killed = time.monotonic()
        wait_for(lambda: [s for s in d.status(["bf"]) if s["name"] == "bf"][0]["state"] == "offline", 10,
                 "the killed station to show offline")
        assert time.monotonic() - killed <= 10.0
        lab.start_station("bf", "bfo")
        wait_for(lambda: idle(d, "bf"), 60, "the restarted station to finish the plan")
    directory = lab.tmp / "stations" / "bf" / "plans" / f"{entry['id']:04d}-slow"
    state = Journal(directory / JOURNAL_NAME).state()
    runs = sorted(state.runs)
    assert len(runs) == 3 and all(state.run(r).done for r in runs)
    first = state.run(runs[0])
    assert first.attempts == 1, "the run done before the kill was not measured again"
    log = (directory / "plan.log").read_text(encoding="utf-8")
    assert "resuming:" in log


def test_a_watcher_receives_every_row_of_a_run_as_it_is_measured(lab):
    from labqc.procedures.station_stream import ChunkWatcher

    watcher = ChunkWatcher("nw", "127.0.0.1", lab.data_port - 1)
    try:
        time.sleep(1.0)  # the subscription travels through the proxy to the station
        with director(lab, "alice") as d:
            for _ in range(3):  # a run whose first chunk was missed (subscription late) is not judged
                d.call("nw", "run_procedure", procedure="VoltageSweep", parameters={"cycles": "1"})
                first = None
                while first is None or first[0]["kind"] != "chunk":
                    first = watcher.receive(timeout_s=30)
                    assert first is not None, "no chunk from station nw within 30 s"
                header, frame = first
                if header["seq"] != 0:
                    wait_for(lambda: idle(d, "nw"), 40, "the run to end")
                    continue
                assert header["procedure"] == "VoltageSweep" and header["plan_run"]
                rows, seqs = len(frame), [0]
                while True:
                    got = watcher.receive(timeout_s=30)
                    assert got is not None, "the run's end never came"
                    if got[1] is None:
                        end = got[0]
                        break
                    seqs.append(got[0]["seq"])
                    rows += len(got[1])
                    assert got[1].dtype == frame.dtype  # the typed chunk (labqc.chunk)
                assert seqs == list(range(len(seqs))), "a chunk was lost or reordered"
                assert end["status"] == "finished" and end["rows"] == rows
                wait_for(lambda: idle(d, "nw"), 40, "the station to be idle")
                newest = d.call("nw", "station_runs")[-1]
                assert newest["procedure"] == "VoltageSweep" and newest["rows"] == rows
                assert any("G" in c for c in frame.dtype.names)
                return
        pytest.fail("three runs and never a whole one seen")
    finally:
        watcher.close()


def test_a_coordinator_restart_loses_no_queued_work(lab):
    with director(lab, "alice") as d:
        entry = d.call("nw", "submit_plan", text=SLOW, source="slow.toml")
        queued = d.call("nw", "submit_plan", text=QUICK, source="quick.toml")
        wait_for(lambda: [s for s in d.status(["nw"]) if s["name"] == "nw"][0]["state"] == "running", 30,
                 "the slow plan to start")
    lab.kill("coordinator")
    time.sleep(1.0)
    lab.start_coordinator()
    with director(lab, "alice") as d:
        def back():
            (s,) = [s for s in d.status(["nw"]) if s["name"] == "nw"]
            return s["state"] != "offline" and s
        seen = wait_for(back, 30, "the station to sign in at the new coordinator")
        assert seen["queue"] + (seen["state"] == "running") >= 1
        wait_for(lambda: idle(d, "nw"), 60, "both plans to finish")
    home = lab.tmp / "stations" / "nw" / "plans"
    for number, name, runs in ((entry["id"], "slow", 3), (queued["id"], "quick", 2)):
        state = Journal(home / f"{number:04d}-{name}" / JOURNAL_NAME).state()
        assert len(state.runs) == runs and all(state.run(r).done and state.run(r).attempts == 1 for r in state.runs)


def test_a_trusted_abort_stops_the_run_with_the_outputs_off_and_empties_the_queue(lab):
    from labqc.procedures.station_stream import ChunkWatcher

    watcher = ChunkWatcher("bf", "127.0.0.1", lab.data_port - 1)
    try:
        with director(lab, "alice") as d:
            entry = d.call("bf", "submit_plan", text=SLOW, source="slow.toml")
            d.call("bf", "submit_plan", text=QUICK, source="quick.toml")
            wait_for(lambda: watcher.receive(timeout_s=1.0) is not None, 30, "a chunk of the slow plan")
            done = d.call("bf", "abort")
            assert done == {"aborted": True, "cancelled": 1}
            end = wait_for(lambda: (got := watcher.receive(timeout_s=1.0)) and got[1] is None and got[0], 20,
                           "the end of the aborted run")
            assert end["status"] == "aborted" and end["output_off"] is True
            wait_for(lambda: idle(d, "bf"), 20, "the station to be idle")
            aborted = [r for r in d.call("bf", "station_runs") if r["status"] == "aborted"]
            assert aborted and "still be on" not in aborted[-1]["error"]
    finally:
        watcher.close()
    state = Journal(lab.tmp / "stations" / "bf" / "plans" / f"{entry['id']:04d}-slow" / JOURNAL_NAME).state()
    assert not all(state.run(r).done for r in state.runs), "the aborted plan was not run to its end"
    queue = json.loads((lab.tmp / "stations" / "bf" / "queue.json").read_text(encoding="utf-8"))
    assert [e["state"] for e in queue if e["id"] >= entry["id"]] == ["aborted", "cancelled"]
