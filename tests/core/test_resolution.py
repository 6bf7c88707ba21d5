"""Resolution advice against figures we did not compute with the code: the issue's step
currents (0.5 G0 at 0.1 V is 3.9 uA, at 10 mV 0.39 uA) and the 2600B datasheet offsets
recorded in docs/resolution.md."""
import math

import pytest

from labqc.resolution import advise, floor_of, range_for

G0 = 7.748091729e-5


def test_step_currents_are_the_issues_figures():
    assert advise("2614B", 0.1, 1.0).step == pytest.approx(3.874e-6, rel=1e-3)
    assert advise("2614B", 0.01, 1.0).step == pytest.approx(0.3874e-6, rel=1e-3)


def test_2614b_floor_is_the_datasheet_offset_at_1_plc():
    assert floor_of("2614B", 1e-3, 1.0) == pytest.approx(200e-9)
    assert floor_of("2614B", 10e-3, 1.0) == pytest.approx(2.5e-6)
    assert floor_of("2614B", 1e-6, 1.0) == pytest.approx(500e-12)  # the calibration table's 1 uA entry
    # shorter integration: white noise, sqrt(1/NPLC); longer: no credit
    assert floor_of("2614B", 1e-3, 0.01) == pytest.approx(2e-6)
    assert floor_of("2614B", 1e-3, 10.0) == pytest.approx(200e-9)


def test_autorange_reads_the_top_level_on_the_range_that_holds_it():
    # 25 G0 at 0.1 V is 194 uA: the 1 mA range; a 50 uA compliance caps it at the 100 uA range
    assert advise("2614B", 0.1, 1.0).current_range == pytest.approx(1e-3)
    assert advise("2614B", 0.1, 1.0, compliance=50e-6).current_range == pytest.approx(100e-6)
    assert range_for("2614B", 3.9e-6) == pytest.approx(10e-6)


def test_a_read_at_0_1_v_and_1_plc_resolves_half_quanta():
    a = advise("2614B", 0.1, 1.0)
    assert a.resolvable and a.margin > 3
    assert "resolvable" in a.sentence() and "NOT" not in a.sentence()


def test_a_fast_read_is_not_resolvable_and_a_slower_one_is_suggested():
    a = advise("2614B", 0.1, 0.01)  # floor 2 uA against a 3.9 uA step
    assert not a.resolvable
    assert "NPLC 0.1" in a.sentence()
    assert advise("2614B", 0.1, 0.1).resolvable  # what the advice said


def test_a_fixed_10_ma_range_suggests_a_lower_fixed_range_that_works():
    a = advise("2614B", 0.1, 1.0, measure_range=10e-3)  # 2.5 uA floor against 3.9 uA
    assert not a.resolvable
    fixed = [s for s in a.suggestions if "fixed" in s]
    assert fixed and "1 mA" in fixed[0]
    assert advise("2614B", 0.1, 1.0, measure_range=1e-3).resolvable


def test_ten_millivolts_at_a_fast_read_suggests_a_higher_read_voltage():
    a = advise("2614B", 0.01, 0.001)
    assert not a.resolvable
    higher = [s for s in a.suggestions if "read at" in s]
    assert higher
    volts = float(higher[0].split("read at ")[1].split(" ")[0])
    scale = 1e-3 if "mV" in higher[0] else 1.0
    assert advise("2614B", volts * scale, 0.001).resolvable


@pytest.mark.parametrize("bad", [0.0, math.nan, math.inf])
def test_a_read_voltage_of_zero_or_not_finite_is_refused(bad):
    with pytest.raises(ValueError, match="read voltage"):
        advise("2614B", bad, 1.0)


def test_an_unknown_model_is_refused():
    with pytest.raises(ValueError, match="no noise-floor figures"):
        advise("Keithley 2450", 0.1, 1.0)
