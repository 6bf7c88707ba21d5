"""A long 2614B sweep or pulse train as programs of bounded instrument time
(instruments/tsp_programs.py): where the cuts go, and that the rows do not change."""
from __future__ import annotations

import numpy as np
import pytest

from labqc.instruments.connect import SIM_2614B
from labqc.instruments.keithley2614b import Keithley2614B
from labqc.instruments.sim.lab import get_lab, sim_library
from labqc.instruments.smu import PulseTrain, Sweep
from labqc.instruments.tsp_programs import PROGRAM_LIMIT, program_spans, sweep_spans, tail_seconds, train_spans


def test_a_request_within_the_limit_is_one_program():
    assert program_spans(np.full(10, 1.0), np.ones(9), limit=30.0) == [(0, 10)]
    assert program_spans(np.full(30, 1.0), np.ones(29), limit=30.0) == [(0, 30)]  # exactly the limit


def test_even_levels_are_cut_at_the_limit():
    # 100 one-second steps at one level: 30 + 30 + 30 + 10 seconds.
    assert program_spans(np.full(100, 1.0), np.full(99, 0.5), limit=30.0) == [(0, 30), (30, 60), (60, 90), (90, 100)]


def test_cuts_go_where_the_sweep_is_back_at_0_v():
    # Cycles 0 -> 1 -> 0 V in 1 s steps, 12 steps (12 s) each: the quiet places are between
    # cycles (0 V on both sides); two cycles fit in 30 s, the cut after 24 s.
    cycle = np.concatenate([np.linspace(0, 1, 6), np.linspace(1, 0, 6)])
    sweep = Sweep(np.tile(cycle, 5), compliance=1e-3, step_time=1.0)
    spans = sweep_spans(sweep, limit=30.0)
    assert spans == [(0, 24), (24, 48), (48, 60)]
    for a, b in spans[:-1]:
        assert sweep.levels[b - 1] == 0.0 and sweep.levels[b] == 0.0


def test_a_quiet_place_is_not_taken_too_early():
    # The only 0 V place is 3 s in (between steps 2 and 3); cutting there would make a 3 s
    # program: the cut goes at the quietest place in the second half of the window instead
    # (0.2 V on both sides, between steps 20 and 21, 21 s in).
    levels = np.full(40, 1.0)
    levels[2:4] = 0.0
    levels[20:22] = 0.2
    sweep = Sweep(levels, compliance=1e-3, step_time=1.0)
    assert sweep_spans(sweep, limit=30.0)[0] == (0, 21)


def test_a_step_longer_than_the_limit_is_a_program_of_its_own():
    assert program_spans(np.array([1.0, 45.0, 1.0]), np.zeros(2), limit=30.0) == [(0, 1), (1, 2), (2, 3)]


def test_cut_levels_must_match_the_steps():
    with pytest.raises(ValueError, match="cut level"):
        program_spans(np.ones(5), np.ones(5))


def test_a_pulse_train_is_cut_between_pulses_and_keeps_its_period():
    train = PulseTrain.uniform(1.0, 100, width=0.1, period=1.0, compliance=1e-3, read_level=0.1, read_width=0.2)
    spans = train_spans(train)
    assert spans == [(0, 30), (30, 60), (60, 90), (90, 100)]
    assert tail_seconds(train) == pytest.approx(0.7)  # 1 s period - 0.1 s pulse - 0.2 s read
    assert tail_seconds(Sweep([0, 1], compliance=1e-3)) == 0.0
    assert PROGRAM_LIMIT <= 30.0


def rows(request, limit: float, seed: int = 5) -> tuple[np.ndarray, list]:
    spec = sim_library("ohmic", seed)
    lab = get_lab(spec)
    lab.reset()
    smu = Keithley2614B(SIM_2614B, visa_library=spec)
    smu.program_limit = limit
    try:
        got = np.concatenate(list(smu.run(request)))
    finally:
        smu.close()
    return got, list(lab.emulator(SIM_2614B).smua.output_log)


@pytest.mark.parametrize("request_, limit", [
    (Sweep(np.tile(np.concatenate([np.linspace(0, 0.5, 11), np.linspace(0.45, 0, 10)]), 6),
           compliance=1e-3, step_time=0.05), 1.2),
    (PulseTrain.uniform(0.3, 40, width=0.01, period=0.05, compliance=1e-3, read_level=0.1), 0.5),
    (PulseTrain.uniform(-0.4, 30, width=0.02, period=0.1, compliance=1e-3), 1.0),
])
def test_rows_are_those_of_one_program(request_, limit):
    whole, whole_log = rows(request_, float("inf"))
    cut, cut_log = rows(request_, limit)
    assert len(cut) == len(whole)
    for field in ("t", "source", "v", "i"):
        np.testing.assert_allclose(cut[field], whole[field], rtol=0, atol=1e-12)
    for field in ("compliance", "index", "kind"):
        np.testing.assert_array_equal(cut[field], whole[field])
    assert np.all(np.diff(cut["t"]) > 0)
    # The cut run really switched off between programs: more off/on pairs than one program.
    switches = lambda log: sum(1 for _, on in log if on)
    assert switches(cut_log) >= switches(whole_log) + int(request_.duration / limit) - 1


def test_each_pulse_program_holds_the_base_to_the_end_of_its_last_period():
    # 30 pulses 0.1 s apart, programs of at most 1 s: three programs of 10 periods each,
    # each on for its whole 1 s (the last pulse's period ends at the base, not at the pulse).
    train = PulseTrain.uniform(-0.4, 30, width=0.02, period=0.1, compliance=1e-3)
    _, log = rows(train, 1.0)
    ons = [t for t, on in log if on]
    offs = [t for t, on in log if not on and t > ons[0]]
    assert len(ons) == 3
    for on, off in zip(ons[:2], offs[:2]):  # the last program ends at its last pulse
        assert off - on == pytest.approx(1.0, abs=2e-3)
