import numpy as np
import pytest

from labqc.units import G0, R0, conductance, correct_series, to_g0


def test_g0_is_two_e_squared_over_h():
    assert G0 == pytest.approx(7.748091729e-5, rel=1e-9)
    assert R0 == pytest.approx(12906.4037, rel=1e-8)


def test_conductance_is_nan_at_zero_bias():
    g = conductance([0.0, 0.1, -0.2], [1e-6, 7.748091729e-6, -1.5496e-5], v_min=0.01)
    assert np.isnan(g[0])
    assert to_g0(g[1:]) == pytest.approx([1.0, 1.0], rel=1e-3)


def test_series_correction_inverts_the_series_combination():
    g_true = np.array([1, 5, 10, 25]) * G0
    r_s = 200.0
    measured = g_true / (1 + r_s * g_true)
    assert to_g0(measured)[2] == pytest.approx(8.66, abs=0.01)  # the reference's 10 G0 -> 8.66 G0
    assert correct_series(measured, r_s) == pytest.approx(g_true)


def test_series_correction_refuses_nonsense():
    with pytest.raises(ValueError, match="series resistance"):
        correct_series(1e-4, -5)
    assert np.isnan(correct_series(1e-2, 200.0))  # 100 ohm measured < 200 ohm series: undefined
