"""The instrument turns its own output off at the end of what labqc sent it, with no host:
nothing is asked of the instrument after the request's last reading here."""
from __future__ import annotations

import numpy as np
import pytest

from labqc.instruments.connect import SIM_2614B, SIM_4200A
from labqc.instruments.keithley2614b import Keithley2614B
from labqc.instruments.keithley4200a import Keithley4200A
from labqc.instruments.sim.lab import get_lab, sim_library
from labqc.instruments.smu import PulseTrain, Sampling, Sweep
from labqc.instruments.kxci_sampling import TEST_LIMIT
from labqc.instruments.tsp_programs import PROGRAM_LIMIT


def fresh(seed: int):
    spec = sim_library("ohmic", seed)
    lab = get_lab(spec)
    lab.reset()
    return spec, lab


def stream_without_finishing(smu, request, alive: list) -> int:
    """Every reading of ``request`` through ``smu.run``, and no further: the stream is left
    suspended after its last reading (kept in ``alive`` so that nothing closes it), so none
    of the end of the request (checkpoint, output off from the host) is sent."""
    stream = smu.run(request)
    alive.append(stream)
    rows = 0
    for chunk in stream:
        rows += len(chunk)
        if rows == request.points:
            break
    return rows


def closed(alive: list) -> None:
    """The host comes back: the streams left open end (abort, output off)."""
    for stream in alive:
        stream.close()


def test_4200a_sweep_ends_in_standby_on_the_instrument():
    spec, lab = fresh(1)
    smu = Keithley4200A(SIM_4200A, visa_library=spec)
    alive: list = []
    try:
        sweep = Sweep(np.linspace(0, 0.5, 20), compliance=1e-3, step_time=0.01)
        assert stream_without_finishing(smu, sweep, alive) == 20
        lab.clock.advance_to(lab.clock.now + 1.0)
        assert not lab.emulator(SIM_4200A).any_output_on
    finally:
        closed(alive)
        smu.close()


def test_2614b_sweep_and_sampling_end_off_on_the_instrument():
    spec, lab = fresh(2)
    smu = Keithley2614B(SIM_2614B, visa_library=spec)
    emu = lab.emulator(SIM_2614B)
    alive: list = []
    try:
        for request in (Sweep(np.linspace(0, 0.5, 200), compliance=1e-3, step_time=0.01),
                        Sampling(0.1, 1e-3, np.arange(1, 13) * 1.0)):
            assert stream_without_finishing(smu, request, alive) == request.points
            on_while = emu.smua.output_at(lab.clock.now - 0.005)
            lab.clock.advance_to(emu.busy_until + 1e-3)
            assert on_while and not emu.any_output_on
    finally:
        closed(alive)
        smu.close()


def host_dies_after(smu, request, rows_read: int, alive: list) -> None:
    """Read ``rows_read`` rows of ``request`` through ``smu.run``, then nothing more: the
    host is gone (no checkpoint, no output off, no next program sent); the stream stays
    suspended in ``alive``."""
    stream = smu.run(request)
    alive.append(stream)
    got = 0
    for chunk in stream:
        got += len(chunk)
        if got >= rows_read:
            return


@pytest.mark.parametrize("request_", [
    # 100 s of triangle cycles (0 -> 0.5 -> 0 V), 0.1 s steps.
    Sweep(np.tile(np.concatenate([np.linspace(0, 0.5, 26), np.linspace(0.48, 0, 25)]), 20),
          compliance=1e-3, step_time=0.1),
    # 100 s of pulses with reads, one per second.
    PulseTrain.uniform(0.3, 100, width=0.01, period=1.0, compliance=1e-3, read_level=0.1),
])
def test_2614b_long_request_leaves_the_output_off_at_the_running_programs_end(request_):
    spec, lab = fresh(3)
    smu = Keithley2614B(SIM_2614B, visa_library=spec)
    emu = lab.emulator(SIM_2614B)
    alive: list = []
    try:
        started = lab.clock.now
        host_dies_after(smu, request_, rows_read=20, alive=alive)
        died = lab.clock.now
        assert emu.smua.output_at(died)  # the device was biased when the host died
        end = emu.busy_until  # the running program's planned end
        assert end - started <= PROGRAM_LIMIT + 1.0  # one program, not the whole request
        assert end - started < request_.duration / 2
        lab.clock.advance_to(end + 1e-3)
        assert not emu.any_output_on  # off on the instrument, with no host
        lab.clock.advance_to(started + request_.duration + 1.0)
        assert not emu.any_output_on  # and nothing turned it on again
    finally:
        closed(alive)
        smu.close()


def test_4200a_retention_leaves_the_smu_in_standby_at_the_running_tests_end():
    # 100 s of sampling every 0.5 s: system-mode sampling tests of at most TEST_LIMIT s,
    # each ending in standby on the instrument.
    spec, lab = fresh(4)
    smu = Keithley4200A(SIM_4200A, visa_library=spec)
    emu = lab.emulator(SIM_4200A)
    request = Sampling.linear(0.1, 1e-4, 0.5, 100.0)
    alive: list = []
    try:
        started = lab.clock.now
        host_dies_after(smu, request, rows_read=10, alive=alive)
        assert emu.any_output_on  # the device was biased when the host died
        end = emu.sys_run.end  # the running test's planned end
        assert end - started <= TEST_LIMIT + 1.0
        assert end - started < request.duration / 2
        lab.clock.advance_to(end + 1e-3)
        assert not emu.any_output_on  # standby on the instrument, with no host
        lab.clock.advance_to(started + request.duration + 1.0)
        assert not emu.any_output_on
    finally:
        closed(alive)
        smu.close()
