"""Level assignment and series-resistance estimation (labqc.levels, labqc.series)."""
import numpy as np
import pytest

from labqc import levels as lv
from labqc.series import estimate_series_resistance, unassignable_above
from labqc.units import G0, correct_series


def test_g0_correction_matches_the_siemens_version_and_inverts():
    g = np.array([0.5, 1.0, 5.0, 17.9])
    corr = lv.correct_g0(g, 200.0)
    assert np.allclose(corr, correct_series(g * G0, 200.0) / G0)
    assert np.allclose(lv.uncorrect_g0(corr, 200.0), g)
    # 25 G0 behind 200 ohm reads as 18.0 G0.
    assert lv.uncorrect_g0(25.0, 200.0) == pytest.approx(18.0, abs=0.05)


def test_correction_beyond_the_series_resistance_is_nan_not_a_level():
    assert np.isnan(lv.correct_g0(13.0, 1000.0))  # 1/(13 G0) < 1000 ohm
    a = lv.assign_levels(13.0, 200, 0.02, r_series=1000.0)
    assert np.isnan(a.quantum[0]) and a.confidence[0] == 0.0


@pytest.mark.parametrize("bad", [-1.0, np.nan, np.inf])
def test_absurd_series_resistance_is_refused(bad):
    with pytest.raises(ValueError, match="series resistance"):
        lv.correct_g0(1.0, bad)


def test_on_grid_plateau_is_quantised_with_high_confidence():
    a = lv.assign_levels([1.01, 2.49, 3.98], 300, 0.03)
    assert list(a.quantum) == [1.0, 2.5, 4.0]
    assert np.all(a.confidence > 0.8) and np.all(a.p_on > 0.8)


def test_off_grid_plateau_gets_no_quantum():
    a = lv.assign_levels([1.25, 3.2], 300, 0.03)
    assert np.all(np.isnan(a.quantum))
    assert np.all(a.confidence < 0.5)
    assert list(a.nearest) == [1.0, 3.0]  # 1.25 rounds half-to-even: the nearest is still reported


def test_series_uncertainty_makes_high_levels_unassignable():
    # sigma_Rs = 10 ohm: the spread G²·G0·sigma_Rs passes 0.08 G0 near 10 G0.
    a = lv.assign_levels(lv.uncorrect_g0(np.array([3.0, 15.0]), 200.0), 300, 0.03, r_series=200.0, sigma_rs=10.0)
    assert a.quantum[0] == 3.0 and a.assignable[0]
    assert not a.assignable[1] and np.isnan(a.quantum[1])
    assert unassignable_above(10.0) == pytest.approx(10.2, abs=0.1)


def test_scalar_and_vector_assignment_agree():
    rng = np.random.default_rng(1)
    for _ in range(300):
        m, n, s = rng.uniform(0, 26), rng.integers(1, 500), rng.uniform(0, 0.4)
        r, srs = rng.choice([0.0, 200.0, 400.0]), rng.choice([0.0, 2.0, 10.0])
        q, level, conf = lv.assign_level(m, n, s, r_series=r, sigma_rs=srs)
        a = lv.assign_levels(m, n, s, r_series=r, sigma_rs=srs)
        assert (q is None) == bool(np.isnan(a.quantum[0]))
        if q is not None:
            assert q == a.quantum[0]
        assert conf == pytest.approx(a.confidence[0], abs=1e-9)


def test_comb_fit_recovers_series_resistance():
    rng = np.random.default_rng(3)
    true = rng.integers(1, 50, 60) / 2.0
    for r_true in (0.0, 200.0, 400.0):
        measured = lv.uncorrect_g0(true + rng.normal(0, 0.02, true.size), r_true)
        r, sigma = estimate_series_resistance(measured, np.full(true.size, 200.0))
        assert abs(r - r_true) <= max(0.02 * r_true, 2.0), (r, r_true)
        assert 0 <= sigma < 5.0


def test_comb_fit_with_two_levels_reports_a_wide_uncertainty():
    r, sigma = estimate_series_resistance([1.0, 2.0])
    assert r == pytest.approx(0.0, abs=1.0)
    assert sigma >= 50.0


def test_comb_fit_without_levels_is_an_error():
    with pytest.raises(ValueError):
        estimate_series_resistance([np.nan, 0.0])


def _cycles_of_levels(rng, r_of_cycle, per_cycle=10, noise=0.01):
    """Measured plateau medians of several cycles, each cycle seen through its own R_s."""
    levels, groups = [], []
    for c, r in enumerate(r_of_cycle):
        true = rng.integers(4, 40, per_cycle) / 2.0
        levels.append(lv.uncorrect_g0(true + rng.normal(0, noise, per_cycle), r))
        groups.append(np.full(per_cycle, c))
    return np.concatenate(levels), np.concatenate(groups)


def test_bootstrap_over_cycles_sees_errors_shared_within_a_cycle():
    # Each cycle's plateaus share an R_s error of 3 ohm: resampling single plateaus treats
    # them as independent evidence and understates the uncertainty; resampling cycles does not.
    from labqc.series import fit_series_resistance

    rng = np.random.default_rng(11)
    r_cycle = 200.0 + rng.normal(0.0, 3.0, 40)
    measured, groups = _cycles_of_levels(rng, r_cycle)
    w = np.full(measured.size, 200.0)
    by_plateau = fit_series_resistance(measured, w)
    by_cycle = fit_series_resistance(measured, w, groups=groups)
    assert by_cycle.r_series == pytest.approx(r_cycle.mean(), abs=2.0)
    assert by_cycle.sigma_stat > 1.5 * by_plateau.sigma_stat
    assert by_plateau.sigma_sys == 0.0  # no groups: no stretches to compare


def test_a_series_resistance_that_moves_during_the_run_shows_in_the_systematic_term():
    from labqc.series import fit_series_resistance

    rng = np.random.default_rng(12)
    r_cycle = np.r_[np.full(20, 192.0), np.full(20, 208.0)]  # a contact that settled mid-run
    measured, groups = _cycles_of_levels(rng, r_cycle)
    fit = fit_series_resistance(measured, np.full(measured.size, 200.0), groups=groups)
    assert fit.sigma_sys > 5.0
    assert fit.sigma >= fit.sigma_sys
    assert abs(fit.r_series - 200.0) < 2.0 * fit.sigma
    r, sigma = estimate_series_resistance(measured, np.full(measured.size, 200.0), groups=groups)
    assert (r, sigma) == pytest.approx((fit.r_series, fit.sigma))
