"""``labqc selftest`` on the simulated lab: it passes on a healthy instrument with the stated
load, and fails (exit 1, "passed": false in the report) when the instrument or the load is
not what it should be."""
from __future__ import annotations

import json

import numpy as np
import pytest

from labqc.cli import main
from labqc.instruments.keithley2614b import Keithley2614B
from labqc.instruments.selftest import CHECKS, FAIL, PASS, SKIP, Levels, fitted_resistance, run_checks, table
from labqc.instruments.sim.lab import RES_2614B_GPIB, get_lab, sim_library
from labqc.instruments.sim.tsp2614b import K2614BEmulator


def selftest(tmp_path, *args: str) -> tuple[int, dict]:
    path = tmp_path / "report.json"
    code = main(["selftest", *args, "--report", str(path)])
    return code, json.loads(path.read_text())


def statuses(data: dict) -> dict[str, str]:
    return {c["name"]: c["status"] for c in data["checks"]}


def test_simulated_2614b_with_its_resistor_passes_every_check(tmp_path, capsys):
    code, data = selftest(tmp_path, "--sim", "ohmic")
    assert code == 0 and data["passed"] is True
    assert set(statuses(data).values()) == {PASS}
    assert len(data["checks"]) == len(CHECKS)
    assert data["load_ohm"] == 10e3 and "2614B" in data["identity"]
    out = capsys.readouterr().out
    assert "PASS  compliance on a current limit" in out and "11 of 11 checks did not fail" in out
    spot = next(c for c in data["checks"] if c["name"].startswith("spot read"))
    assert "10000 ohm" in spot["measured"]  # measured values are in the report, not only a verdict


def test_simulated_4200a_passes_or_skips_with_a_reason(tmp_path):
    code, data = selftest(tmp_path, "--sim", "ohmic", "--resource", "GPIB0::17::INSTR")
    assert code == 0 and data["passed"] is True
    found = statuses(data)
    assert FAIL not in found.values()
    assert found["voltage list sweep (Ohm's law)"] == PASS and found["compliance on a current limit"] == PASS
    assert all(c["note"] for c in data["checks"] if c["status"] == SKIP)  # every skip says why


def test_a_wrong_load_fails_the_ohms_law_checks_and_exits_1(tmp_path, capsys):
    code, data = selftest(tmp_path, "--sim", "ohmic", "--load", "1k")  # the resistor is 10 kOhm
    assert code == 1 and data["passed"] is False
    found = statuses(data)
    assert found["spot read (Ohm's law)"] == FAIL and found["voltage list sweep (Ohm's law)"] == FAIL
    assert found["identity and options"] == PASS and found["output off read back"] == PASS
    assert "FAILED" in capsys.readouterr().out


def test_bad_arguments_are_one_sentence_and_exit_2(tmp_path, capsys):
    assert main(["selftest", "--sim", "ohmic", "--load", "-5"]) == 2
    assert main(["selftest", "--sim", "ohmic", "--load", "ten"]) == 2
    assert main(["selftest"]) == 2
    err = capsys.readouterr().err
    assert "--load" in err and "--resource" in err


@pytest.fixture
def timer_without_list_steps():
    """A simulated 2614B whose timers take one delay-list entry per trigger, not per repeat
    (the other answer to what the selftest measures on the bench)."""
    spec = sim_library("ohmic", seed=9393, time_scale=0)  # a lab of its own
    lab = get_lab(spec)
    lab.reset()
    lab.add_instrument((RES_2614B_GPIB,), lambda lab_, plan: K2614BEmulator(
        lab_.device_for("2614B"), lab_.clock, faults=plan, timer_list_steps_on_repeats=False))
    smu = Keithley2614B(RES_2614B_GPIB, visa_library=spec, timeout=5.0)
    yield smu
    smu.close()
    lab.reset()


def test_the_timer_check_tells_whether_a_delay_list_steps_on_the_timers_repeats(timer_without_list_steps):
    checks = {c.name: c for c in run_checks(timer_without_list_steps, 10e3)}
    sampling = checks["uneven sampling: timer delay list on its own repeats"]
    assert sampling.status == FAIL and "report this" in sampling.note
    assert checks["three pulses with reads: timestamps"].status == FAIL  # it relies on the same
    assert checks["voltage list sweep (Ohm's law)"].status == PASS  # one delay: unaffected
    assert "FAILED" in table(list(checks.values()))


def test_levels_stay_small_for_any_load():
    for load in (10.0, 1e3, 10e3, 1e6, 1e9):
        lv = Levels.for_load(load)
        assert lv.v <= 0.5 and lv.i <= 0.5e-3 + 1e-15 and lv.compliance <= 1e-3
        assert lv.compliance >= lv.i  # the Ohm's-law sweeps never reach their limit
    with pytest.raises(ValueError):
        Levels.for_load(0)


def test_fitted_resistance_is_the_least_squares_slope():
    v = np.array([-1.0, 0.5, 1.0, 2.0])
    assert fitted_resistance(v, v / 470.0) == pytest.approx(470.0)
