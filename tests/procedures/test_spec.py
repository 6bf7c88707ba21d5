"""One spec builder: text -> typed values -> a validated procedure, the same for the
command line, the dashboard, plans and the plan runner; the core reaches the procedures
only through it."""
import ast
from pathlib import Path

import pytest

from labqc.plan import parse_plan
from labqc.procedures import Endurance, SetReset, VoltageSweep
from labqc.procedures.base import ParameterError
from labqc.procedures.spec import SPECS, build, convert

ROOT = Path(__file__).resolve().parents[2]


def test_text_and_typed_values_give_the_same_procedure():
    from_text = build(VoltageSweep, {"set_compliance": "5mA", "cycles": "4", "branches": "set", "step": "2 V"})
    typed = build(VoltageSweep, {"set_compliance": 5e-3, "cycles": 4, "branches": "set", "step": 2000.0})
    for proc in (from_text, typed):
        assert (proc.set_compliance, proc.cycles, proc.branches, proc.step) == (5e-3, 4, "set", 2000.0)
    assert convert(Endurance, {"stuck_cycles": True})[1] == [("stuck_cycles", "is not a number")]
    assert build(VoltageSweep, {}).cycles == 3  # nothing given: the defaults, validated
    assert build(VoltageSweep, {"cycles": 2}).cycles == 2


def test_every_problem_is_listed_with_its_parameter():
    values, problems = convert(VoltageSweep, {"step": "fast", "cycels": 3, "cycles": "2.5", "v_set": "1 V"})
    assert values == {"v_set": 1.0}
    assert problems == [("step", "is not a number"), ("cycels", None), ("cycles", "must be a whole number")]


def test_build_names_the_value_as_its_caller_does_and_then_validates():
    with pytest.raises(ParameterError, match=r"^--set-compliance 'lots' is not a number$"):
        build(VoltageSweep, {"set_compliance": "lots"}, label=lambda attr, _: f"--{attr.replace('_', '-')}")
    with pytest.raises(ParameterError, match=r"^SET compliance '20 A' must be at most 10 A$"):
        build(VoltageSweep, {"set_compliance": "20 A"}, label=lambda _, param: param.name)
    with pytest.raises(ParameterError, match="the maximum compliance must be at least the SET compliance"):
        build(SetReset, {"mode": "program", "set_compliance": "5 mA", "max_compliance": "1 mA"})


def test_the_specs_answer_the_plan_by_name():
    assert SPECS.lookup("set-reset") == "SetReset" and "VoltageSweep" in SPECS.names()
    assert SPECS.lookup("breakdown") == "Breakdown"  # the new experiments are usable in plans
    with pytest.raises(KeyError):
        SPECS.lookup("annealing")
    assert "read_voltage" in SPECS.parameters("Endurance")
    assert SPECS.validate("VoltageSweep", {"cycles": 0}) == "the number of cycles must be at least 1, got 0"
    assert SPECS.validate("VoltageSweep", {"cycles": 1}) == ""
    assert "simulated device must be one of" in SPECS.check_target("", "graphite", 0, 0.0)
    assert SPECS.check_target("GPIB0::26::INSTR", "", 0, 0.0) == ""


def test_a_plan_names_a_bad_simulated_device_once():
    text = '[[device]]\nlabel = "A1"\nsim_preset = "graphite"\n[[step]]\nprocedure = "voltage-sweep"\n'
    with pytest.raises(ValueError) as info:
        parse_plan(text, SPECS)
    assert info.value.problems == ["device A1: the simulated device must be one of ag-nanowire, bfo, ohmic, "
                                   "ag-nanowire-fresh, bfo-fresh, not 'graphite'"]


def test_the_core_imports_no_layer_above_it():
    for path in (ROOT / "labqc").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            for name in names:
                assert not name.startswith(("labqc.instruments", "labqc.procedures", "labqc.gui")), \
                    f"{path.name} imports {name}"
