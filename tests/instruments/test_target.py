"""The Target: where a run is measured, chosen once by its caller and handed to the runner;
procedures neither take nor know it, and nothing above the instruments layer reaches the
simulator but through it."""
import ast
from pathlib import Path

import pytest

from labqc.instruments.connect import SIM_2614B, SIM_4200A
from labqc.instruments.sim.lab import get_lab, sim_library
from labqc.instruments.target import Target, TargetError
from labqc.procedures import Retention, VoltageSweep
from labqc.procedures.runner import FINISHED, run_procedure
from labqc.results import read_header, read_summary

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("kwargs, words", [
    ({"preset": "graphite"}, "simulated device must be one of"),
    ({"seed": -1}, "seed must be a whole number >= 0"),
    ({"seed": 1.5}, "seed must be a whole number >= 0"),
    ({"time_scale": 101.0}, "time scale must be from 0 to 100"),
    ({"time_scale": float("nan")}, "time scale must be from 0 to 100"),
])
def test_a_target_that_cannot_be_is_refused_in_one_sentence(kwargs, words):
    with pytest.raises(TargetError, match=words) as info:
        Target(**kwargs)
    assert "\n" not in str(info.value)


def test_what_is_simulated():
    assert Target().simulated and Target(preset="ohmic").simulated
    assert Target(SIM_4200A, preset="bfo").simulated  # that resource in the simulated lab
    assert not Target("GPIB0::26::INSTR").simulated  # a resource alone is hardware
    assert Target(visa_library=sim_library("ohmic", 2)).simulated
    assert Target("GPIB0::26::INSTR").library() is None  # PyVISA's own library
    assert Target(preset="ohmic", seed=2).library() == sim_library("ohmic", 2)


@pytest.mark.parametrize("resource, model", [("", "2614B"), (SIM_4200A, "4200")])
def test_the_run_measures_on_the_target_and_records_it(tmp_path, resource, model):
    lab = get_lab(sim_library("ohmic", 7))
    lab.reset()
    target = Target(resource, preset="ohmic", seed=7)
    result = run_procedure(Retention(duration=5, interval=1, prepare="none"), tmp_path / "r.csv", target=target)
    assert result.status == FINISHED and model in result.instrument
    assert "(simulated, preset ohmic, seed 7)" in result.instrument
    emulator = lab.emulator(resource or SIM_2614B)
    assert emulator.messages > 0 and not emulator.any_output_on
    meta = read_header(result.path)["metadata"]
    assert (meta["Resource"], meta["Simulator preset"], meta["Seed"]) == (resource, "ohmic", "7")
    assert read_summary(result.path)["target"] == {"Resource": resource, "Simulator preset": "ohmic",
                                                   "Seed": 7, "Time scale": 0.0}


def test_the_session_leaves_the_outputs_off_and_closes(tmp_path):
    lab = get_lab(sim_library("ohmic", 8))
    lab.reset()
    with Target(preset="ohmic", seed=8).session() as smu:
        smu.read(0.1, compliance=1e-3, source="V", nplc=1.0)
    assert not lab.emulator(SIM_2614B).any_output_on


@pytest.mark.parametrize("name", ["resource", "sim_preset", "seed", "time_scale"])
def test_a_procedure_refuses_where_to_measure_as_a_parameter(name):
    with pytest.raises(TypeError, match="Target handed to run_procedure"):
        VoltageSweep(**{name: 1})
    with pytest.raises(TypeError, match="has no parameter 'cycels'"):
        VoltageSweep(cycels=3)


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_above_the_instruments_only_the_target_reaches_the_simulator():
    for folder in ("procedures", "gui"):
        for path in (ROOT / folder).rglob("*.py"):
            sim = {m for m in _imports(path) if m.startswith("labqc.instruments.sim")}
            assert not sim, f"{path.relative_to(ROOT)} imports {sim}"

