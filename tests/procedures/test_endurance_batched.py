"""Pulse endurance in batches (one Repeat per batch, looped on the 2614B): the results
file has the rows the cycle-by-cycle path wrote, in the same order; the device physics
is that of the request-by-request path; the stuck stop, a stop request, progress and
the 4200A (generic fallback) all work."""
import numpy as np
import pytest

from labqc.instruments.connect import SIM_2614B, SIM_4200A, open_smu
from labqc.instruments.sim.lab import get_lab, sim_library
from labqc.instruments.smu import PulseTrain, Repeat, Sweep
from labqc.results import read_data
from labqc.procedures import Endurance
from labqc.procedures.base import Progress
from labqc.procedures.runner import ABORTED, FINISHED, Target, run_procedure

BFO1 = Target(preset="bfo", seed=1)

#: The README's switching pulse endurance on bfo: 2.5 V / -2.5 V, 20 ms, SET at 5 mA.
SWITCHING = dict(method="pulse", set_voltage=2.5, reset_voltage=-2.5, set_compliance=5e-3, pulse_width=20.0)


def fresh(preset="bfo", seed=1):
    lab = get_lab(sim_library(preset, seed))
    lab.reset()
    return lab


def endurance(**kw):
    return Endurance(**{**SWITCHING, **kw})


def test_rows_are_four_per_cycle_in_the_order_the_cycle_by_cycle_path_wrote(tmp_path):
    lab = fresh()
    proc = endurance(cycles=25)
    assert proc.batch_cycles() == 16  # 2 x 40 ms pulses + 2 x 21 ms reads per cycle: about 2 s per batch
    result = run_procedure(proc, tmp_path / "e.csv", target=BFO1)
    assert result.status == FINISHED and not lab.emulator(SIM_2614B).any_output_on
    rows = read_data(result.path)
    assert len(rows) == 100
    assert rows["Cycle"].tolist() == np.repeat(np.arange(1, 26), 4).tolist()
    assert rows["Segment"].tolist() == ["pulse", "read", "pulse", "read"] * 25
    assert rows["Pulse"].tolist() == [1, -1, 1, -1] * 25
    assert rows["Source (V|A)"].to_numpy() == pytest.approx([2.5, 0.4, -2.5, 0.4] * 25)
    assert np.all(np.diff(rows["Time (s)"]) > 0)  # every reading has its own instrument time
    set_pulses = rows.iloc[0::4]
    assert np.all(set_pulses["Current (A)"] <= 5e-3 * 1.001)  # the SET limit holds
    s = result.summary
    assert s["cycles done"] == 25 and s["cycles switched"] == 25
    assert s["median LRS G/G0"] > 10 * s["median HRS G/G0"]
    assert [c["cycle"] for c in s["per cycle"]] == list(range(1, 26))
    assert s["stop reason"] == "all cycles done"


def test_the_physics_is_that_of_the_request_by_request_path(tmp_path):
    cycles = 6
    fresh()
    rows = read_data(run_procedure(endurance(cycles=cycles), tmp_path / "e.csv", target=BFO1).path)
    # What Endurance did before batches, on the same device: each half-cycle and each
    # read its own request (reads as spot readings).
    proc = endurance(cycles=cycles)
    lab = fresh()
    with open_smu(SIM_2614B, visa_library=sim_library("bfo", 1)) as smu:
        g = []
        for _ in range(cycles):
            for polarity in ("set", "reset"):
                chunk = np.concatenate(list(smu.run(proc.half_cycle(polarity))))
                read = smu.read(0.4, compliance=proc.read_compliance, nplc=1.0)
                g += [chunk["i"][0] / chunk["v"][0], read["i"][0] / read["v"][0]]
    assert not lab.emulator(SIM_2614B).any_output_on
    got, want = rows["G (S)"].to_numpy(), np.array(g)
    # the reads within the device's noise (a SET's first reading moves with the few ms of message
    # time by which the request-by-request path, a program per request, differs from the loop)
    assert got[1::2] == pytest.approx(want[1::2], rel=0.06)
    # the pulses: within the bfo's pulse-to-pulse spread (4.5 % rms per pulse, independent draws)
    assert got[0::2] == pytest.approx(want[0::2], rel=0.25)


def test_stuck_stop_comes_at_the_end_of_the_batch_and_names_both_cycles(tmp_path):
    fresh("ohmic", 3)
    proc = endurance(cycles=50, stuck_cycles=3, pulse_width=5.0, set_voltage=1.0, reset_voltage=-1.0)
    assert proc.batch_cycles() == 32
    result = run_procedure(proc, tmp_path / "stuck.csv", target=Target(preset="ohmic", seed=3))
    s = result.summary
    assert result.status == FINISHED and s["cycles done"] == 32 and s["cycles switched"] == 0
    assert s["stop reason"] == ("stuck in LRS for 3 cycles (G(LRS)/G(HRS) < 2) at cycle 3; "
                                "stopped at the end of its batch, after cycle 32")
    assert len(read_data(result.path)) == 4 * 32


def test_batch_size_rules():
    assert endurance(cycles=7).batch_cycles() == 7
    assert endurance(cycles=1000, pulse_width=5.0).batch_cycles() == 32  # 62 ms per cycle
    proc = endurance(cycles=1000, pulse_width=1.0)
    proc.BATCH_SECONDS = 60.0
    assert proc.batch_cycles() == 100  # the cycle cap
    batch = proc.pulse_batch(3)
    assert isinstance(batch, Repeat) and batch.count == 3
    assert [type(s) for s in batch.steps] == [PulseTrain, Sweep, PulseTrain, Sweep]
    assert batch.steps[0].compliance == proc.set_compliance and batch.steps[2].compliance == proc.reset_compliance


def test_a_stop_mid_batch_keeps_every_row_books_whole_cycles_and_ends_off(tmp_path):
    lab = fresh()
    emitted = []

    def listener(topic, payload):
        if topic == "batch":
            emitted.append(len(payload))

    proc = endurance(cycles=40)
    result = run_procedure(proc, tmp_path / "stop.csv", target=BFO1, listeners=[listener],
                           should_stop=lambda: len(emitted) >= 2)
    assert result.status == ABORTED and not lab.emulator(SIM_2614B).any_output_on
    rows = read_data(result.path)
    assert len(rows) == sum(emitted) == result.rows < 160
    complete = int((rows.groupby("Cycle").size() == 4).sum())
    assert result.summary["cycles done"] == complete >= 1
    # The summary says the run was stopped, not that every cycle was done.
    assert result.summary["stop reason"] == f"aborted by request after {complete} of 40 cycles"


def test_progress_and_eta_advance_with_each_chunk(tmp_path):
    fresh()
    progress = []
    result = run_procedure(endurance(cycles=30), tmp_path / "p.csv", target=BFO1,
                           listeners=[lambda topic, payload: topic == "progress" and progress.append(payload)])
    assert result.status == FINISHED
    # a chunk (and so a progress event) at least every half second of instrument time
    assert len(progress) >= result.instrument_seconds / 0.5 and all(isinstance(p, Progress) for p in progress)
    fractions = [p.fraction for p in progress]
    assert fractions == sorted(fractions) and 0.5 < fractions[-1] <= 1.0
    # the estimate is the instrument's own time: the bar does not stop short of the end
    assert result.instrument_seconds == pytest.approx(endurance(cycles=30).estimated_duration(), rel=0.05)
    assert progress[-1].eta < progress[0].eta
    assert progress[-1].elapsed == pytest.approx(result.instrument_seconds, rel=0.05)


def test_on_the_4200a_the_generic_fallback_writes_the_same_rows(tmp_path):
    lab = get_lab(sim_library("bfo", 1))
    lab.reset()
    proc = endurance(cycles=3)
    result = run_procedure(proc, tmp_path / "k4200.csv", target=Target(SIM_4200A, "bfo", 1))
    assert result.status == FINISHED and not lab.emulator(SIM_4200A).any_output_on
    rows = read_data(result.path)
    assert rows["Segment"].tolist() == ["pulse", "read", "pulse", "read"] * 3
    assert rows["Pulse"].tolist() == [1, -1, 1, -1] * 3
    assert rows["Cycle"].tolist() == [1] * 4 + [2] * 4 + [3] * 4
    assert np.all(rows.iloc[0::4]["Current (A)"] <= 5e-3 * 1.001)
    assert result.summary["cycles done"] == 3


def test_per_cycle_table_is_compact_and_the_summary_cuts_it_off_for_long_runs(tmp_path, monkeypatch):
    from labqc.procedures.endurance import CycleTable

    table = CycleTable()
    for c in range(1, 1001):
        table.append({"cycle": c, "LRS (Ohm)": 1e4, "HRS (Ohm)": 1e6, "LRS G/G0": 1.0 + c % 2,
                      "HRS G/G0": 0.01, "switched": c % 3 != 0})
    assert sum(col.itemsize * len(col) for col in table._cols.values()) == 48 * 1000
    assert table.rows()[2] == {"cycle": 3, "LRS (Ohm)": 1e4, "HRS (Ohm)": 1e6, "LRS G/G0": 2.0,
                               "HRS G/G0": 0.01, "switched": False}
    fresh()
    monkeypatch.setattr(Endurance, "PER_CYCLE_IN_SUMMARY", 10)
    result = run_procedure(endurance(cycles=12, stuck_cycles=0), tmp_path / "long.csv", target=BFO1)
    s = result.summary
    assert s["cycles done"] == 12 and isinstance(s["per cycle"], str) and "results file" in s["per cycle"]
    assert s["cycles switched"] >= 10 and s["median LRS G/G0"] > s["median HRS G/G0"]
