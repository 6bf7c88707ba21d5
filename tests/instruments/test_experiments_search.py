"""The Search request on each instrument: the 2614B decides in its own Lua (checked here
against the 2600B's Lua 5.0 and message size), the 4200A on the host; both stop at the
first reading that meets the condition and leave the output off."""
import numpy as np
import pytest

from labqc.instruments.connect import SIM_2614B, SIM_4200A
from labqc.instruments.search import Search, Stop, StopState
from labqc.instruments.sim.lab import get_lab, sim_library
from labqc.instruments.sim.tsp_dialect import newer_lua
from labqc.instruments.smu import KIND_PULSE, KIND_READ, Sweep
from labqc.instruments.target import Target
from labqc.instruments.tsp_format import MAX_MESSAGE_BYTES
from labqc.instruments.tsp_search import program
from labqc.units import G0

SET = Search(0.5, 2.5, 0.05, 1e-3, Stop("g_above", 0.75 * G0), step_time=20e-3, width=5e-3,
             read_level=0.1, read_width=5e-3, read_compliance=2e-3)


def test_the_condition_by_hand():
    drop = StopState(Stop("i_drop", 0.5, 1e-3))
    assert [drop.met(i, 1.0) for i in (5e-4, 4e-3, 3e-3, 1.9e-3)] == [False, False, False, True]
    jump = StopState(Stop("g_jump", 1.0, 1e-6))
    assert [jump.met(i, 1.0) for i in (1e-8, 1.5e-8, 2e-6, 2.1e-6)] == [False, False, True, False]
    assert StopState(Stop("g_below", 1e-4)).met(-5e-6, -0.1) and not StopState(Stop("g_above", 1e-3)).met(1e-5, 0.1)


@pytest.mark.parametrize("stop", [Stop("g_above", 1e-4), Stop("g_below", 1e-4), Stop("i_drop", 0.5, 1e-4),
                                  Stop("g_jump", 1.0, 1e-6)])
def test_the_2614b_program_is_lua_5_0_and_fits_a_message(stop):
    with Target(preset="ohmic").session() as smu:
        for r in (Search(0.1, 5.0, 0.01, 1e-2, stop), Search(-0.1, -2.0, 0.05, 1e-2, stop, step_time=0.02,
                                                             width=5e-3, read_level=-0.1, read_compliance=1e-3)):
            for message in program(smu, r):
                assert newer_lua(message) is None, message
                assert len(message.encode()) <= MAX_MESSAGE_BYTES


def test_a_set_search_on_the_2614b_stops_at_the_first_read_in_the_window():
    lab = get_lab(sim_library("ag-nanowire", 4))
    lab.reset()
    with Target(preset="ag-nanowire", seed=4).session() as smu:
        c = np.concatenate(list(smu.run(SET)))
        out = smu.last_search
    assert not lab.emulator(SIM_2614B).any_output_on
    assert out.met and out.latency_clock == "instrument" and out.latency is not None
    assert list(c["kind"][:2]) == [KIND_PULSE, KIND_READ]
    reads = c[c["kind"] == KIND_READ]
    g = np.abs(reads["i"] / reads["v"]) / G0
    assert g[-1] >= 0.75 and np.all(g[:-1] < 0.75)  # stopped at the first, not later
    assert reads["index"][-1] == out.index and c["source"][c["kind"] == KIND_PULSE][-1] == pytest.approx(out.level)
    assert np.all(np.diff(c["t"]) > 0)


@pytest.mark.parametrize("resource", [SIM_2614B, SIM_4200A])
def test_a_reset_search_stops_below_the_level_on_either_instrument(resource):
    lab = get_lab(sim_library("ag-nanowire", 3))
    lab.reset()
    with Target(resource, preset="ag-nanowire", seed=3).session() as smu:
        # a SET ramp at 400 uA first (the Ag paper's LRS, 2-3 G0), then RESET pulses
        list(smu.run(Sweep(np.concatenate([np.arange(0, 2.0, 0.02), np.arange(2.0, 0, -0.02)]), 400e-6,
                           step_time=5e-3)))
        reset = Search(-0.1, -1.0, 0.02, 10e-3, Stop("g_below", 0.5 * G0), step_time=20e-3, width=5e-3,
                       read_level=0.1, read_width=5e-3, read_compliance=1e-3)
        c = np.concatenate(list(smu.run(reset)))
        out = smu.last_search
    assert not lab.emulator(resource).any_output_on
    reads = c[c["kind"] == KIND_READ]
    g = np.abs(reads["i"] / reads["v"]) / G0
    assert g[0] > 0.5 and out.met and g[-1] <= 0.5 and np.all(g[:-1] > 0.5)
    assert c["source"][c["kind"] == KIND_PULSE][-1] < 0
    assert out.latency_clock == ("instrument" if resource == SIM_2614B else "host")


def test_a_lua_error_mid_search_turns_the_output_off_on_the_2614b_and_says_so(monkeypatch):
    """The search loop runs under pcall like every other program: a Lua error inside it
    (here injected by redefining the level function after the set-up) aborts and turns the
    output off on the instrument, and the host gets a sentence instead of a long timeout."""
    from labqc.instruments.errors import ProtocolError
    lab = get_lab(sim_library("ag-nanowire", 4))
    lab.reset()
    with Target(preset="ag-nanowire", seed=4).session() as smu:
        send = smu.tsp.send

        def send_then_break(message: str) -> None:
            send(message)
            if message.startswith("function _SX("):
                send("function _SXS(k) error('injected') end")

        monkeypatch.setattr(smu.tsp, "send", send_then_break)
        with pytest.raises(ProtocolError, match="Lua error"):
            list(smu.run(SET))
        assert not lab.emulator(SIM_2614B).any_output_on
