"""The instrument turns its own output off at the end of what labqc sent it, with no host:
nothing is asked of the instrument after the request's last reading here."""
from __future__ import annotations

import numpy as np

from labqc.instruments.connect import SIM_2614B, SIM_4200A
from labqc.instruments.keithley2614b import Keithley2614B
from labqc.instruments.keithley4200a import Keithley4200A
from labqc.instruments.sim.lab import get_lab, sim_library
from labqc.instruments.smu import Sampling, Sweep


def fresh(seed: int):
    spec = sim_library("ohmic", seed)
    lab = get_lab(spec)
    lab.reset()
    return spec, lab


def stream_without_finishing(smu, request) -> int:
    """Every reading of ``request``, read straight from the driver's stream, without the
    end-of-request bookkeeping (no checkpoint, no output off from the host)."""
    gen = smu._stream(request)
    rows = 0
    for chunk in gen:
        rows += len(chunk)
        if rows == request.points:
            break
    return rows


def test_4200a_sweep_ends_in_standby_on_the_instrument():
    spec, lab = fresh(1)
    smu = Keithley4200A(SIM_4200A, visa_library=spec)
    try:
        sweep = Sweep(np.linspace(0, 0.5, 20), compliance=1e-3, step_time=0.01)
        assert stream_without_finishing(smu, sweep) == 20
        lab.clock.advance_to(lab.clock.now + 1.0)
        assert not lab.emulator(SIM_4200A).any_output_on
    finally:
        smu.close()


def test_2614b_sweep_and_sampling_end_off_on_the_instrument():
    spec, lab = fresh(2)
    smu = Keithley2614B(SIM_2614B, visa_library=spec)
    emu = lab.emulator(SIM_2614B)
    try:
        for request in (Sweep(np.linspace(0, 0.5, 200), compliance=1e-3, step_time=0.01),
                        Sampling(0.1, 1e-3, np.arange(1, 13) * 1.0)):
            assert stream_without_finishing(smu, request) == request.points
            on_while = emu.smua.output_at(lab.clock.now - 0.005)
            lab.clock.advance_to(emu.busy_until + 1e-3)
            assert on_while and not emu.any_output_on
    finally:
        smu.close()
