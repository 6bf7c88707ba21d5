"""The simulator's AR(1) recursion (1/f fluctuators) equals scipy's lfilter, which it
replaces to keep scipy.signal out of long runs."""
import numpy as np
import pytest
from scipy.signal import lfilter

from labqc.instruments.sim.noise import ar1_filter


@pytest.mark.parametrize("a", [1e-9, 0.05, 0.2, 0.21, 0.5, 0.9, 0.999, 1 - 1e-7])
@pytest.mark.parametrize("n", [1, 7, 1000, 50_000])
def test_ar1_filter_matches_lfilter(a, n):
    rng = np.random.default_rng(n)
    w, s0 = rng.standard_normal(n), float(rng.standard_normal())
    expected, _ = lfilter([1.0], [1.0, -a], w, zi=[a * s0])
    got = ar1_filter(w, a, s0)
    assert np.max(np.abs(got - expected)) <= 1e-9 * max(1.0, np.max(np.abs(expected)))


def test_ar1_filter_of_nothing_is_nothing():
    assert ar1_filter(np.zeros(0), 0.5, 1.0).size == 0
