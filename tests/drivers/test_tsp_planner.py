"""The 2614B planners, called by their public names: request + capabilities in, TSP text out.

Expected messages are written out from the Series 2600B reference manual's command names
(``smuX.source.*``, ``smuX.measure.*``, ``smuX.trigger.*``, ``trigger.timer[N].*``,
``printbuffer``), the same names tests/conformance/test_tm_devices_2614b.py checks against
tm-devices' 2614B command tree, and from the timing rules of docs/keithley2614b.md.
"""
import dataclasses

import numpy as np
import pytest

from labqc.instruments.errors import CapabilityError
from labqc.instruments.smu import KIND_POINT, KIND_PULSE, PulseTrain, Repeat, Sampling, Sweep
from labqc.instruments.tsp_capabilities import CAPABILITIES
from labqc.instruments.tsp_loop import loops_natively, plan_repeat
from labqc.instruments.tsp_messages import printbuffer, timer_setup
from labqc.instruments.tsp_planner import Block, plan, plan_pulses, plan_sweep, program

AT_50HZ = dataclasses.replace(CAPABILITIES, linefreq=50.0)


def test_current_sweep_on_channel_b_names_smub_everywhere():
    block = plan_sweep(Sweep([1e-6, -2e-6, 5e-7], compliance=2.0, source="I", step_time=0.02, nplc=1.0),
                       AT_50HZ, smu="smub")
    # NPLC 1 at 50 Hz is 20 ms + 100 us overhead: a 20 ms step has no time left, delay 0.
    assert block.setup == [
        "smub.source.func = smub.OUTPUT_DCAMPS smub.source.limitv = 2 smub.source.autorangei = smub.AUTORANGE_OFF "
        "smub.source.rangei = 1e-05 smub.source.leveli = 0 smub.source.delay = 0",
        "smub.measure.autozero = smub.AUTOZERO_ONCE smub.measure.nplc = 1 smub.measure.autorangev = "
        "smub.AUTORANGE_ON smub.measure.delay = 0",
        "smub.nvbuffer1.clear() smub.nvbuffer1.appendmode = 0 smub.nvbuffer1.collecttimestamps = 1 "
        "smub.nvbuffer1.collectsourcevalues = 1 smub.nvbuffer2.clear() smub.nvbuffer2.appendmode = 0 "
        "smub.nvbuffer2.collecttimestamps = 0 smub.nvbuffer2.collectsourcevalues = 0",
        "_L = {1e-06, -2e-06, 5e-07}",
        "smub.trigger.source.listi(_L) smub.trigger.source.limitv = 2 smub.trigger.source.action = smub.ENABLE "
        "smub.trigger.measure.iv(smub.nvbuffer1, smub.nvbuffer2) smub.trigger.measure.action = smub.ENABLE "
        "smub.trigger.endpulse.action = smub.SOURCE_HOLD smub.trigger.endsweep.action = smub.SOURCE_IDLE "
        "smub.trigger.arm.count = 1 smub.trigger.count = 3",
        "trigger.timer[1].reset() trigger.timer[1].delay = 0.02 trigger.timer[1].count = 2 "
        "trigger.timer[1].passthrough = true trigger.timer[1].stimulus = smub.trigger.ARMED_EVENT_ID",
        "smub.trigger.source.stimulus = trigger.timer[1].EVENT_ID smub.trigger.measure.stimulus = 0 "
        "smub.trigger.endpulse.stimulus = 0",
    ]
    assert block.instants == pytest.approx([0.02, 0.04, 0.06])  # each point at the end of its step
    assert list(block.kinds) == [KIND_POINT] * 3 and list(block.indices) == [0, 1, 2]


def test_a_program_prints_each_chunk_and_ends_with_the_output_off():
    block = Block(["x = 1"], np.array([0.3, 0.5, 0.7]), np.zeros(3, "i1"), np.arange(3), 0.3)
    messages, items = program(block, smu="smub")
    assert messages == [
        "x = 1",
        "function _P(a, b) format.data = format.REAL64 format.byteorder = format.SWAPPED printbuffer(a, b, "
        "smub.nvbuffer1.timestamps, smub.nvbuffer1.sourcevalues, smub.nvbuffer2.readings, smub.nvbuffer1.readings, "
        "smub.nvbuffer1.statuses) format.data = format.ASCII end",
        "function _W(d) delay(d) print(errorqueue.count) end",
        "function _G() _P(1, 2) _P(3, 3) end",  # chunks of at most half a second each
        "if errorqueue.count == 0 then smub.source.output = smub.OUTPUT_ON smub.trigger.initiate() end "
        "print(errorqueue.count) if errorqueue.count == 0 then if not pcall(_G) then smub.abort() end end "
        "waitcomplete() smub.source.output = smub.OUTPUT_OFF",
    ]
    assert items == [("chunk", 0, 2, 0.5), ("chunk", 2, 3, pytest.approx(0.2))]


def test_a_cut_pulse_train_program_holds_the_base_to_its_period_end():
    block = Block([], np.array([0.005]), np.zeros(1, "i1"), np.arange(1), 0.005, tail=0.015)
    assert program(block)[0][-1].endswith("waitcomplete() delay(0.015) smua.source.output = smua.OUTPUT_OFF")


def test_uneven_timer_delays_become_a_delay_list_table():
    assert timer_setup(2, [1e-3, 4e-3], count=3, passthrough=False, stimulus="trigger.timer[4].EVENT_ID",
                       tag="_7") == [
        "_D2_7 = {0.001, 0.004}",
        "trigger.timer[2].reset() trigger.timer[2].delaylist = _D2_7 trigger.timer[2].count = 3 "
        "trigger.timer[2].passthrough = false trigger.timer[2].stimulus = trigger.timer[4].EVENT_ID"]
    # the timer's shortest delay (its default, 10 us) is the floor
    assert "trigger.timer[1].delay = 1e-05 " in timer_setup(1, 0.0, count=1, passthrough=True, stimulus="0")[0]


def test_printbuffer_takes_lua_expressions_for_its_bounds():
    assert printbuffer("smua", 1, "smua.nvbuffer1.n") == (
        "format.data = format.REAL64 format.byteorder = format.SWAPPED printbuffer(1, smua.nvbuffer1.n, "
        "smua.nvbuffer1.timestamps, smua.nvbuffer1.sourcevalues, smua.nvbuffer2.readings, smua.nvbuffer1.readings, "
        "smua.nvbuffer1.statuses) format.data = format.ASCII")


def test_pulses_measure_60_us_before_the_pulse_ends():
    # NPLC 0.05 at 50 Hz: 1 ms aperture; a 5 ms pulse is measured from 3.94 ms (timer 2).
    block = plan_pulses(PulseTrain.uniform(-1.0, 3, width=5e-3, period=10e-3, compliance=1e-3, nplc=0.05), AT_50HZ)
    text = " ".join(block.setup)
    assert "trigger.timer[2].reset() trigger.timer[2].delay = 0.00394 " in text
    assert "smua.source.rangev = 2 smua.source.levelv = 0 " in text  # fixed range holding the base
    assert "smua.measure.rangei = 0.001 " in text  # the compliance's range
    assert block.instants == pytest.approx([0.005, 0.015, 0.025]) and list(block.kinds) == [KIND_PULSE] * 3


def test_a_request_without_a_trigger_model_is_refused():
    with pytest.raises(CapabilityError, match="cannot run a Repeat"):
        plan(Repeat((Sweep([0.1], 1e-3),), 2), CAPABILITIES)


def test_a_repeat_of_sampling_is_not_looped_on_the_instrument():
    assert not loops_natively(Repeat((Sampling(0.1, 1e-3, [0.1]),), 2))
    assert loops_natively(Repeat((Sweep([0.1], 1e-3),), 2))


def test_a_repeat_loop_turns_each_step_on_only_with_an_empty_queue():
    loop = plan_repeat(Repeat((Sweep([0.2], 1e-3, step_time=0.01),), 4), CAPABILITIES, smu="smub")
    assert loop.setup[-2:] == [
        "function _H(f) f() if errorqueue.count > 0 then return false end smub.source.output = smub.OUTPUT_ON "
        "smub.trigger.initiate() waitcomplete() smub.source.output = smub.OUTPUT_OFF return true end",
        "function _R(n, fresh) if fresh == 1 then smub.nvbuffer1.clear() smub.nvbuffer2.clear() end "
        "for k = 1, n do if not (_H(_S1)) then return end end end"]
    assert loop.period == pytest.approx(0.01) and loop.per_repeat == 1
