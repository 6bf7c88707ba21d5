"""The synthetic trace generator and the scoring used by tests and the benchmark."""
import numpy as np
import pytest

from labqc.levels import uncorrect_g0
from labqc.plateaus import Plateau
from labqc.scoring import score_plateaus
from labqc.synthetic import SCENARIOS, TraceSpec, TruthPlateau, make_trace, pulse_train, scenario, voltage_sweep_trace


def test_same_seed_same_trace_other_seed_other_trace():
    a = make_trace(scenario("hard", n_cycles=3, seed=4))
    b = make_trace(scenario("hard", n_cycles=3, seed=4))
    c = make_trace(scenario("hard", n_cycles=3, seed=5))
    assert np.array_equal(a.g, b.g) and a.truth == b.truth
    assert a.g.size != c.g.size or not np.array_equal(a.g, c.g)


def test_truth_describes_the_trace():
    tr = make_trace(TraceSpec(n_cycles=5, seed=1, white=0.0, r_series=300.0, p_ramp=0.3, p_off_grid=0.2))
    assert set(SCENARIOS) == {"clean", "realistic", "hard"}
    assert tr.cycle_starts[0] == 0 and len(tr.cycle_starts) == 5
    for t in tr.truth:
        assert t.stop - t.start >= 8
        # Without noise every plateau sample is the true level seen through R_s.
        assert np.allclose(tr.g[t.start : t.stop], uncorrect_g0(t.level, 300.0))
        assert t.quantised == ((2 * t.level) % 1 == 0)
    starts = np.array([t.start for t in tr.truth])
    assert np.all(np.diff(starts) > 0)
    gaps = sum(b.start - a.stop for a, b in zip(tr.truth[:-1], tr.truth[1:]))
    assert gaps > 0  # ramps sit between plateaus and belong to none
    assert 0.5 <= min(t.level for t in tr.truth if t.quantised) and max(t.level for t in tr.truth) <= 25.0


def test_pulse_train_and_voltage_sweep_variants():
    g, level = pulse_train(500, seed=2, white=0.0, r_series=0.0)
    assert g.size == 500 and np.all(np.diff(level) <= 0) and np.array_equal(g, level)
    tr, v = voltage_sweep_trace(scenario("clean", n_cycles=2, seed=3))
    assert v.shape == tr.g.shape and v.max() <= 3.0 and v.min() > 0
    assert np.std(tr.g[v < 0.05] - tr.g_true[v < 0.05]) > np.std(tr.g[v > 2.5] - tr.g_true[v > 2.5])


def test_scoring_is_level_aware_and_one_to_one():
    truth = [TruthPlateau(0, 100, 1.0, True, 0), TruthPlateau(100, 200, 1.5, True, 0),
             TruthPlateau(200, 210, 2.0, True, 0), TruthPlateau(210, 300, 2.3, False, 0)]
    perfect = [Plateau(0, 100, 1.0, 1.0, 1), Plateau(100, 200, 1.5, 1.5, 1)]
    s = score_plateaus(perfect, truth, 300)
    assert (s.precision, s.recall, s.f1, s.n_true) == (1.0, 1.0, 1.0, 2)
    wrong = [Plateau(0, 100, 1.0, 1.5, 1), Plateau(100, 140, 1.5, 1.5, 1), Plateau(140, 200, 1.5, 1.5, 1),
             Plateau(210, 300, 2.3, None, 0)]
    s = score_plateaus(wrong, truth, 300)
    # wrong level, then two halves of one plateau (only the 60 % one matches); the off-grid claim is no claim
    assert (s.n_detected, s.n_matched, s.recall) == (3, 1, 0.5)
    assert s.false_per_1000 == pytest.approx(1000 * 2 / 300)
