"""The simulated 2614B's timeline: sweeps, blocking reads, pulses, sampling, abort, device time."""
from __future__ import annotations

import numpy as np
import pytest

from labqc.instruments.sim.presets import make_device
from labqc.instruments.sim.clock import VirtualClock
from labqc.instruments.sim.tsp2614b import K2614BEmulator
from tsp_helpers import ask, drain_errors, floats, make, send, text

NPLC = 0.01
TINT = NPLC / 60  # autozero ONCE
STEP = 20e-6 + 50e-6 + TINT  # source overhead + measure overhead + integration

SETUP = ("smua.source.func = smua.OUTPUT_DCVOLTS smua.source.limiti = 0.1 smua.source.delay = 0 "
         f"smua.measure.nplc = {NPLC} smua.measure.autozero = smua.AUTOZERO_ONCE smua.measure.delay = 0",
         "smua.nvbuffer1.clear() smua.nvbuffer2.clear() smua.nvbuffer1.collectsourcevalues = 1 "
         "smua.nvbuffer2.collectsourcevalues = 1",
         "smua.trigger.source.action = smua.ENABLE smua.trigger.measure.action = smua.ENABLE "
         "smua.trigger.measure.iv(smua.nvbuffer1, smua.nvbuffer2)")
COLS = "smua.nvbuffer1.timestamps, smua.nvbuffer1.sourcevalues, smua.nvbuffer1.readings, smua.nvbuffer2.readings"


def real64(emu, a: int, b: int, cols: str = COLS, ncols: int = 4):
    reply = ask(emu, f"printbuffer({a}, {b}, {cols})")
    assert reply.data[:2] == b"#0" and len(reply.data) == 3 + 8 * ncols * (b - a + 1)
    return reply, np.frombuffer(reply.data[2:-1], "<f8").reshape(-1, ncols)


def test_ten_thousand_point_sweep_read_back_in_chunks():
    emu, dev = make(1e3)
    n = 10_000
    send(emu, *SETUP, f"smua.trigger.source.linearv(-1, 1, {n}) smua.trigger.count = {n}",
         "format.data = format.REAL64 format.byteorder = format.LITTLEENDIAN", "smua.source.output = 1")
    emu.write(b"smua.trigger.initiate()")
    t0 = emu.busy_until
    assert emu.busy_until < 1e-3  # initiate() returns at once
    assert text(emu, "print(status.operation.sweeping.condition)") == "2.00000e+00"
    assert text(emu, "print(smua.nvbuffer1.n)") == "1.00000e+04"  # n counts the outstanding readings
    rows = []
    for a in range(1, n + 1, 2500):
        b = a + 2499
        reply, chunk = real64(emu, a, b)
        # the reply is ready when reading b exists, not before
        assert reply.ready_at == pytest.approx(t0 + (b - 1) * STEP + STEP, abs=1e-9)
        rows.append(chunk)
    data = np.concatenate(rows)
    t, src, i, v = data.T
    np.testing.assert_allclose(src, np.linspace(-1, 1, n))
    np.testing.assert_allclose(i, src / 1e3, atol=1e-18)
    np.testing.assert_allclose(v, src)
    np.testing.assert_allclose(np.diff(t), STEP, rtol=1e-9)
    assert t[0] == 0.0
    base = float(text(emu, "print(smua.nvbuffer1.basetimestamp)"))
    assert base == pytest.approx(t0 + 20e-6 + 50e-6, abs=1e-9)
    assert text(emu, "print(status.operation.sweeping.condition)") == "0.00000e+00"
    # the device lived through the whole sweep in a few vectorised calls, not one per point
    assert len(dev.drives) < 20
    assert t0 + n * STEP - 1e-9 <= dev.t <= emu.busy_until + 1e-9  # lived up to the last message


def test_printbuffer_blocks_until_the_index_is_measured():
    emu, _ = make()
    send(emu, *SETUP, "smua.trigger.source.linearv(0, 1, 100) smua.trigger.count = 100",
         "smua.source.output = 1")
    emu.write(b"smua.trigger.initiate()")
    t0 = emu.busy_until
    reply = ask(emu, "printbuffer(50, 50, smua.nvbuffer1.readings)")
    assert reply.ready_at == pytest.approx(t0 + 50 * STEP, abs=1e-9)
    assert emu.clock.now == pytest.approx(reply.ready_at)
    assert float(reply.data) == pytest.approx(49 / 99 / 1e3, rel=1e-5)
    # an already measured index answers at once
    reply = ask(emu, "printbuffer(10, 10, smua.nvbuffer1.readings)")
    assert reply.ready_at == pytest.approx(t0 + 50 * STEP + 100e-6, abs=1e-9)
    send(emu, "smua.source.output = 0")


def test_waitcomplete_and_opc_wait_for_the_end_of_the_sweep():
    emu, _ = make()
    send(emu, *SETUP, "smua.trigger.source.linearv(0, 1, 200) smua.trigger.count = 200",
         "smua.source.output = 1")
    emu.write(b"smua.trigger.initiate()")
    t0 = emu.busy_until
    reply = ask(emu, "waitcomplete() print([[1]])")
    assert reply.data == b"1\n" and reply.ready_at == pytest.approx(t0 + 200 * STEP, abs=1e-9)
    send(emu, "smua.trigger.initiate()")
    t1 = emu.busy_until
    assert ask(emu, "*OPC?").ready_at == pytest.approx(t1 + 200 * STEP, abs=1e-9)


def test_abort_stops_the_sweep_and_leaves_the_output_on():
    emu, dev = make()
    send(emu, *SETUP, "smua.measure.nplc = 1 smua.trigger.source.linearv(1, 1, 1000) smua.trigger.count = 1000",
         "smua.source.output = 1")
    send(emu, "smua.trigger.initiate()", "delay(1)", "smua.abort()")
    assert text(emu, "print(status.operation.sweeping.condition)") == "0.00000e+00"
    assert emu.outputs_on()["smua"] is True
    n = int(float(text(emu, "print(smua.nvbuffer1.n)")))
    step = 20e-6 + 50e-6 + 1 / 60
    assert n == int(1.0 // step)  # only what was measured before the abort
    values = floats(text(emu, f"printbuffer(1, {n}, smua.nvbuffer1.readings)"))
    np.testing.assert_allclose(values, 1e-3)
    # the level stays applied after the abort, and time keeps passing through the device
    send(emu, "delay(5)")
    assert text(emu, "print(smua.measure.i())") == "1.00000e-03"
    levels, dwell = dev.timeline()
    assert levels[-2] == 1.0 and dwell[-2] >= 5.0
    send(emu, "smua.source.output = smua.OUTPUT_OFF")
    assert emu.outputs_on()["smua"] is False
    send(emu, "delay(2)", "smua.source.levelv = 0")  # output off: the device rests
    # one rest from the output-off message to the next act: two messages and the delay
    assert dev.rests[-1] == pytest.approx(2.0 + 2 * 100e-6, abs=1e-9)
    assert drain_errors(emu) == []


def test_output_off_ends_a_running_sweep():
    emu, _ = make()
    send(emu, *SETUP, "smua.trigger.source.linearv(0, 1, 1000) smua.trigger.count = 1000", "smua.source.output = 1",
         "smua.trigger.initiate()", "smua.source.output = 0")
    assert text(emu, "print(status.operation.sweeping.condition)") == "0.00000e+00"
    assert emu.outputs_on()["smua"] is False


def test_compliance_in_a_sweep_sets_status_bit_0x40():
    emu, _ = make(1e3)
    send(emu, *SETUP, "smua.trigger.source.listv({0.05, 0.5, 1, 0.05}) smua.trigger.count = 4",
         "smua.trigger.source.limiti = 1e-4 smua.source.output = 1", "smua.trigger.initiate()")
    data = floats(text(emu, "printbuffer(1, 4, smua.nvbuffer1.readings, smua.nvbuffer2.readings, "
                            "smua.nvbuffer1.statuses)")).reshape(4, 3)
    np.testing.assert_allclose(data[:, 0], [5e-5, 1e-4, 1e-4, 5e-5])
    np.testing.assert_allclose(data[:, 1], [0.05, 0.1, 0.1, 0.05])  # the source is limited
    assert [int(s) & 0x40 for s in data[:, 2]] == [0, 0x40, 0x40, 0]


def test_pulse_train_with_timers_honours_width_and_period():
    emu, dev = make(1e3)
    width, period, n = 5e-3, 20e-3, 6
    tm = TINT + 60e-6
    send(emu, *SETUP,
         "smua.source.levelv = 0.05 smua.source.autorangev = 0 smua.source.rangev = 2 "
         "smua.measure.autorangei = 0 smua.measure.rangei = 10e-3",
         f"smua.trigger.source.linearv(1.5, 1.5, {n}) smua.trigger.endpulse.action = smua.SOURCE_IDLE "
         "smua.trigger.endsweep.action = smua.SOURCE_IDLE",
         f"trigger.timer[1].delay = {period} trigger.timer[1].count = {n - 1} trigger.timer[1].passthrough = true "
         "trigger.timer[1].stimulus = smua.trigger.ARMED_EVENT_ID",
         f"trigger.timer[2].delay = {width - tm} trigger.timer[2].count = 1 trigger.timer[2].passthrough = false "
         "trigger.timer[2].stimulus = trigger.timer[1].EVENT_ID",
         f"trigger.timer[3].delay = {width} trigger.timer[3].count = 1 trigger.timer[3].passthrough = false "
         "trigger.timer[3].stimulus = trigger.timer[1].EVENT_ID",
         "smua.trigger.source.stimulus = trigger.timer[1].EVENT_ID "
         "smua.trigger.measure.stimulus = trigger.timer[2].EVENT_ID "
         "smua.trigger.endpulse.stimulus = trigger.timer[3].EVENT_ID",
         f"smua.trigger.count = {n} smua.source.output = 1")
    emu.write(b"smua.trigger.initiate()")
    t0 = emu.busy_until
    # read between pulses: the first two pulses are there before the third starts
    reply = ask(emu, "printbuffer(1, 2, smua.nvbuffer1.timestamps, smua.nvbuffer1.readings)")
    assert reply.ready_at < t0 + 2 * period
    data = floats(text(emu, f"printbuffer(1, {n}, smua.nvbuffer1.timestamps, smua.nvbuffer1.readings)"))
    t, i = data.reshape(n, 2).T
    np.testing.assert_allclose(np.diff(t), period, rtol=1e-9)
    np.testing.assert_allclose(i, 1.5e-3)
    send(emu, "waitcomplete()")
    levels, dwell = dev.timeline()
    high = levels == 1.5
    # the device saw n pulses of exactly `width` at 1.5 V, idling at 0.05 V in between
    edges = np.flatnonzero(np.diff(high.astype(int)) == 1) + 1
    assert len(edges) == n
    on_time = [dwell[k:k + np.argmin(high[k:])].sum() for k in edges]
    np.testing.assert_allclose(on_time, width, rtol=1e-9)
    assert set(np.round(levels[~high], 9)) <= {0.05}
    idle = [dwell[k - 1] for k in edges[1:]]
    np.testing.assert_allclose(idle, period - width, rtol=1e-9)


def test_pulse_and_read_alternating_with_delay_lists():
    emu, _ = make(1e3)
    width, read_width, period, n = 4e-3, 2e-3, 10e-3, 3
    tm = TINT + 60e-6
    levels = ", ".join(["1.2, 0.1"] * n)
    send(emu, *SETUP, "smua.source.levelv = 0 smua.source.autorangev = 0 smua.source.rangev = 2",
         f"smua.trigger.source.listv({{{levels}}}) smua.trigger.endpulse.action = smua.SOURCE_IDLE",
         f"trigger.timer[1].delaylist = {{{width}, {period - width}}} trigger.timer[1].count = {2 * n - 1} "
         "trigger.timer[1].passthrough = true trigger.timer[1].stimulus = smua.trigger.ARMED_EVENT_ID",
         f"trigger.timer[2].delaylist = {{{width - tm}, {read_width - tm}}} trigger.timer[2].count = 1 "
         "trigger.timer[2].stimulus = trigger.timer[1].EVENT_ID",
         f"trigger.timer[3].delaylist = {{{width}, {read_width}}} trigger.timer[3].count = 1 "
         "trigger.timer[3].stimulus = trigger.timer[1].EVENT_ID",
         "smua.trigger.source.stimulus = trigger.timer[1].EVENT_ID "
         "smua.trigger.measure.stimulus = trigger.timer[2].EVENT_ID "
         "smua.trigger.endpulse.stimulus = trigger.timer[3].EVENT_ID",
         f"smua.trigger.count = {2 * n} smua.source.output = 1", "smua.trigger.initiate()")
    t, src, i = floats(text(emu, f"printbuffer(1, {2 * n}, smua.nvbuffer1.timestamps, smua.nvbuffer1.sourcevalues, "
                                 "smua.nvbuffer1.readings)")).reshape(-1, 3).T
    np.testing.assert_allclose(src, [1.2, 0.1] * n)
    np.testing.assert_allclose(i, src / 1e3)
    expected = np.array([[k * period, k * period + width + read_width - width] for k in range(n)]).ravel()
    expected = expected - expected[0]
    np.testing.assert_allclose(t, expected, atol=1e-9)


def test_timer_driven_sampling_beyond_one_second():
    emu, dev = make(1e3)
    send(emu, *SETUP, "smua.source.levelv = 0.1 smua.trigger.source.action = smua.DISABLE",
         "trigger.timer[1].delaylist = {2, 3, 5, 10} trigger.timer[1].count = 4 "
         "trigger.timer[1].passthrough = false trigger.timer[1].stimulus = smua.trigger.ARMED_EVENT_ID",
         "smua.trigger.source.stimulus = 0 smua.trigger.measure.stimulus = trigger.timer[1].EVENT_ID "
         "smua.trigger.count = 4 smua.source.output = 1")
    send(emu, "timer.reset() smua.trigger.initiate()")
    assert float(text(emu, "print(timer.measure.t())")) < 1e-3
    t, i = floats(text(emu, "printbuffer(1, 4, smua.nvbuffer1.timestamps, smua.nvbuffer1.readings)")).reshape(4, 2).T
    np.testing.assert_allclose(t, [0, 3, 8, 18], atol=1e-9)
    np.testing.assert_allclose(i, 1e-4)
    assert float(text(emu, "print(timer.measure.t())")) == pytest.approx(20.0, abs=1e-3)
    assert dev.t == pytest.approx(emu.t, abs=1e-3)


def test_measure_count_and_interval_into_a_dynamic_buffer():
    emu, _ = make()
    send(emu, "buf = smua.makebuffer(10) buf.collecttimestamps = 1 smua.source.levelv = 0.2 smua.source.output = 1",
         "smua.measure.count = 5 smua.measure.interval = 0.1 smua.measure.nplc = 1 smua.measure.autozero = 1")
    t_before = emu.busy_until
    assert text(emu, "print(smua.measure.i(buf))") == "2.00000e-04"
    assert emu.busy_until == pytest.approx(t_before + 100e-6 + 0.4 + 50e-6 + 1 / 60, abs=1e-9)
    t = floats(text(emu, "printbuffer(1, buf.n, buf.timestamps)"))
    np.testing.assert_allclose(t, [0, 0.1, 0.2, 0.3, 0.4], atol=1e-9)


def test_overlapped_measurement_returns_at_once_and_printbuffer_waits():
    emu, _ = make()
    send(emu, "smua.source.levelv = 0.3 smua.source.output = 1 smua.measure.count = 20 smua.measure.nplc = 1 "
              "smua.measure.autozero = 0")
    emu.write(b"smua.measure.overlappediv(smua.nvbuffer1, smua.nvbuffer2)")
    t0 = emu.busy_until
    reply = ask(emu, "printbuffer(20, 20, smua.nvbuffer1, smua.nvbuffer2)")
    assert reply.ready_at == pytest.approx(t0 + 19 * (50e-6 + 1 / 60) + 50e-6 + 1 / 60, abs=1e-9)
    assert floats(reply.data.decode()[:-1]).tolist() == pytest.approx([3e-4, 0.3])


def test_spot_reading_time_follows_nplc_and_autozero():
    emu, _ = make()
    send(emu, "smua.source.output = 1 smua.measure.nplc = 1")
    t = emu.busy_until
    ask(emu, "print(smua.measure.i())")
    assert emu.busy_until - t == pytest.approx(100e-6 + 50e-6 + 2 / 60, abs=1e-9)  # autozero AUTO
    send(emu, "smua.measure.autozero = smua.AUTOZERO_ONCE smua.measure.delay = 0.01")
    t = emu.busy_until
    ask(emu, "print(smua.measure.i())")
    assert emu.busy_until - t == pytest.approx(100e-6 + 0.01 + 50e-6 + 1 / 60, abs=1e-9)


def test_device_clear_recovers_from_a_wait_that_never_ends():
    emu, dev = make()
    send(emu, *SETUP, "smua.trigger.source.linearv(0, 1, 3) smua.trigger.count = 3",
         "smua.trigger.source.stimulus = trigger.timer[5].EVENT_ID smua.source.output = 1",  # timer 5 never fires
         "smua.trigger.initiate()")
    emu.write(b"waitcomplete() print(1)")
    assert emu.pop() is None  # stuck, like the instrument
    emu.clear()
    assert text(emu, "print(status.operation.sweeping.condition)") == "2.00000e+00"
    send(emu, "smua.abort() smua.source.output = 0")
    assert text(emu, "print(status.operation.sweeping.condition, smua.nvbuffer1.n)") == "0.00000e+00\t0.00000e+00"
    send(emu, "delay(3)", "smua.source.levelv = 0")
    assert dev.t == pytest.approx(emu.busy_until, abs=1e-9)  # the device kept the instrument's time


def test_a_memristor_sweeps_through_the_emulator():
    dev = make_device("bfo", seed=1)
    emu = K2614BEmulator(dev, VirtualClock())
    send(emu, *SETUP, "smua.trigger.source.limiti = 1e-4",
         "smua.trigger.source.listv({0, 0.5, 1, 1.5, 2, 1.5, 1, 0.5, 0, -0.5, -1, -1.5, -2, -1, 0})",
         "smua.trigger.count = 15 smua.source.output = 1", "smua.trigger.initiate()")
    i, v, status = floats(text(emu, "printbuffer(1, 15, smua.nvbuffer1.readings, smua.nvbuffer2.readings, "
                                    "smua.nvbuffer1.statuses)")).reshape(-1, 3).T
    assert np.all(np.isfinite(i)) and np.all(np.abs(i) <= 1e-4 * 1.001)
    limited = status.astype(int) & 0x40 != 0
    assert limited.any() and np.all(np.abs(i[limited]) > 0.98e-4) and np.all(np.abs(i[~limited]) < 1e-4)
    assert drain_errors(emu) == []


def test_a_finished_sweep_can_be_cleared_in_the_same_message():
    emu, _ = make()
    send(emu, *SETUP, "smua.trigger.source.linearv(0, 1, 100) smua.trigger.count = 100", "smua.source.output = 1",
         "smua.trigger.initiate() delay(1) smua.nvbuffer1.clear()")
    assert drain_errors(emu) == []
    send(emu, "smua.trigger.initiate() smua.nvbuffer2.clear()")  # still filling: refused
    assert [code for code, _ in drain_errors(emu)] == [5044]


def test_pulse_and_read_with_delay_list_timers_started_once_at_armed():
    emu, dev = make(1e3)
    width, read_width, period, n = 3e-3, 1e-3, 8e-3, 4
    tm = TINT + 60e-6
    levels = ", ".join(["1.0, 0.2"] * n)
    armed = "smua.trigger.ARMED_EVENT_ID"

    def timer(k, delays, count, passthrough, stimulus):
        return (f"trigger.timer[{k}].reset() trigger.timer[{k}].delaylist = {{{', '.join(map(str, delays))}}} "
                f"trigger.timer[{k}].count = {count} trigger.timer[{k}].passthrough = {passthrough} "
                f"trigger.timer[{k}].stimulus = {stimulus}")
    send(emu, *SETUP, "smua.source.levelv = 0 smua.source.autorangev = 0 smua.source.rangev = 2",
         f"smua.trigger.source.listv({{{levels}}}) smua.trigger.endpulse.action = smua.SOURCE_IDLE",
         timer(1, [width, period - width], 2 * n - 1, "true", armed),
         timer(4, [width - tm], 1, "false", armed),
         timer(2, [read_width, period - read_width], 2 * n - 1, "true", "trigger.timer[4].EVENT_ID"),
         timer(5, [width], 1, "false", armed),
         timer(3, [read_width, period - read_width], 2 * n - 1, "true", "trigger.timer[5].EVENT_ID"),
         "smua.trigger.source.stimulus = trigger.timer[1].EVENT_ID "
         "smua.trigger.measure.stimulus = trigger.timer[2].EVENT_ID "
         "smua.trigger.endpulse.stimulus = trigger.timer[3].EVENT_ID",
         f"smua.trigger.count = {2 * n} smua.source.output = 1", "smua.trigger.initiate()")
    t, i = floats(text(emu, f"printbuffer(1, {2 * n}, smua.nvbuffer1.timestamps, smua.nvbuffer1.readings)")
                  ).reshape(-1, 2).T
    np.testing.assert_allclose(i, [1e-3, 2e-4] * n)
    # each reading ends 10 us before its step ends: the read's comes read_width after the pulse's
    np.testing.assert_allclose(t, np.ravel([[k * period, k * period + read_width] for k in range(n)]), atol=1e-9)
    send(emu, "waitcomplete()")
    levels_seen, dwell = dev.timeline()
    assert dwell[levels_seen == 1.0].sum() == pytest.approx(n * width, rel=1e-9)
    assert dwell[levels_seen == 0.2].sum() == pytest.approx(n * read_width, rel=1e-9)
    assert drain_errors(emu) == []


def test_current_and_log_sweeps_and_arm_count():
    emu, _ = make(1e3)
    send(emu, *SETUP, "smua.source.func = smua.OUTPUT_DCAMPS smua.source.limitv = 2",
         "smua.trigger.source.lineari(1e-4, 4e-3, 4) smua.trigger.source.limitv = 2 smua.trigger.count = 4 "
         "smua.trigger.arm.count = 2 smua.source.output = 1 smua.trigger.initiate()")
    i, v, status = floats(text(emu, "printbuffer(1, smua.nvbuffer1.n, smua.nvbuffer1.readings, "
                                    "smua.nvbuffer2.readings, smua.nvbuffer1.statuses)")).reshape(-1, 3).T
    assert len(i) == 8  # two sweeps of four
    np.testing.assert_allclose(v, [0.1, 1.4, 2, 2] * 2)  # 2.7 V and 4 V are limited to 2 V
    np.testing.assert_allclose(i, [1e-4, 1.4e-3, 2e-3, 2e-3] * 2)
    assert [int(s) & 0x40 for s in status] == [0, 0, 0x40, 0x40] * 2
    send(emu, "smua.source.func = smua.OUTPUT_DCVOLTS smua.trigger.arm.count = 1",
         "smua.nvbuffer1.clear() smua.nvbuffer2.clear() smua.trigger.source.logv(1e-3, 1, 4, 0) "
         "smua.trigger.source.limiti = 0.1 smua.trigger.count = 4 smua.trigger.initiate()")
    src = floats(text(emu, "printbuffer(1, 4, smua.nvbuffer1.sourcevalues)"))
    np.testing.assert_allclose(src, [1e-3, 1e-2, 1e-1, 1])
    assert drain_errors(emu) == []


def test_smub_sweeps_report_their_own_sweeping_bit():
    emu, _ = make()
    send(emu, "smub.trigger.source.linearv(0, 1, 100) smub.trigger.source.action = smub.ENABLE "
              "smub.trigger.count = 100 smub.source.output = 1 smub.trigger.initiate()")
    assert text(emu, "print(status.operation.sweeping.condition)") == "4.00000e+00"
    send(emu, "waitcomplete()")
    assert text(emu, "print(status.operation.sweeping.condition)") == "0.00000e+00"


def test_factory_kisweep_functions_block_and_fill_nvbuffer1():
    emu, _ = make(1e3)
    send(emu, "smua.measure.nplc = 0.01 smua.measure.autozero = smua.AUTOZERO_ONCE smua.measure.delay = 0")
    t = emu.busy_until
    send(emu, "SweepVLinMeasureI(smua, 0, 1, 1e-3, 11)")
    assert emu.busy_until - t == pytest.approx(100e-6 + 11 * (STEP + 1e-3), abs=1e-9)
    assert emu.outputs_on()["smua"] is True  # on the lab's clock the sweep has only just begun
    src, i = floats(text(emu, "printbuffer(1, smua.nvbuffer1.n, smua.nvbuffer1.sourcevalues, "
                              "smua.nvbuffer1.readings)")).reshape(-1, 2).T
    assert emu.outputs_on()["smua"] is False  # the reply came after the sweep, which ends off
    np.testing.assert_allclose(src, np.linspace(0, 1, 11))
    np.testing.assert_allclose(i, src / 1e3, atol=1e-18)
    send(emu, "SweepIListMeasureV(smua, {1e-4, 2e-4}, 0, 2)")
    assert text(emu, "printbuffer(1, 2, smua.nvbuffer1)") == "1.00000e-01, 2.00000e-01"
