"""The simulated 2614B runs the command sequences of Tektronix's published 2600B examples.

The sequences (which commands, in which order, and how the replies are read) are facts
taken from the public ``tektronix/keithley`` repository, each cited in its test's
docstring; the code here is ours. The device is a 1 kOhm resistor, so every reading has
an exact expected value.
"""
from __future__ import annotations

import numpy as np
import pytest

from labqc.instruments.sim.clock import VirtualClock
from labqc.instruments.sim.device import Resistor
from labqc.instruments.sim.tsp2614b import K2614BEmulator

R = 1e3


@pytest.fixture
def emu() -> K2614BEmulator:
    return K2614BEmulator(Resistor(R), VirtualClock())


def write(emu: K2614BEmulator, *messages: str) -> list[str]:
    """Send messages one by one (one VISA write each); every reply line, in order."""
    out = []
    for m in messages:
        emu.write(m.encode("latin-1"))
        while (reply := emu.pop()) is not None:
            emu.clock.advance_to(reply.ready_at)
            out.append(reply.data.decode("latin-1").rstrip("\n"))
    return out


def no_errors(emu: K2614BEmulator) -> bool:
    return write(emu, "print(errorqueue.count)") == ["0.00000e+00"]


def table(lines: list[str]) -> np.ndarray:
    """The examples' console table: a header, then one TAB-separated row per reading."""
    assert lines[0] == "Time\tVoltage\tCurrent"
    return np.array([[float(x) for x in row.split("\t")] for row in lines[1:]])


# The examples' read-back loop: timestamps, V (nvbuffer2), I (nvbuffer1), buffers indexed directly.
PRINT_TABLE = ('print("Time\\tVoltage\\tCurrent") for x = 1, smua.nvbuffer1.n do '
               'print(smua.nvbuffer1.timestamps[x], smua.nvbuffer2[x], smua.nvbuffer1[x]) end')

DC_SWEEP_SETUP = """reset()
smua.reset()
smua.source.func = smua.OUTPUT_DCVOLTS
smua.source.limiti = limitI
smua.measure.nplc = nplc
smua.measure.delay = smua.DELAY_AUTO
smua.nvbuffer1.clear()
smua.nvbuffer1.collecttimestamps = 1
smua.nvbuffer2.clear()
smua.nvbuffer2.collecttimestamps = 1
"""
DC_SWEEP_RUN = """smua.trigger.source.limiti = limitI
smua.trigger.measure.action = smua.ENABLE
smua.trigger.measure.iv(smua.nvbuffer1, smua.nvbuffer2)
smua.trigger.endpulse.action = smua.SOURCE_HOLD
smua.trigger.endsweep.action = smua.SOURCE_IDLE
smua.trigger.count = numPoints
smua.trigger.source.action = smua.ENABLE
smua.source.output = smua.OUTPUT_ON
smua.trigger.initiate()
waitcomplete()
smua.source.output = smua.OUTPUT_OFF
"""


def test_dc_sweeps_script_linear_log_and_list(emu):
    """Instrument_Examples/Series_2600/Sweeps/KE26XXB_DC_Sweeps.tsp: functions loaded as a
    script (DCSweepVLinear, DCSweepVLog, DCSweepVList), each resetting, configuring the
    trigger model, sweeping with waitcomplete() and printing a Time/Voltage/Current table."""
    script = "\n".join([
        "function SweepLin(start, stop, numPoints, limitI, nplc)", DC_SWEEP_SETUP,
        "smua.trigger.source.linearv(start, stop, numPoints)", DC_SWEEP_RUN, PRINT_TABLE, "end",
        "function SweepLog(start, stop, numPoints, limitI, nplc)", DC_SWEEP_SETUP,
        "smua.trigger.source.logv(start, stop, numPoints, 0)", DC_SWEEP_RUN, PRINT_TABLE, "end",
        "function SweepList(sweepList, numPoints, limitI, nplc)",
        'if sweepList == nil or type(sweepList) ~= "table" then sweepList = {1, 5, 2, 6} end', DC_SWEEP_SETUP,
        "smua.trigger.source.listv(sweepList)", DC_SWEEP_RUN, PRINT_TABLE, "end",
    ])
    assert write(emu, f"loadscript KE26XXB_DC_Sweeps\n{script}\nendscript") == []
    write(emu, "KE26XXB_DC_Sweeps.run()")  # defines the functions
    lin = table(write(emu, "SweepLin(0, 10, 11, 0.1, 1)"))
    assert lin[:, 1] == pytest.approx(np.linspace(0, 10, 11), abs=1e-9)
    assert lin[:, 2] == pytest.approx(lin[:, 1] / R, rel=1e-5, abs=1e-12)
    assert np.all(np.diff(lin[:, 0]) >= 1 / 60)  # 1 PLC per reading at least
    log = table(write(emu, "SweepLog(1, 10, 11, 0.1, 0.1)"))
    assert log[:, 1] == pytest.approx(np.geomspace(1, 10, 11), rel=1e-5)
    lst = table(write(emu, "SweepList({3, 1, 4, 5, 2}, 5, 0.1, 0.01)"))
    assert lst[:, 1] == pytest.approx([3, 1, 4, 5, 2], abs=1e-9)
    lst = table(write(emu, "SweepList(nil, 4, 0.1, 0.01)"))  # the default list
    assert lst[:, 1] == pytest.approx([1, 5, 2, 6], abs=1e-9)
    assert no_errors(emu) and not any(emu.outputs_on().values())


def test_dc_sweep_current_source_respects_the_voltage_limit(emu):
    """KE26XXB_DC_Sweeps.tsp, DCSweepILinear: OUTPUT_DCAMPS, limitv, lineari, trigger
    source.limitv; 10 mA into 1 kOhm would need 10 V, the limit is 5 V."""
    write(emu, "reset() smua.reset() smua.source.func = smua.OUTPUT_DCAMPS smua.source.limitv = 5 "
               "smua.measure.nplc = 0.01 smua.measure.delay = smua.DELAY_AUTO",
          "smua.nvbuffer1.clear() smua.nvbuffer1.collecttimestamps = 1 smua.nvbuffer2.clear() "
          "smua.nvbuffer2.collecttimestamps = 1",
          "smua.trigger.source.lineari(0, 10e-3, 11) smua.trigger.source.limitv = 5 "
          "smua.trigger.measure.action = smua.ENABLE smua.trigger.measure.iv(smua.nvbuffer1, smua.nvbuffer2) "
          "smua.trigger.endpulse.action = smua.SOURCE_HOLD smua.trigger.endsweep.action = smua.SOURCE_IDLE "
          "smua.trigger.count = 11 smua.trigger.source.action = smua.ENABLE",
          "smua.source.output = smua.OUTPUT_ON smua.trigger.initiate() waitcomplete() "
          "smua.source.output = smua.OUTPUT_OFF")
    rows = table(write(emu, PRINT_TABLE))
    wanted = np.linspace(0, 10e-3, 11)
    assert rows[:, 1] == pytest.approx(np.minimum(wanted * R, 5.0), rel=1e-5, abs=1e-9)
    assert rows[:, 1].max() == pytest.approx(5.0, rel=1e-5)
    assert no_errors(emu)


def test_pulsed_sweep_single_with_three_timers(emu):
    """Instrument_Examples/Series_2600/Pulsed_Sweep/KE26XXB_Pulsed_Sweep_Single.tsp,
    PulsedSweepVSingle(0, 10, 11, 1e-3, 5e-3, 0.1, 0.001, false): fixed source and measure
    ranges, autozero ONCE, timer 1 the period (count numPoints - 1, passthrough), timer 2
    the measure delay (width - NPLC/linefreq - 60 us), timer 3 the width, end pulse
    SOURCE_IDLE. The example arms on the front panel's TRIG key (display.trigger); here
    timer 1 starts at the arm event instead (no key to press), as the vendor's other
    examples do."""
    start, stop, n, width, period, limit, nplc = 0, 10, 11, 1e-3, 5e-3, 0.1, 0.001
    write(emu, "reset() smua.reset() smua.source.func = smua.OUTPUT_DCVOLTS smua.sense = smua.SENSE_LOCAL",
          f"smua.source.autorangev = smua.AUTORANGE_OFF smua.source.rangev = math.max(math.abs({start}), "
          f"math.abs({stop})) smua.source.levelv = 0 smua.source.limiti = 0.1",
          f"smua.measure.autozero = smua.AUTOZERO_ONCE smua.measure.autorangei = smua.AUTORANGE_OFF "
          f"smua.measure.rangei = {limit} smua.measure.nplc = {nplc} smua.measure.delay = 0",
          "smua.nvbuffer1.clear() smua.nvbuffer1.collecttimestamps = 1 smua.nvbuffer2.clear() "
          "smua.nvbuffer2.collecttimestamps = 1",
          f"numPoints = {n} trigger.timer[1].count = numPoints > 1 and numPoints - 1 or 1 "
          f"trigger.timer[1].delay = {period} trigger.timer[1].passthrough = true "
          "trigger.timer[1].stimulus = smua.trigger.ARMED_EVENT_ID",
          f"trigger.timer[2].count = 1 trigger.timer[2].delay = {width} - (1/localnode.linefreq)*{nplc} - 60e-6 "
          "trigger.timer[2].passthrough = false trigger.timer[2].stimulus = trigger.timer[1].EVENT_ID",
          f"trigger.timer[3].count = 1 trigger.timer[3].delay = {width} trigger.timer[3].passthrough = false "
          "trigger.timer[3].stimulus = trigger.timer[1].EVENT_ID",
          f"smua.trigger.source.linearv({start}, {stop}, {n}) smua.trigger.source.limiti = {limit} "
          "smua.trigger.measure.action = smua.ENABLE smua.trigger.measure.iv(smua.nvbuffer1, smua.nvbuffer2) "
          "smua.trigger.endpulse.action = smua.SOURCE_IDLE smua.trigger.endsweep.action = smua.SOURCE_IDLE "
          f"smua.trigger.count = {n} smua.trigger.arm.stimulus = 0 "
          "smua.trigger.source.stimulus = trigger.timer[1].EVENT_ID "
          "smua.trigger.measure.stimulus = trigger.timer[2].EVENT_ID "
          "smua.trigger.endpulse.stimulus = trigger.timer[3].EVENT_ID smua.trigger.source.action = smua.ENABLE",
          "smua.source.output = smua.OUTPUT_ON smua.trigger.initiate() waitcomplete() "
          "smua.source.output = smua.OUTPUT_OFF")
    rows = table(write(emu, PRINT_TABLE))
    assert len(rows) == n
    assert rows[:, 1] == pytest.approx(np.linspace(start, stop, n), abs=1e-6)
    assert rows[:, 2] == pytest.approx(rows[:, 1] / R, rel=1e-4, abs=1e-9)
    assert np.diff(rows[:, 0]) == pytest.approx(np.full(n - 1, period), rel=1e-3)  # one pulse per period
    assert no_errors(emu)


def test_software_triggered_list_sweep_toggles_through_its_list(emu):
    """Instrument_Examples/Series_2600/Triggering/Software_trig_26x4B.py: one write per
    command, ``smu = node[1].smua``, appending buffers, listv({0,5}) with trigger.count 7
    (the list is used in turn: 0, 5, 0, 5, 0, 5, 0), armed by *TRG (trigger.EVENT_ID)."""
    write(emu, "reset()", "errorqueue.clear()", "smu = node[1].smua",
          "smu.nvbuffer1.clear()", "smu.nvbuffer1.appendmode = 1", "smu.nvbuffer2.clear()",
          "smu.nvbuffer2.appendmode = 1", "smu.source.func = smu.OUTPUT_DCVOLTS", "smu.source.rangev = 5",
          "smu.source.limiti = 0.01", "smu.trigger.source.action = smu.ENABLE", "smu.trigger.source.listv({0,5})",
          "smu.trigger.source.limiti = 0.01", "smu.trigger.measure.action = smu.ENABLE",
          "smu.trigger.measure.iv(smu.nvbuffer1, smu.nvbuffer2)", "smu.trigger.endpulse.action = smu.SOURCE_HOLD",
          "smu.trigger.endsweep.action = smu.SOURCE_IDLE", "smu.trigger.count = 7",
          "smu.trigger.arm.stimulus = trigger.EVENT_ID", "smu.trigger.source.stimulus = 0",
          "smu.trigger.measure.stimulus = 0", "smu.trigger.endpulse.stimulus = 0",
          "smu.source.output = smu.OUTPUT_ON", "smu.trigger.initiate()")
    assert write(emu, "print(smua.nvbuffer2.n)") == ["0.00000e+00"]  # armed, waiting for *TRG
    write(emu, "*TRG")
    v = [float(x) for x in write(emu, "waitcomplete() printbuffer(1, 7, smua.nvbuffer2.readings)")[0].split(", ")]
    assert v == pytest.approx([0, 5, 0, 5, 0, 5, 0], abs=1e-9)
    write(emu, "smu.source.output = smu.OUTPUT_OFF")
    assert no_errors(emu)


def test_overlapped_measure_count_then_printbuffer(emu):
    """Instrument_Examples/Series_2600/Tutorials/printBuffer.tsp: measure.count readings by
    measure.overlappedi into nvbuffer1, waitcomplete(), printbuffer(1, n, buffer) as one
    ", "-separated line."""
    lines = write(emu, "smua.measure.count = 50 smua.source.levelv = 0 smua.source.output = smua.OUTPUT_ON "
                       "smua.source.levelv = 1 smua.measure.overlappedi(smua.nvbuffer1) waitcomplete() "
                       "print(\"SmuA Measurements: \") printbuffer(1, 50, smua.nvbuffer1) "
                       "smua.source.output = smua.OUTPUT_OFF")
    assert lines[0] == "SmuA Measurements: "
    values = [float(x) for x in lines[1].split(", ")]
    assert values == pytest.approx([1 / R] * 50, rel=1e-5)
    assert no_errors(emu)
