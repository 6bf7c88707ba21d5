"""4200A sampling as system-mode tests of bounded length (instruments/kxci_sampling.py):
how the instants are grouped, and the readings on the simulated 4200A."""
from __future__ import annotations

import numpy as np
import pytest

from labqc.instruments.connect import SIM_4200A
from labqc.instruments.errors import CapabilityError
from labqc.instruments.keithley4200a import Keithley4200A
from labqc.instruments.kxci_sampling import TEST_LIMIT, sampling_tests
from labqc.instruments.sim.lab import get_lab, sim_library
from labqc.instruments.smu import Sampling


def test_even_sampling_is_cut_into_tests_of_at_most_half_the_limit():
    # 0.25 s apart for 40 s; a test spans at most 15 s - one reading (0.02 s) from its first
    # reading to its last: readings 0.25 .. 15.0 s (60), 15.25 .. 30.0 s (60), the rest (40).
    times = 0.25 * np.arange(1, 161)
    tests = sampling_tests(times, t_read=0.02, limit=30.0)
    assert [(t.a, t.b) for t in tests] == [(0, 60), (60, 120), (120, 160)]
    assert all(t.interval == pytest.approx(0.25) for t in tests)
    assert tests[0].picks.tolist() == list(range(60))


def test_uneven_instants_share_a_finer_grid():
    # 1, 3, 10 s: gaps 2 and 7 s; every instant is on a 1 s grid (readings 0, 2, 9 of 10).
    # 30 s is 20 s after 10 s (above the 10 s longest interval): a test of its own, as is 100 s.
    tests = sampling_tests(np.array([1.0, 3.0, 10.0, 30.0, 100.0]), t_read=0.02)
    assert [(t.a, t.b) for t in tests] == [(0, 3), (3, 4), (4, 5)]
    assert tests[0].interval == pytest.approx(1.0)
    assert tests[0].picks.tolist() == [0, 2, 9] and tests[0].count == 10
    assert tests[1].count == 1


def test_a_grid_is_found_for_instants_that_are_not_multiples_of_the_smallest_gap():
    # gaps 0.3 and 0.4 s: a 0.1 s grid holds both (readings 0, 3, 7).
    (test,) = sampling_tests(np.array([1.0, 1.3, 1.7]), t_read=0.02)
    assert test.interval == pytest.approx(0.1)
    assert test.picks.tolist() == [0, 3, 7]


def test_log_spaced_instants_land_within_half_a_reading():
    times = Sampling.log(0.1, 1e-4, 1.0, 1000.0, per_decade=10).times
    t_read = 0.02
    for test in sampling_tests(times, t_read):
        offsets = times[test.a:test.b] - times[test.a]
        assert np.all(np.abs(test.picks * test.interval - offsets) <= t_read / 2 + 1e-9)
        assert test.interval >= t_read and test.span <= TEST_LIMIT / 2
        assert np.all(np.diff(test.picks) > 0)


def test_instants_closer_than_a_reading_are_refused():
    with pytest.raises(CapabilityError, match="cannot sample"):
        sampling_tests(np.array([1.0, 1.005]), t_read=0.001)
    with pytest.raises(CapabilityError, match="cannot sample"):
        sampling_tests(np.array([1.0, 1.02]), t_read=0.05)


@pytest.mark.parametrize("request_", [
    Sampling.linear(0.1, 1e-4, 0.25, 40.0),
    Sampling.log(0.1, 1e-4, 1.0, 200.0, per_decade=10),
    Sampling(0.1, 1e-4, [1.0, 3.0, 10.0, 30.0, 100.0]),
])
def test_readings_arrive_at_the_requested_instants_and_the_smu_ends_in_standby(request_):
    spec = sim_library("ohmic", 3)
    lab = get_lab(spec)
    lab.reset()
    smu = Keithley4200A(SIM_4200A, visa_library=spec)
    try:
        data = np.concatenate(list(smu.run(request_)))
    finally:
        smu.close()
    assert data["index"].tolist() == list(range(request_.points))
    assert np.all(data["source"] == 0.1)
    R = 0.1 / data["i"][0]
    assert data["i"] == pytest.approx(0.1 / R, rel=1e-6)
    # Within half a reading (1 PLC at 60 Hz) of the requested instants, plus what the host's
    # own processing adds to each test's start (its wall clock runs while the simulator's,
    # at time scale 0, does not): 50 ms, as for the user-mode sampling this replaced.
    t_read = 1 / 60
    assert np.abs((data["t"] - data["t"][0]) - (request_.times - request_.times[0])).max() <= t_read / 2 + 0.05
    assert np.all(np.diff(data["t"]) > 0)
    assert not lab.emulator(SIM_4200A).any_output_on
