"""The virtual clock: simulated time adds up as spent, and maps to wall time by a scale."""
import math
import threading
import time

import pytest

from labqc.instruments.sim.clock import VirtualClock


def test_durations_add_up_as_the_instrument_spends_them():
    clock = VirtualClock()
    nplc, line = 1.0, 50.0
    t_int = nplc / line  # one reading
    for _ in range(100):
        clock.advance(t_int)  # integration
        clock.advance(1e-3)  # source delay
    clock.advance(5e-3)  # one pulse
    assert clock.now == pytest.approx(100 * (0.02 + 1e-3) + 5e-3, rel=1e-12)


def test_advance_to_moves_forward_only():
    clock = VirtualClock()
    assert clock.advance_to(2.5) == 2.5
    assert clock.advance_to(1.0) == 2.5  # already past: nothing happens
    assert clock.now == 2.5
    assert clock.advance(0.0) == 2.5


@pytest.mark.parametrize("dt", [-1e-9, -1.0, float("nan"), float("inf")])
def test_time_cannot_go_backwards_or_be_undefined(dt):
    clock = VirtualClock()
    clock.advance(1.0)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(dt)
    assert clock.now == 1.0


@pytest.mark.parametrize("scale", [-0.1, float("nan"), float("inf"), "fast"])
def test_bad_time_scales_are_refused(scale):
    with pytest.raises(ValueError, match="time_scale"):
        VirtualClock(time_scale=scale)
    clock = VirtualClock()
    with pytest.raises(ValueError, match="time_scale"):
        clock.time_scale = scale


def test_advance_to_a_non_finite_time_is_refused():
    with pytest.raises(ValueError, match="finite"):
        VirtualClock().advance_to(float("nan"))


def test_scale_zero_runs_a_long_retention_in_no_time():
    clock = VirtualClock(time_scale=0)
    start = time.perf_counter()
    for _ in range(10_000):  # 1e4 s retention, read every second
        clock.advance(1.0)
    wall = time.perf_counter() - start
    assert clock.now == pytest.approx(1e4)
    assert wall < 0.5


def test_positive_scale_sleeps_in_proportion():
    clock = VirtualClock(time_scale=1e-3)  # 1000 x faster than real time
    start = time.perf_counter()
    clock.advance(100.0)  # 100 simulated s -> 0.1 s of wall time
    wall = time.perf_counter() - start
    assert 0.09 < wall < 0.6
    assert clock.now >= 100.0


def test_positive_scale_follows_the_wall_clock_while_idle():
    clock = VirtualClock(time_scale=0.01)
    time.sleep(0.05)  # 5 simulated seconds pass with nobody advancing
    assert 4.0 < clock.now < 30.0


def test_changing_the_scale_keeps_the_time_reached():
    clock = VirtualClock(time_scale=0)
    clock.advance(42.0)
    clock.time_scale = 1e-3
    assert clock.now == pytest.approx(42.0, abs=0.5)
    clock.time_scale = 0
    now = clock.now
    time.sleep(0.02)
    assert clock.now == now  # scale 0: time stands still unless spent


def test_reset_goes_back_to_zero():
    clock = VirtualClock()
    clock.advance(3.0)
    clock.reset()
    assert clock.now == 0.0
    clock.advance(1.0)
    assert clock.now == 1.0


def test_concurrent_advances_all_count():
    clock = VirtualClock()

    def spend():
        for _ in range(1000):
            clock.advance(1e-3)

    threads = [threading.Thread(target=spend) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # advance() reads now and then moves to now + dt under separate lock holds, so
    # concurrent callers may overlap; time never runs backwards and never exceeds the sum.
    assert 1.0 - 1e-9 <= clock.now <= 4.0 + 1e-9
    assert math.isfinite(clock.now)
