"""Two cases the 4200A driver once got wrong, through its public interface on the simulated
4200A-SCS over PyVISA (both framings), the lab's virtual clock timing them.

- A one-point sweep of 1 s (or 2 s): the driver read the buffer while the test ran, before
  the point was taken; the empty ``DO`` answer was taken for a failure.
- Stopping a long test: readings are fetched every sixteenth of a long test, and the
  request only came back to its caller with a chunk, so a stop (or abort) waited up to that
  long with the output on. Now the caller gets control at least once per poll (1 s).
"""
from __future__ import annotations

import numpy as np
import pytest

from labqc.instruments.keithley4200a import Keithley4200A
from labqc.instruments.sim.lab import get_lab, sim_library
from labqc.instruments.smu import PulseTrain, Sweep

R = 10e3  # ohm, the ohmic preset
SPEC = sim_library("ohmic", seed=0, time_scale=0)
POLL = 1.0  # s: the longest a caller may wait for control during a test


@pytest.fixture(params=["TCPIP0::127.0.0.1::1225::SOCKET", "GPIB0::17::INSTR"], ids=["ethernet", "gpib"])
def resource(request):
    return request.param


@pytest.fixture
def lab():
    lab = get_lab(SPEC)
    lab.reset()
    yield lab
    lab.reset()


def outputs_on(lab, resource) -> bool:
    return any(lab.emulator(resource).outputs_on().values())


@pytest.mark.parametrize("step_time, points", [(1.0, 1), (2.0, 1), (1.0, 2), (0.5, 1)])
def test_a_sweep_of_one_or_two_slow_points_returns_its_readings(lab, resource, step_time, points):
    with Keithley4200A(resource, visa_library=SPEC, timeout=2.0) as smu:
        data = np.concatenate(list(smu.run(Sweep([0.1] * points, 1e-3, step_time=step_time, nplc=1))))
        assert len(data) == points
        assert data["i"] == pytest.approx(0.1 / R, rel=1e-6)  # 0.1 V over 10 kohm
        # The instrument's own step timing shows in its timestamps.
        assert np.diff(data["t"]) == pytest.approx(step_time, abs=1e-3) if points > 1 else True
    assert not outputs_on(lab, resource)


LONG = {
    # 4000 points of 0.1 s: 400 s, readings fetched every 25 s
    "sweep": Sweep(np.full(4000, 0.2), 1e-3, step_time=0.1, nplc=0.01),
    # 10000 pulses of 0.1 s: 1000 s on the PMU (the stated 10 kohm holds the current)
    "pmu": PulseTrain.uniform(1.0, 10_000, width=1e-3, period=0.1, compliance=2e-4),
}


@pytest.mark.parametrize("what", sorted(LONG))
def test_stopping_a_long_test_turns_the_output_off_within_one_poll(lab, resource, what):
    with Keithley4200A(resource, visa_library=SPEC, timeout=2.0, pmu_load=R) as smu:
        stream = smu.run(LONG[what])
        handed = [lab.clock.now]  # instrument time whenever the caller got control back
        for _chunk in stream:
            handed.append(lab.clock.now)
            assert outputs_on(lab, resource)  # still running
            if lab.clock.now > 5.0:
                break
        stream.close()  # what a procedure's stop button does
        stopped = lab.clock.now
        assert not outputs_on(lab, resource)
        assert np.max(np.diff(handed)) <= POLL + 0.1
        assert stopped - handed[-1] <= 0.1  # the abort itself is a few messages
        # Aborted on the instrument, not left running: the next request runs at once.
        assert smu.read(0.1, compliance=1e-3)["i"][0] == pytest.approx(0.1 / R, rel=1e-6)
