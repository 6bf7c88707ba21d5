"""Parameters are declared once, with their help and in the order they are shown; the
groups procedures share (read, compliance, integration, cycles) mean the same everywhere."""
import pytest

from labqc.procedures import PROCEDURES, VoltageSweep
from labqc.procedures.base import parameter_specs
from labqc.procedures.parameters import help_of


def test_every_parameter_has_its_own_help_line():
    for cls in PROCEDURES.values():
        for attr, param in parameter_specs(cls):
            assert help_of(param) != param.name and len(help_of(param)) > 8, (cls.__name__, attr)


def test_parameters_are_listed_in_the_order_they_are_declared():
    declared = [name for name, value in vars(VoltageSweep).items() if hasattr(value, "order")]
    listed = [attr for attr, _ in parameter_specs(VoltageSweep)]
    assert listed[: len(declared)] == declared
    assert listed[0] == "v_set" and listed[-6:] == ["r_series", "pmu_load", "sample", "device", "operator", "note"]


@pytest.mark.parametrize("name, units, low, high", [
    ("Read voltage", "V", -10.0, 10.0), ("Read compliance", "A", 0.0, 10.0), ("NPLC", None, 0.0, 25.0),
])
def test_a_shared_parameter_means_the_same_in_every_procedure(name, units, low, high):
    seen = 0
    for cls in PROCEDURES.values():
        for _, param in parameter_specs(cls):
            if param.name == name:
                seen += 1
                assert (param.units, param.minimum, param.maximum) == (units, low, high), cls.__name__
    assert seen >= 4


def test_every_current_limit_is_in_amperes_up_to_10_A():
    for cls in PROCEDURES.values():
        for attr, param in parameter_specs(cls):
            if "compliance" in attr and attr != "compliance_factor":
                assert (param.units, param.minimum, param.maximum) == ("A", 0.0, 10.0), (cls.__name__, attr)
