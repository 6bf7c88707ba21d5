"""The series-resistance fit: aliases, ambiguity, credible interval, and what it refuses."""
import numpy as np
import pytest

from labqc import rs
from labqc.plateaus import analyze
from labqc.scoring import score_plateaus
from labqc.series import fit_series_resistance
from labqc.synthetic import field_scenario, make_field_trace
from labqc.units import G0


def _staircase(levels, r_s, dwell=150, white=0.02, seed=0):
    rng = np.random.default_rng(seed)
    g = np.repeat(rs.uncorrect(np.asarray(levels, float), r_s), dwell)
    return g + rng.normal(0.0, white, g.size)


def test_two_levels_and_their_alias_are_reported_as_ambiguous():
    # 1.0 and 1.5 G0 measured: R_s = 0 puts them on the grid; so does the R_s that maps
    # 1.0 -> 1.5 and 1.5 -> 2.5 (R = 1/(1.5 G0)·(1/3) ≈ 2868 ohm, outside 0..1000)...
    # Here two levels high enough that an alias lies inside the search range.
    m = rs.uncorrect(np.array([6.0, 8.0]), 0.0)  # measured at R_s = 0
    alias = None
    for r in np.arange(1.0, 1000.0, 0.05):
        c = rs.correct(m, r)
        if np.all(np.abs(2 * c - np.round(2 * c)) < 0.02):
            alias = r
            break
    assert alias is not None  # the two levels do have an alias
    fit = fit_series_resistance(m, np.full(2, 200.0))
    assert fit.sigma >= 50.0  # two levels cannot pin R_s down


def test_many_levels_pin_r_s_with_an_interval_that_covers_the_truth():
    rng = np.random.default_rng(4)
    true = rng.integers(1, 41, 80) / 2.0
    for r_true in (0.0, 150.0, 420.0, 590.0):
        m = rs.uncorrect(true + rng.normal(0, 0.02, true.size), r_true)
        fit = fit_series_resistance(m, np.full(true.size, 150.0))
        lo, hi = fit.interval
        assert lo <= r_true <= hi, (r_true, fit)
        assert hi - lo < 10.0 and not fit.ambiguous and not fit.reason


def test_thousands_of_plateaus_pin_r_s_as_well_as_a_few_hundred():
    # A night of pulse trains: more plateaus than the coarse scan takes (every k-th votes
    # for the modes, all of them refine and decide).
    rng = np.random.default_rng(9)
    true = rng.integers(1, 41, 3000) / 2.0
    m = rs.uncorrect(true + rng.normal(0, 0.02, true.size), 330.0)
    groups = np.arange(true.size) // 25
    many = fit_series_resistance(m, np.full(true.size, 150.0), groups=groups)
    few = fit_series_resistance(m[:300], np.full(300, 150.0), groups=groups[:300])
    assert many.interval[0] <= 330.0 <= many.interval[1], many
    assert abs(many.r_series - 330.0) <= abs(few.r_series - 330.0) + 0.5
    assert many.interval[1] - many.interval[0] < few.interval[1] - few.interval[0]
    assert not many.ambiguous and not many.reason


def test_a_shifted_comb_is_not_taken_for_the_lattice():
    # Levels on a lattice shifted by 0.25 G0 (n/2 + 0.25): no R_s explains them well at
    # every height, so the fit must say so rather than assign levels.
    levels = np.arange(1, 30) / 2.0 + 0.25
    res = analyze(_staircase(levels, 0.0, seed=3))
    assert all(p.quantum is None for p in res.plateaus) or res.r_series_ambiguous or res.reason


@pytest.mark.parametrize("seed", [3, 8])
def test_estimated_r_s_scores_like_the_true_one_on_field_traces(seed):
    tr = make_field_trace(field_scenario("realistic", seed=seed, n_samples=12000))
    est = analyze(tr.g)
    true = analyze(tr.g, r_series=tr.r_series)
    f_est = score_plateaus(est.plateaus, tr.truth, tr.g.size).f1
    f_true = score_plateaus(true.plateaus, tr.truth, tr.g.size).f1
    assert f_est >= f_true - 0.02 and f_est >= 0.9, (f_est, f_true)
    lo, hi = est.r_series_interval
    assert lo <= tr.r_series <= hi


def test_a_plateau_on_an_integer_after_correction_is_never_off_grid():
    # 1.00 G0 exactly, seen through 300 ohm with noise: quantised whatever the neighbours.
    levels = [1.0, 2.5, 4.0, 6.5, 9.0, 12.0, 1.0]
    res = analyze(_staircase(levels, 300.0, seed=2))
    ones = [p for p in res.plateaus if abs(p.level - 1.0) < 0.1]
    assert ones and all(p.quantum == 1.0 for p in ones)


# ----- bad input: an empty or all-None result with a stated reason, never a crash ---------

def test_a_single_level_gives_no_quantum_and_a_reason():
    res = analyze(5.0 + np.random.default_rng(1).normal(0, 0.03, 3000))
    assert res.plateaus and all(p.quantum is None for p in res.plateaus)
    assert "one level" in res.reason


def test_only_hrs_gives_no_quantum_and_a_reason():
    rng = np.random.default_rng(2)
    g = np.abs(np.r_[np.full(1500, 0.01), np.full(1500, 0.05)] + rng.normal(0, 0.005, 3000))
    res = analyze(g)
    assert all(p.quantum is None for p in res.plateaus) and res.reason


def test_only_noise_gives_no_quantum_and_a_reason():
    g = np.abs(np.random.default_rng(3).normal(0.0, 0.3, 5000))
    res = analyze(g)
    assert all(p.quantum is None for p in res.plateaus) and res.reason


def test_a_huge_series_resistance_leaves_nothing_confidently_assigned():
    # R_s = 6 kohm compresses 0.5..20 G0 into 0.5..2.1 G0 measured; the search stops at
    # 1 kohm, so no R_s it may choose puts these plateaus on the lattice.
    levels = [1.0, 3.0, 5.5, 8.0, 11.0, 14.5, 18.0, 20.0, 16.0, 12.5, 9.0, 6.5, 4.0, 2.0]
    res = analyze(_staircase(levels, 6000.0, seed=5))
    assigned = [p for p in res.plateaus if p.quantum is not None]
    correct = [p for p in assigned if any(abs(p.quantum - lv) < 1e-9 for lv in levels)]
    assert len(assigned) - len(correct) <= 1  # at most one lucky coincidence at a low level
    if not assigned:
        assert res.reason


def test_a_level_within_the_noise_of_the_grid_is_unresolved_not_off_grid():
    from labqc import levels as lv

    # 1.14 G0 over 25 noisy samples (s = sqrt(0.3²/25 + 0.04²) = 0.072): 0.14 from 1.0,
    # beyond tol but within 2 s; 1.22 G0 is 3 s from 1.0 and 0.28 from 1.5: off the grid.
    a = lv.assign_levels(np.array([1.14, 1.22]), 25, 0.3, n_eff=np.array([25.0, 25.0]))
    assert np.isnan(a.quantum).all() and a.in_range.all()
    assert abs(a.z[0]) < lv.OFF_GRID_Z and not a.assignable[0] and a.confidence[0] == 0.0
    assert abs(a.z[1]) >= lv.OFF_GRID_Z and a.assignable[1]
    q, _, conf = lv.assign_level(1.14, 25, 0.3, n_eff=25.0)
    assert q is None and conf == 0.0  # the scalar rules (the online detector's) agree


def test_every_plateau_without_a_level_says_why():
    levels = [1.0, 2.5, 3.27, 6.0, 9.5]
    res = analyze(_staircase(levels, 250.0, seed=4), r_series=250.0)
    for p in res.plateaus:
        assert (p.quantum is None) == bool(p.reason)
    off = [p for p in res.plateaus if abs(p.level - 3.27) < 0.05]
    assert off and off[0].quantum is None and "off the grid" in off[0].reason
