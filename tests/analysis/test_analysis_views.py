"""Views as data (labqc.views) and LTP/LTD fits (labqc.fits)."""
import numpy as np
import pytest

from labqc import views
from labqc.fits import fit_ltd, fit_ltp, fit_saturation
from labqc.plateaus import Plateau
from labqc.units import G0


def test_incremental_histogram_equals_batch_histogram():
    rng = np.random.default_rng(0)
    g = np.concatenate([rng.normal(1.0, 0.05, 5000), rng.normal(2.5, 0.05, 3000), [np.nan, 30.0, -1.0, 25.0, 0.0]])
    h = views.Histogram()
    for chunk in np.array_split(g, 37):
        h.add(chunk)
    h.add(1.0)
    counts, edges = views.histogram(np.append(g, 1.0))
    assert np.array_equal(h.counts, counts) and np.array_equal(h.edges, edges)
    assert h.n_outside == 2 and edges[1] - edges[0] == pytest.approx(0.05)


def test_histogram_peaks_find_the_levels():
    rng = np.random.default_rng(1)
    g = np.concatenate([rng.normal(1.0, 0.03, 4000), rng.normal(2.0, 0.03, 2000), rng.normal(3.5, 0.03, 1000)])
    peaks = views.histogram_peaks(*views.histogram(g))
    assert [p.nearest_quantum for p in peaks] == [1.0, 2.0, 3.5]  # tallest first
    assert all(abs(p.position - p.nearest_quantum) < 0.03 for p in peaks)
    assert views.histogram_peaks(np.zeros(10), np.arange(11.0)) == []


def test_plateau_histogram_is_duration_weighted():
    plateaus = [Plateau(0, 100, 1.02, 1.0, 0.9), Plateau(100, 130, 2.01, 2.0, 0.9), Plateau(130, 190, 1.0, 1.0, 0.9)]
    counts, edges = views.plateau_histogram(plateaus)
    assert counts.sum() == 190
    assert counts[np.searchsorted(edges, 1.02) - 1] == 160


def test_bad_histogram_range_is_refused():
    with pytest.raises(ValueError):
        views.histogram([1.0], bin_width=0.0)
    with pytest.raises(ValueError):
        views.Histogram(range=(2.0, 1.0))


def test_histogram_2d_and_time_in_cycle():
    v = np.tile(np.linspace(0, 3, 300), 4)
    g = np.where(v > 1.5, 2.0, 1.0)
    counts, x_edges, g_edges = views.histogram_2d(v, g, x_bins=30)
    assert counts.shape == (30, g_edges.size - 1) and counts.sum() == v.size
    assert counts[:, np.searchsorted(g_edges, 2.0, side="right") - 1].sum() == (v > 1.5).sum()
    cycle = np.repeat([3, 4, 5, 6], 300)
    tic = views.time_in_cycle(cycle)
    assert tic[0] == 0 and tic[299] == 299 and tic[300] == 0 and tic.max() == 299


def test_plateau_lengths_per_level():
    plateaus = [Plateau(0, 50, 1.0, 1.0, 0.9), Plateau(60, 160, 1.0, 1.0, 0.9), Plateau(200, 230, 2.2, None, 0.1)]
    stats = views.plateau_lengths(plateaus)
    assert [(s.quantum, s.count, s.mean, s.max) for s in stats] == [(1.0, 2, 75.0, 100)]


def test_pulse_statistics_use_the_top_of_each_pulse():
    # 20 trapezoidal pulses; pulse i carries 1 mA·(1 - 0.02 i) on its top.
    shape = np.concatenate([np.linspace(0, 1, 5), np.ones(10), np.linspace(1, 0, 5)])
    amps = 1e-3 * (1 - 0.02 * np.arange(20))
    current = np.concatenate([a * shape for a in amps])
    pulse = np.repeat(np.arange(1, 21), shape.size)
    v_read = np.full(20, 0.1)
    i_read = amps * 0.01
    ps = views.pulse_statistics(pulse, current, v_read=v_read, i_read=i_read)
    assert np.allclose(ps.mean_top, amps * np.mean(shape[shape >= 0.5]))
    assert ps.ratio[0] == 1.0 and ps.ratio[-1] == pytest.approx(amps[-1] / amps[0])
    assert np.allclose(ps.g_read, i_read / 0.1 / G0)
    a, b = views.lag_pairs(ps.mean_top)
    assert np.all(b < a)  # a monotonic decrease sits below the diagonal
    r, theta = views.polar(ps.ratio)
    assert theta[1] == pytest.approx(np.pi) and np.array_equal(r, ps.ratio)
    assert views.lag_spread(ps.mean_top) < 0.01


def test_endurance_and_retention_statistics():
    cycle = np.repeat([0, 1, 2], 100)
    plateaus = [Plateau(0, 80, 1.0, 1.0, 0.9), Plateau(100, 150, 2.0, 2.0, 0.9), Plateau(150, 300, 1.0, 1.0, 0.9)]
    cycles, quanta, occ = views.level_occupancy(plateaus, cycle)
    assert list(cycles) == [0, 1, 2] and list(quanta) == [1.0, 2.0]
    assert occ.tolist() == [[80, 0], [50, 50], [100, 0]]
    reads = np.concatenate([np.full(10, 0.01), np.full(10, 2.5)])
    hl = views.hrs_lrs(reads)
    assert hl.hrs.size == 10 and hl.lrs.size == 10 and hl.window == pytest.approx(250.0)
    with pytest.raises(ValueError):
        views.hrs_lrs([1.0])
    dwell = views.dwell_times(plateaus, t=np.arange(300) * 0.5)
    assert [(d.quantum, d.times.tolist()) for d in dwell] == [(1.0, [39.5, 74.5]), (2.0, [24.5])]


@pytest.mark.parametrize("a_true", [5.08, 12.0])
def test_ltp_fit_recovers_the_nonlinearity(a_true):
    rng = np.random.default_rng(2)
    p = np.arange(1, 31, dtype=float)
    g = 8.0 * (1 - np.exp(-p / a_true)) + 2.0 + rng.normal(0, 0.05, p.size)
    fit = fit_ltp(p, g)
    assert fit.a == pytest.approx(a_true, abs=max(3 * fit.sigma_a, 0.05 * a_true))
    assert fit.sigma_a < 0.2 * a_true
    assert fit(p) == pytest.approx(8.0 * (1 - np.exp(-p / a_true)) + 2.0, abs=0.1)


def test_ltd_fit_is_the_mirror_image():
    rng = np.random.default_rng(3)
    p = np.arange(1, 31, dtype=float)
    g = 10.0 - 7.0 * (1 - np.exp(-p / 4.85)) + rng.normal(0, 0.05, p.size)
    fit = fit_ltd(p, g)
    assert fit.kind == "LTD" and fit.a == pytest.approx(4.85, rel=0.1)
    assert fit.g_start == pytest.approx(10.0, abs=0.2) and fit.g_end < fit.g_start


def test_fit_refuses_too_few_points_and_bad_kind():
    with pytest.raises(ValueError):
        fit_ltp([1, 2, 3], [1, 2, 3])
    with pytest.raises(ValueError):
        fit_saturation([1, 2, 3, 4], [1, 2, 3, 4], kind="STDP")
