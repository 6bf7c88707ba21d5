"""The 2-D conductance correlation histogram (2DCH) of cycled traces, and its figure in `labqc analyze`."""
import numpy as np
import pandas as pd
import pytest

from labqc.analyze_cli import MIN_CORRELATION_CYCLES
from labqc.cli import main
from labqc.levels import uncorrect_g0
from labqc.views import correlation_histogram

NOISE = 0.02  # G0


def plateau(rng, level, n):
    return level + rng.normal(0.0, NOISE, n)


def co_occurring_cycles(n_cycles=120, seed=0):
    """Per-cycle traces: half the cycles (at random) sit on 1 G0 and 2 G0, the others on
    3 G0 only; every cycle starts with a tunnelling stretch near 0.1 G0 and ends with ten
    noiseless samples at 4.525 G0 (a bin whose count is the same in every cycle)."""
    rng = np.random.default_rng(seed)
    pair = rng.random(n_cycles) < 0.5
    cycles = []
    for both in pair:
        parts = [plateau(rng, 0.1, rng.integers(20, 60))]
        if both:
            parts += [plateau(rng, 1.0, rng.integers(40, 80)), plateau(rng, 2.0, rng.integers(40, 80))]
        else:
            parts.append(plateau(rng, 3.0, rng.integers(40, 80)))
        parts.append(np.full(10, 4.525))
        cycles.append(np.concatenate(parts))
    return cycles


def joined(cycles):
    starts = np.cumsum([0] + [c.size for c in cycles[:-1]])
    return np.concatenate(cycles), starts


def bin_of(h, level):
    return int(np.searchsorted(h.edges, level, side="right") - 1)


@pytest.fixture(scope="module")
def co_occurring():
    g, starts = joined(co_occurring_cycles())
    return correlation_histogram(g, starts, g_max=5.0)


def test_levels_of_the_same_cycles_correlate_and_exclusive_ones_anticorrelate(co_occurring):
    h = co_occurring
    one, two, three = bin_of(h, 1.0), bin_of(h, 2.0), bin_of(h, 3.0)
    assert h.n_traces == h.n_pairs == 120 and h.lag == 0
    assert h.c[one, two] > 0.5
    assert h.c[one, three] < -0.5 and h.c[two, three] < -0.5
    # The tunnelling stretch (every cycle, random length) is unrelated to the pairing.
    assert abs(h.c[bin_of(h, 0.1), one]) < 0.3


def test_matrix_is_symmetric_with_unit_diagonal_where_defined(co_occurring):
    c = co_occurring.c
    assert c.shape == (100, 100) and co_occurring.edges.size == 101
    defined = np.isfinite(np.diag(c))
    assert defined.sum() >= 12  # about four bins around each of the four noisy levels
    np.testing.assert_array_equal(np.diag(c)[defined], 1.0)
    np.testing.assert_array_equal(np.isnan(c), np.isnan(c.T))
    np.testing.assert_allclose(c[np.isfinite(c)], c.T[np.isfinite(c)], rtol=0, atol=1e-12)
    assert np.nanmax(c) <= 1.0 and np.nanmin(c) >= -1.0


def test_constant_and_empty_bins_are_nan(co_occurring):
    h = co_occurring
    constant = bin_of(h, 4.525)  # exactly 10 samples in every cycle
    assert h.counts[:, constant].min() == h.counts[:, constant].max() == 10
    empty = bin_of(h, 4.0)  # never visited
    for k in (constant, empty):
        assert np.isnan(h.c[k, :]).all() and np.isnan(h.c[:, k]).all()


def test_agrees_with_numpy_corrcoef_of_the_per_trace_histograms(co_occurring):
    h = co_occurring
    varying = h.counts.std(axis=0) > 0
    ref = np.corrcoef(h.counts[:, varying].T)
    np.testing.assert_allclose(h.c[np.ix_(varying, varying)], ref, atol=1e-10)
    # The per-trace histograms are the plain histograms of each cycle.
    cycles = co_occurring_cycles()
    counts, _ = np.histogram(cycles[7], bins=h.edges)
    np.testing.assert_array_equal(h.counts[7], counts)


def test_nan_samples_and_all_nan_cycles_are_ignored():
    cycles = co_occurring_cycles(n_cycles=40, seed=3)
    g, starts = joined(cycles)
    clean = correlation_histogram(g, starts, g_max=5.0)
    rng = np.random.default_rng(4)
    # NaN gaps inside every cycle, plus one cycle spent entirely at compliance.
    holed = [np.insert(c, rng.integers(0, c.size, 5), np.nan) for c in cycles]
    g2, starts2 = joined(holed[:20] + [np.full(30, np.nan)] + holed[20:])
    dirty = correlation_histogram(g2, starts2, g_max=5.0)
    assert dirty.n_traces == 40
    np.testing.assert_array_equal(dirty.counts, clean.counts)
    np.testing.assert_array_equal(np.isnan(dirty.c), np.isnan(clean.c))
    np.testing.assert_allclose(dirty.c[np.isfinite(dirty.c)], clean.c[np.isfinite(clean.c)])


def test_series_resistance_correction_recovers_the_true_levels():
    g_true, starts = joined(co_occurring_cycles(n_cycles=30, seed=5))
    measured = uncorrect_g0(g_true, 300.0)  # 3 G0 reads about 2.6 G0 through 300 ohm
    ref = correlation_histogram(g_true, starts, g_max=5.0)
    got = correlation_histogram(measured, starts, g_max=5.0, r_series=300.0)
    np.testing.assert_array_equal(got.counts, ref.counts)
    raw = correlation_histogram(measured, starts, g_max=5.0)
    assert not np.array_equal(raw.counts, ref.counts)


def test_default_range_reaches_just_above_the_highest_level():
    g, starts = joined(co_occurring_cycles(n_cycles=10, seed=6))
    h = correlation_histogram(g, starts)
    assert h.edges[0] == 0.0 and 4.525 < h.edges[-1] <= 6.0
    np.testing.assert_allclose(np.diff(h.edges), 0.05)


@pytest.mark.parametrize("cycles", [[np.ones(50)], [np.ones(50), np.full(50, np.nan)]])
def test_fewer_than_two_traces_is_refused(cycles):
    g, starts = joined(cycles)
    with pytest.raises(ValueError, match="at least 2 traces"):
        correlation_histogram(g, starts)


@pytest.mark.parametrize("starts", [[0, 50, 30], [0, 200], [0, -1], [0, 10.5]])
def test_bad_cycle_starts_are_refused(starts):
    with pytest.raises(ValueError, match="cycle starts"):
        correlation_histogram(np.ones(100), starts)


def test_shifted_correlation_sees_alternating_cycles():
    # Cycle r sits on 1 G0 when r is even and on 2 G0 when r is odd (random lengths).
    rng = np.random.default_rng(7)
    cycles = [plateau(rng, 1.0 + (r % 2), rng.integers(40, 80)) for r in range(60)]
    g, starts = joined(cycles)
    one, two = 20, 40  # bins [1.00, 1.05) and [2.00, 2.05) with g_max = 3
    h1 = correlation_histogram(g, starts, g_max=3.0, lag=1)
    assert h1.lag == 1 and h1.n_pairs == 59 and h1.n_traces == 60
    assert h1.c[one, one] < -0.5 and h1.c[two, two] < -0.5  # a level in cycle r: not in r+1
    assert h1.c[one, two] > 0.5 and h1.c[two, one] > 0.5
    h2 = correlation_histogram(g, starts, g_max=3.0, lag=2)
    assert h2.c[one, one] > 0.5 and h2.c[one, two] < -0.5
    with pytest.raises(ValueError, match="at least 2 pairs"):
        correlation_histogram(g, starts, lag=59)
    with pytest.raises(ValueError, match="lag"):
        correlation_histogram(g, starts, lag=-1)


# ----- `labqc analyze` ----------------------------------------------------------------
def write_results(path, df):
    with open(path, "w") as f:
        f.write("#Procedure: <labqc.procedures.sweeps.CurrentSweep>\n#Parameters:\n#Data:\n")
        df.to_csv(f, index=False)
    return path


def test_analyze_writes_the_correlation_figure_for_a_cycled_file(tmp_path, capsys):
    cycles = co_occurring_cycles(n_cycles=24, seed=8)
    g, _ = joined(cycles)
    cycle = np.repeat(np.arange(len(cycles)), [c.size for c in cycles])
    path = write_results(tmp_path / "cycled.csv", pd.DataFrame({"G/G0": g, "Cycle": cycle}))
    assert main(["analyze", str(path), "--r-series", "0"]) == 0
    png = tmp_path / "cycled_corr2d.png"
    assert f"wrote {png}" in capsys.readouterr().out
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("n_cycles", [1, MIN_CORRELATION_CYCLES - 1])
def test_analyze_draws_no_correlation_figure_for_too_few_cycles(tmp_path, capsys, n_cycles):
    # Two cycles would give a correlation of ±1 everywhere: nothing to learn from it.
    cycles = co_occurring_cycles(n_cycles=n_cycles, seed=9)
    cycle = np.repeat(np.arange(len(cycles)), [c.size for c in cycles])
    path = write_results(tmp_path / "few.csv", pd.DataFrame({"G/G0": np.concatenate(cycles), "Cycle": cycle}))
    assert main(["analyze", str(path), "--r-series", "0"]) == 0
    assert "corr2d" not in capsys.readouterr().out
    assert (tmp_path / "few_histogram.png").exists() and not (tmp_path / "few_corr2d.png").exists()
