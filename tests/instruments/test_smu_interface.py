"""The interface's own guarantees: requests are checked before anything runs, and the
output is turned off on every way out of ``run``."""
import numpy as np
import pytest

from labqc.instruments.errors import CapabilityError
from labqc.instruments.smu import (READING, Capabilities, PulseTrain, Sampling, SourceMeasure,
                             Sweep, empty_chunk)

CAPS = Capabilities(
    model="test SMU", max_voltage=20.0, max_current=0.1, min_compliance=1e-8,
    voltage_ranges=(2.0, 20.0), current_ranges=(1e-6, 1e-3, 0.1), nplc_range=(0.001, 25),
    max_sweep_points=1000, min_step_time=1e-4, min_pulse_width=1e-4, max_pulse_count=5000,
    max_samples=10000,
)


class Recorder(SourceMeasure):
    """A driver that records what the interface asks of it (no instrument behind)."""

    capabilities = CAPS

    def __init__(self, fail_at: int | None = None):
        self.log: list[str] = []
        self.fail_at = fail_at

    def _stream(self, request):
        self.log.append("start")
        for k in range(3):
            if k == self.fail_at:
                raise RuntimeError("instrument fell over")
            chunk = empty_chunk(2)
            chunk["index"] = [2 * k, 2 * k + 1]
            yield chunk

    def read(self, level, *, compliance, source="V", nplc=1.0):
        return empty_chunk(1)

    def abort(self):
        self.log.append("abort")

    def output_off(self):
        self.log.append("off")


def test_run_to_the_end_turns_output_off_without_abort():
    smu = Recorder()
    chunks = list(smu.run(Sweep([0, 1, 0], compliance=1e-3)))
    assert sum(len(c) for c in chunks) == 6 and chunks[0].dtype == READING
    assert smu.log == ["start", "off"]


def test_breaking_out_aborts_and_turns_output_off():
    smu = Recorder()
    it = smu.run(Sweep([0, 1, 0], compliance=1e-3))
    next(it)
    it.close()
    assert smu.log == ["start", "abort", "off"]


def test_an_exception_inside_the_driver_still_turns_output_off():
    smu = Recorder(fail_at=1)
    with pytest.raises(RuntimeError):
        list(smu.run(Sweep([0, 1], compliance=1e-3)))
    assert smu.log[-2:] == ["abort", "off"]


@pytest.mark.parametrize("request_, limit", [
    (Sweep([0, 25.0], compliance=1e-3), "25 V exceeds the maximum of 20 V"),
    (Sweep([0, 1.0], compliance=0.5), "compliance 0.5 A exceeds 0.1 A"),
    (Sweep(np.zeros(1001), compliance=1e-3), "1001 sweep points exceed the maximum of 1000"),
    (Sweep([0, 1.0], compliance=1e-3, nplc=30), "NPLC 30 is outside"),
    (Sweep([0, np.nan], compliance=1e-3), "not a finite number"),
    (Sweep([0, 1.0], compliance=float("nan")), "compliance must be a finite value"),
    (PulseTrain.uniform(1.5, 10, width=1e-5, period=1e-3, compliance=1e-3), "pulse width"),
    (PulseTrain.uniform(1.5, 10, width=5e-3, period=5e-3, compliance=1e-3), "leaves no time"),
    (PulseTrain.uniform(1.5, 0, width=5e-3, period=1e-2, compliance=1e-3), "0 pulses"),
    (Sampling(0.1, 1e-3, [1.0, 1.0, 2.0]), "must start at >= 0 s and increase"),
])
def test_requests_beyond_capabilities_are_refused_before_anything_runs(request_, limit):
    smu = Recorder()
    with pytest.raises(CapabilityError, match=limit.replace("(", r"\(")):
        list(smu.run(request_))
    assert smu.log == []  # nothing was sent, not even output off


def test_sampling_builders():
    lin = Sampling.linear(0.1, 1e-4, interval=1.0, duration=10.0)
    assert lin.points == 10 and lin.duration == 10.0
    log = Sampling.log(0.1, 1e-4, first=1.0, duration=1e4, per_decade=5)
    assert log.times[0] == 1.0 and log.times[-1] == 1e4 and np.all(np.diff(log.times) > 0)
    with pytest.raises(ValueError):
        Sampling.linear(0.1, 1e-4, interval=0, duration=10)


def test_pulse_train_reads_follow_each_pulse():
    p = PulseTrain.uniform(1.5, 4, width=5e-3, period=20e-3, compliance=1e-3, read_level=0.2)
    assert p.count == 4 and np.all(p.read_levels == 0.2) and p.duration == pytest.approx(0.08)
