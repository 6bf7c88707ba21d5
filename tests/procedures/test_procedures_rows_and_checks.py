"""Row conversion from READING chunks, the derived numbers, parameter validation and the
command line's value parsing: the parts that need no instrument."""
import math

import numpy as np
import pytest

from labqc.instruments.smu import KIND_POINT, KIND_PULSE, KIND_READ, READING
from labqc.units import G0
from labqc.procedures import PROCEDURES, get_procedure
from labqc.procedures import derive
from labqc.procedures.base import ParameterError, reading_rows, triangle
from labqc.procedures.spec import parse_value
from labqc.procedures.current_sweep import CurrentSweep
from labqc.procedures.endurance import Endurance
from labqc.procedures.pulse_train import PulseTrain
from labqc.procedures.retention import Retention
from labqc.procedures.set_reset import SetReset
from labqc.procedures.voltage_sweep import VoltageSweep


def readings(v, i, kind=KIND_POINT, index=None, t=None, compliance=None):
    a = np.zeros(len(v), READING)
    a["v"] = a["source"] = v
    a["i"] = i
    a["kind"] = kind
    a["index"] = np.arange(len(v)) if index is None else index
    a["t"] = np.arange(len(v)) * 0.5 + 10.0 if t is None else t
    if compliance is not None:
        a["compliance"] = compliance
    return a


def test_rows_compute_g_in_g0_and_series_correction():
    v = np.array([0.0, 0.1, -0.2])
    g = np.array([1.0, 2.0, 3.0]) * G0
    rows = reading_rows(readings(v, v * g), t0=10.0, r_series=500.0, cycle=4, segment="reset")
    assert rows["Time (s)"].tolist() == [0.0, 0.5, 1.0]
    assert math.isnan(rows["G/G0"][0])  # G = I/V undefined at 0 V
    assert rows["G/G0"][1:] == pytest.approx([2.0, 3.0])
    expected = 1 / (1 / (np.array([2.0, 3.0]) * G0) - 500.0) / G0
    assert rows["G_corr/G0"][1:] == pytest.approx(expected)
    assert (rows["Cycle"] == 4).all() and (rows["Segment"] == "reset").all() and (rows["Pulse"] == -1).all()


def test_pulse_and_read_rows_are_numbered_and_labelled():
    kind = np.array([KIND_PULSE, KIND_READ, KIND_PULSE, KIND_READ])
    rows = reading_rows(readings([1.5, 0.1, 1.5, 0.1], [1e-3, 1e-5, 1e-3, 1e-5], kind=kind,
                                 index=[0, 0, 1, 1]), pulse_offset=30)
    assert rows["Segment"].tolist() == ["pulse", "read", "pulse", "read"]
    assert rows["Pulse"].tolist() == [31, 31, 32, 32]


def test_rows_refuse_other_dtypes():
    with pytest.raises(TypeError):
        reading_rows(np.zeros(3))


def test_first_jump_finds_set_and_reset_voltages():
    v = np.linspace(0, 1, 11)
    i = np.where(v < 0.55, v * 1e-5, v * 1e-3)  # jump at 0.6 V
    assert derive.first_jump(v, i, up=True) == pytest.approx(0.6)
    vr = -np.linspace(0, 1, 11)
    ir = np.where(vr > -0.45, vr * 1e-3, vr * 1e-5)  # drop at -0.5 V
    assert derive.first_jump(vr, ir, up=False) == pytest.approx(-0.5)
    assert math.isnan(derive.first_jump(v, v * 1e-4, up=True))  # ohmic: no jump
    limit = np.zeros(11, bool)
    limit[7:] = True
    assert derive.first_jump(v, v * 1e-4, up=True, compliance=limit) == pytest.approx(0.7)


def test_levels_and_steps_of_a_staircase():
    g = np.concatenate([np.full(20, 1.02), np.full(20, 1.98), np.full(20, 2.51), [7.3, 0.1]])
    assert derive.levels_visited(g) == [1.0, 2.0, 2.5]
    assert derive.count_steps(g[:60], window=5) == 2


def test_triangle_goes_out_and_back():
    lv = triangle(-1.0, 0.25)
    assert lv.tolist() == [0.0, -0.25, -0.5, -0.75, -1.0, -0.75, -0.5, -0.25, 0.0]
    with pytest.raises(ParameterError):
        triangle(1.0, 0.0)


@pytest.mark.parametrize("cls, params, words", [
    (VoltageSweep, {"step": 0}, "step must be > 0"),
    (VoltageSweep, {"set_compliance": 0}, "compliance"),
    (VoltageSweep, {"cycles": 0}, "at least 1"),
    (VoltageSweep, {"read_voltage": 0}, "read voltage"),
    (CurrentSweep, {"v_limit": 0}, "voltage limit"),
    (CurrentSweep, {"rate": 0}, "rate"),
    (SetReset, {"reset_voltage": 1.0}, "RESET voltage must be < 0"),
    (SetReset, {"mode": "program", "compliance_factor": 1.0}, "factor"),
    (PulseTrain, {"period": 5.0}, "period"),
    (PulseTrain, {"count": 0}, "count"),
    (PulseTrain, {"compliance": 0}, "compliance"),
    (Endurance, {"min_ratio": 1.0}, "ratio"),
    (Retention, {"interval": 2000.0}, "interval"),
    (Retention, {"spacing": "log", "first": 0.0}, "first sample"),
])
def test_nonsense_parameters_get_one_sentence(cls, params, words):
    proc = cls(**params)
    with pytest.raises(ParameterError, match=words) as info:
        proc.validate()
    assert "\n" not in str(info.value)


def test_defaults_validate_and_every_voltage_request_has_compliance():
    for cls in PROCEDURES.values():
        for mode in getattr(getattr(cls, "mode", None), "choices", [None]):
            proc = cls() if mode is None else cls(mode=mode)
            proc.validate()
            for r in proc.requests():
                assert r.compliance > 0
            assert proc.estimated_duration() > 0


def test_registry_lookup_ignores_case_and_dashes():
    assert get_procedure("voltage-sweep") is VoltageSweep
    assert get_procedure("PULSE_TRAIN") is PulseTrain
    with pytest.raises(KeyError, match="choose one of"):
        get_procedure("Annealing")


@pytest.mark.parametrize("param, text, value", [
    (VoltageSweep.set_compliance, "5mA", 5e-3),
    (VoltageSweep.set_compliance, "400u", 400e-6),
    (VoltageSweep.set_compliance, "0.002", 2e-3),
    (VoltageSweep.step, "1", 1.0),
    (VoltageSweep.step, "0.002V", 2.0),
    (CurrentSweep.rate, "90nA/s", 90.0),
    (VoltageSweep.r_series, "1.5kOhm", 1500.0),
    (CurrentSweep.reverse, "no", False),
    (VoltageSweep.branches, "set", "set"),
    (VoltageSweep.cycles, "12", 12),
])
def test_command_line_values(param, text, value):
    assert parse_value(param, text) == pytest.approx(value) if isinstance(value, float) else parse_value(param, text) == value


@pytest.mark.parametrize("param, text, words", [
    (VoltageSweep.set_compliance, "five", "not a number"),
    (VoltageSweep.set_compliance, "5 kg", "unit"),
    (VoltageSweep.cycles, "2.5", "whole number"),
    (VoltageSweep.cycles, "-1", "at least 0"),
    (VoltageSweep.branches, "up", "one of"),
    (CurrentSweep.reverse, "maybe", "true or false"),
])
def test_command_line_rejects_bad_values(param, text, words):
    with pytest.raises(ValueError, match=words):
        parse_value(param, text)


def test_sweep_rate_sets_the_step_time_per_branch():
    proc = VoltageSweep(step=1.0, rate=2.6, reset_rate=4.5, v_set=1.0, v_reset=0.5)
    set_sweep, reset_sweep = proc.set_sweep(), proc.reset_sweep()
    assert set_sweep.step_time == pytest.approx(1 / 2.6)
    assert reset_sweep.step_time == pytest.approx(1 / 4.5)
    assert set_sweep.points == 2001 and reset_sweep.points == 1001
    assert set_sweep.levels.max() == pytest.approx(1.0) and reset_sweep.levels.min() == pytest.approx(-0.5)
    assert VoltageSweep(step=10, step_time=5).reset_sweep().step_time == pytest.approx(5e-3)
