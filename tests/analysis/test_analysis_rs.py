"""The one series-resistance helper (labqc.rs): resistances in series add."""
import numpy as np
import pytest

from labqc import online_kernel, rs
from labqc.units import G0


def test_correct_removes_a_series_resistance_from_resistances_that_add():
    g_dev = np.array([0.5, 1.0, 10.0, 25.0])  # G/G0 of the device alone
    r_s = 200.0
    measured = 1.0 / (1.0 / (g_dev * G0) + r_s) / G0  # resistances in series
    np.testing.assert_allclose(rs.uncorrect(g_dev, r_s), measured, rtol=1e-12)
    np.testing.assert_allclose(rs.correct(measured, r_s), g_dev, rtol=1e-12)
    # The same in siemens.
    np.testing.assert_allclose(rs.correct(measured * G0, r_s, unit=1.0), g_dev * G0, rtol=1e-12)


def test_correct_is_nan_where_the_measured_resistance_is_not_above_r_s():
    assert np.isnan(rs.correct(13.0, 1000.0))  # 1/(13 G0) = 993 ohm < 1000 ohm
    assert np.isnan(rs.correct_scalar(13.0, 1000.0))
    assert np.isnan(rs.derivative(13.0, 1000.0))


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), None])
def test_bad_resistance_is_refused(bad):
    with pytest.raises(ValueError):
        rs.correct(1.0, bad)


def test_derivative_matches_a_finite_difference():
    g, r_s, h = 8.0, 350.0, 1e-6
    numeric = (rs.correct(g + h, r_s) - rs.correct(g - h, r_s)) / (2 * h)
    assert rs.derivative(g, r_s) == pytest.approx(numeric, rel=1e-6)
    dr = 1e-3
    numeric_r = (rs.correct(g, r_s + dr) - rs.correct(g, r_s - dr)) / (2 * dr)
    assert rs.d_corrected_d_rs(rs.correct(g, r_s)) == pytest.approx(numeric_r, rel=1e-6)


def test_float32_stays_float32_and_grids_broadcast():
    out = rs.correct(np.float32([1.0, 10.0]), 300.0)
    assert out.dtype == np.float32
    grid = rs.correct(np.array([1.0, 10.0])[None, :], np.array([0.0, 300.0])[:, None])
    assert grid.shape == (2, 2)
    np.testing.assert_allclose(grid[1], rs.correct(np.array([1.0, 10.0]), 300.0))


def test_compiled_scalars_equal_the_array_forms():
    for g in (0.3, 4.0, 12.5):
        for r_s in (0.0, 120.0, 590.0):
            assert online_kernel.correct_scalar(g, r_s) == pytest.approx(float(rs.correct(g, r_s)), rel=1e-14)
            assert online_kernel.uncorrect_scalar(g, r_s) == pytest.approx(float(rs.uncorrect(g, r_s)), rel=1e-14)
            assert online_kernel.derivative_scalar(g, r_s) == pytest.approx(float(rs.derivative(g, r_s)), rel=1e-14)
