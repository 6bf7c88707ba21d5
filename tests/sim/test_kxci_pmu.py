"""The simulated 4200A's PMU: pulse trains, Segment Arb, data pages, status words, the
measure range that does not limit, and LLEC's rules (docs/keithley4200a.md)."""
import numpy as np
import pytest

from labqc.instruments.sim.clock import VirtualClock
from labqc.instruments.sim.device import Resistor
from labqc.instruments.sim.kxci4200a import K4200AEmulator
from labqc.instruments.sim.presets import make_device

COMPLIANCE_BIT = 1 << 12
I_OVERFLOW_BIT = 1 << 10


class Bench:
    def __init__(self, device=None, **kw):
        self.clock = VirtualClock()
        self.device = device if device is not None else Resistor(10e3)
        self.emu = K4200AEmulator(self.device, self.clock, **kw)

    def q(self, msg: str) -> str:
        self.emu.write(msg.encode())
        r = self.emu.pop()
        assert r is not None and self.emu.pop() is None
        self.clock.advance_to(r.ready_at)
        assert r.data.endswith(b"\0")
        return r.data[:-1].decode()

    def ok(self, *msgs: str) -> None:
        for m in msgs:
            assert self.q(m) == "ACK", (m, self.q(":ERROR:LAST:GET"))

    def code(self) -> int:
        return int(self.q(":ERROR:LAST:GET").rsplit("(", 1)[1].rstrip(")"))

    def points(self, ch=1, start=0, n=2048) -> list[list[str]]:
        text = self.q(f":PMU:DATA:GET {ch},{start},{n}")
        return [p.split(",") for p in text.split(";")] if text else []

    def wait(self, limit=100.0) -> None:
        """Poll TEST:STATUS? the way a driver does, letting simulated time pass."""
        t_end = self.clock.now + limit
        while self.q(":PMU:TEST:STATUS?") == "1":
            assert self.clock.now < t_end, "the PMU test never finished"
            self.clock.advance(0.05)


def train(b: Bench, amplitude=1.5, count=500, period=10e-3, width=5e-3, irange="1e-4",
          load=None, llec=False, extra=()):
    b.ok(":PMU:INIT 0", ":PMU:RPM:CONFIGURE PMU1-1,0", ":PMU:SOURCE:RANGE 1,10",
         f":PMU:MEASURE:RANGE 1,2,{irange}" if irange else ":PMU:MEASURE:RANGE 1,0,0.2",
         ":PMU:MEASURE:MODE 1", ":PMU:MEASURE:PIV 1,1,1", ":PMU:TIMES:PIV 1,0.75,0.9",
         f":PMU:PULSE:TRAIN 1,0,{amplitude}", f":PMU:PULSE:TIMES 1,{period},{width},1e-6,1e-6,0",
         f":PMU:PULSE:BURST:COUNT {count}", ":PMU:OUTPUT:STATE 1,1", *extra)
    if load is not None:
        b.ok(f":PMU:LOAD 1,{load}")
    if llec:
        b.ok(":PMU:LLEC:CONFIGURE 1,1")


def test_spot_mean_train_of_500_pulses():
    b = Bench()
    train(b, amplitude=0.5, load=1e4)
    b.ok(":PMU:EXECUTE")
    assert b.q(":PMU:TEST:STATUS?") == "1"
    assert int(b.q("SP")) & 16
    assert not b.emu.outputs_on()["SMU1"] and b.emu.outputs_on()["PMU1-1"]
    b.wait()
    assert b.q(":PMU:DATA:COUNT? 1") == "500"
    pts = b.points()
    assert len(pts) == 500 and all(len(p) == 8 for p in pts)
    vh, ih, th, sh, vl, il, tl, sl = pts[0]
    assert (float(vh), float(ih)) == pytest.approx((0.5, 5e-5))
    assert (float(vl), float(il)) == (0.0, 0.0)
    # the high window is 75..90 % of the flat top, T its centre; the low window likewise
    flat = 5e-3 - 1e-6
    assert float(th) == pytest.approx(1e-6 + 0.825 * flat, rel=1e-5)
    assert float(pts[499][2]) == pytest.approx(499 * 10e-3 + 1e-6 + 0.825 * flat, rel=1e-5)
    assert float(tl) == pytest.approx(5e-3 + 1e-6 + 0.825 * (10e-3 - 5e-3 - 1e-6), rel=1e-5)
    assert sh == "01010031"  # RPM, spot mean, 100 uA range, channel 1
    assert sl == "01010031"
    assert b.q(":PMU:DATA:GET 1,0,5").count(";") == 4
    assert b.q("SP") == "0"


def test_a_fixed_range_measures_and_does_not_limit():
    """The manual: the fixed range is a measure range; overflow is bits 10-11, and bits
    12-15 (source compliance, thresholds) are not a limit either."""
    b = Bench()
    train(b, amplitude=1.5, count=10, load=1e4)  # 150 uA through a 100 uA range
    b.ok(":PMU:EXECUTE")
    b.wait()
    vh, ih, _, sh = b.points()[0][:4]
    word = int(sh, 16)
    assert float(vh) == pytest.approx(1.5)  # the device got the whole pulse ...
    assert word & I_OVERFLOW_BIT and not word & COMPLIANCE_BIT  # ... and the current overflowed
    assert float(ih) == pytest.approx(1e-4)  # the converter reads its full scale
    assert not int(b.points()[0][7], 16) & I_OVERFLOW_BIT  # the base reads no current


def test_the_device_sees_the_current_the_range_would_have_clipped():
    dev = make_device("bfo", 3)
    b = Bench(device=dev)
    b.ok(":PMU:INIT 0", ":PMU:RPM:CONFIGURE PMU1-1,0", ":PMU:MEASURE:RANGE 1,2,1e-2", ":PMU:LOAD 1,1e3",
         ":PMU:MEASURE:MODE 1", ":PMU:PULSE:TRAIN 1,0,3", ":PMU:PULSE:TIMES 1,0.01,0.005,1e-6,1e-6,0",
         ":PMU:PULSE:BURST:COUNT 20", ":PMU:OUTPUT:STATE 1,1", ":PMU:EXECUTE")
    b.wait()
    i = np.array([float(p[1]) for p in b.points()])
    assert i.max() > 1e-4  # a 100 uA "range" on the same train would not have held it back


def test_data_pages_of_at_most_2048_points():
    b = Bench()
    train(b, amplitude=0.2, count=3000, period=1e-5, width=5e-6, load=1e4)
    b.ok(":PMU:EXECUTE")
    b.wait()
    assert b.q(":PMU:DATA:COUNT? 1") == "3000"
    first = b.points(start=0, n=5000)
    assert len(first) == 2048
    rest = b.points(start=2048, n=2048)
    assert len(rest) == 952
    assert float(rest[-1][2]) == pytest.approx(2999 * 1e-5 + float(first[0][2]), rel=1e-6)
    assert b.q(":PMU:DATA:GET 1,3000") == ""
    assert b.q(":PMU:DATA:GET 1,3001") == "ERROR" and b.code() == -969


def test_load_line_effect_with_and_without_llec():
    for load, llec, expect in ((1e6, False, 2.0), (50, False, 4.0), (1e6, True, 4.0)):
        b = Bench(device=Resistor(50.0))
        train(b, amplitude=4, count=3, irange=None, load=load, llec=llec)
        b.ok(":PMU:EXECUTE")
        b.wait()
        vh, ih, _, sh = b.points()[0][:4]
        assert float(vh) == pytest.approx(expect, rel=1e-3), (load, llec)
        assert float(ih) == pytest.approx(expect / 50, rel=1e-3)
        assert bool(int(sh, 16) & (1 << 28)) == llec and bool(int(sh, 16) & (1 << 29)) == llec


def test_abort_stops_turns_outputs_off_and_keeps_data():
    b = Bench()
    train(b, amplitude=0.5, load=1e4)
    b.ok(":PMU:EXECUTE")
    b.clock.advance(1.0)
    b.ok(":PMU:ABORT")
    assert b.q(":PMU:TEST:STATUS?") == "0"
    assert not b.emu.outputs_on()["PMU1-1"]
    n = int(b.q(":PMU:DATA:COUNT? 1"))
    assert 90 <= n <= 101
    assert len(b.points()) == n
    assert b.code() == -966
    b.clock.advance(10.0)
    assert int(b.q(":PMU:DATA:COUNT? 1")) == n


def test_output_state_off_ends_a_running_test():
    b = Bench()
    train(b, amplitude=0.5, load=1e4)
    b.ok(":PMU:EXECUTE")
    b.clock.advance(0.5)
    b.ok(":PMU:OUTPUT:STATE 1,0")
    assert b.q(":PMU:TEST:STATUS?") == "0" and not b.emu.outputs_on()["PMU1-1"]


def test_commands_refused_while_the_pmu_runs():
    b = Bench()
    train(b, amplitude=0.5, load=1e4)
    b.ok(":PMU:EXECUTE")
    assert b.q(":PMU:EXECUTE") == "ERROR" and b.code() == -980
    assert b.q(":PMU:PULSE:TRAIN 1,0,1") == "ERROR" and b.code() == -980
    assert b.q(":PMU:DATA:COUNT? 1") != "ERROR"


def test_timing_limits_surface_at_execute():
    cases = [
        ("1e-5", "3e-8", "2e-8"),  # width below 40 ns
        ("1e-5", "1e-5", "1e-7"),  # no off time left
        ("2", "1e-3", "1e-7"),  # period above 1 s
        ("1e-5", "5e-6", "1e-9"),  # rise below 20 ns
    ]
    for period, width, edge in cases:
        b = Bench()
        train(b, amplitude=0.5, load=1e4)
        b.ok(f":PMU:PULSE:TIMES 1,{period},{width},{edge},{edge}")  # accepted here...
        assert b.q(":PMU:EXECUTE") == "ERROR" and b.code() == -967, (period, width, edge)  # ...refused here
        assert not b.emu.outputs_on()["PMU1-1"]


def test_pmu_argument_errors():
    b = Bench()
    assert b.q(":PMU:PULSE:TRAIN 1,0,1") == "ERROR" and b.code() == -969  # INIT first
    b.ok(":PMU:INIT 0")
    assert b.q(":PMU:PULSE:BURST:COUNT 10001") == "ERROR" and b.code() == -969
    assert b.q(":PMU:MEASURE:RANGE 1,2,3e-4") == "ERROR" and b.code() == -969
    assert b.q(":PMU:LOAD 1,0.5") == "ERROR" and b.code() == -969
    assert b.q(":PMU:SOURCE:RANGE 3,10") == "ERROR" and b.code() == -969
    assert b.q(":PMU:PULSE:TRAIN 1,0,1.00000000001") == "ERROR" and b.code() == -993
    assert b.q(":PMU:SARB:SEQ:STARTV 1,1,0,1,1") == "ERROR" and b.code() == -969  # needs INIT 1
    assert b.q(":PMU:BOGUS 1") == "ERROR" and b.code() == -992
    b.ok(":PMU:PULSE:TRAIN 1,0,1", ":PMU:OUTPUT:STATE 1,1")
    b.ok(":PMU:RPM:CONFIGURE PMU1-1,3")  # RPM routed to the SMU
    assert b.q(":PMU:EXECUTE") == "ERROR" and b.code() == -969


def test_data_is_purged_by_execute_init_and_rst():
    b = Bench()
    train(b, amplitude=0.5, count=5, load=1e4)
    b.ok(":PMU:EXECUTE")
    b.wait()
    assert b.q(":PMU:DATA:COUNT? 1") == "5"
    b.ok(":PMU:EXECUTE")
    assert b.q(":PMU:DATA:COUNT? 1") == "0"
    b.wait()
    b.ok(":PMU:INIT 0")
    assert b.q(":PMU:DATA:COUNT? 1") == "0"
    train(b, amplitude=0.5, count=5, load=1e4)
    b.ok(":PMU:EXECUTE")
    b.wait()
    b.ok("*RST")
    assert b.q(":PMU:DATA:COUNT? 1") == "0"


def test_waveform_mode_samples_whole_periods():
    b = Bench()
    train(b, amplitude=0.5, count=4, period=1e-3, width=5e-4, load=1e4,
          extra=(":PMU:MEASURE:MODE 2", ":PMU:SAMPLE:RATE 1e5"))
    b.ok(":PMU:EXECUTE")
    b.wait()
    assert b.q(":PMU:DATA:COUNT? 1") == "400"
    pts = b.points()
    assert all(len(p) == 4 for p in pts)
    v = np.array([float(p[0]) for p in pts])
    assert v.max() == pytest.approx(0.5) and v.min() == pytest.approx(0.0)
    assert int(pts[0][3], 16) >> 16 & 0xF == 2  # waveform


def sarb(b: Bench, startv, stopv, times, mtype, mstart, mstop, seq_list="1,1,3"):
    b.ok(":PMU:INIT 1", ":PMU:RPM:CONFIGURE PMU1-1,0", ":PMU:SOURCE:RANGE 1,10",
         ":PMU:MEASURE:RANGE 1,2,1e-4", ":PMU:LOAD 1,1e4")
    for what, values in (("STARTV", startv), ("STOPV", stopv), ("TIME", times), ("MEAS:TYPE", mtype),
                         ("MEAS:START", mstart), ("MEAS:STOP", mstop)):
        b.ok(f":PMU:SARB:SEQ:{what} 1,1," + ",".join(str(x) for x in values))
    b.ok(f":PMU:SARB:WFM:SEQ:LIST {seq_list}", ":PMU:OUTPUT:STATE 1,1")


PULSE_READ = dict(
    startv=[0, 0.5, 0.5, 0, 0.1, 0.1, 0], stopv=[0.5, 0.5, 0, 0.1, 0.1, 0, 0],
    times=[1e-6, 5e-3, 1e-6, 1e-6, 1e-3, 1e-6, 4e-3], mtype=[0, 1, 0, 0, 1, 0, 0],
    mstart=[0, 3.75e-3, 0, 0, 0.75e-3, 0, 0], mstop=[0, 4.5e-3, 0, 0, 0.9e-3, 0, 0])


def test_segment_arb_pulses_with_reads_between():
    b = Bench()
    sarb(b, **PULSE_READ)
    b.ok(":PMU:EXECUTE")
    b.wait()
    assert b.q(":PMU:DATA:COUNT? 1") == "6"
    pts = b.points()
    v = [float(p[0]) for p in pts]
    i = [float(p[1]) for p in pts]
    assert v == pytest.approx([0.5, 0.1] * 3)
    assert i == pytest.approx([5e-5, 1e-5] * 3)
    t = [float(p[2]) for p in pts]
    assert t[1] == pytest.approx(1e-6 + 5e-3 + 1e-6 + 1e-6 + 0.825e-3, rel=1e-6)
    assert int(pts[0][3], 16) == 0x01010031  # RPM, spot mean, 100 uA range, channel 1, no LLEC


def test_segment_arb_validation():
    bad = dict(PULSE_READ, startv=[0, 0.5, 0.4, 0, 0.1, 0.1, 0])
    b = Bench()
    sarb(b, **bad)
    assert b.q(":PMU:EXECUTE") == "ERROR" and b.code() == -956
    b = Bench()
    sarb(b, [0, 1], [1, 0], [1e-6, 1e-6], [0, 0], [0, 0], [0, 0])
    assert b.q(":PMU:EXECUTE") == "ERROR" and b.code() == -967  # fewer than 3 segments
    values = ",".join(["0"] * 129)
    assert b.q(f":PMU:SARB:SEQ:STARTV 1,1,{values}") == "ERROR" and b.code() == -969
    b = Bench()
    sarb(b, **PULSE_READ, seq_list="1,1,32769")  # 2 points per loop
    assert b.q(":PMU:EXECUTE") == "ERROR" and b.code() == -963
    b = Bench()
    sarb(b, **PULSE_READ, seq_list="1,1,32768")  # exactly 65,536 points
    assert b.q(":PMU:EXECUTE") == "ACK"
    assert b.q(":PMU:ABORT") == "ACK"


def test_memristor_train_runs_in_vectorised_blocks():
    dev = make_device("bfo", 3)
    b = Bench(device=dev)
    train(b, amplitude=1.5, count=500, load=1e4)
    b.ok(":PMU:EXECUTE")
    b.wait()
    pts = b.points()
    assert len(pts) == 500
    i = np.array([float(p[1]) for p in pts])
    assert np.all(np.isfinite(i)) and np.all(np.abs(i) <= 1e-4 * 1.001)  # read within the range
    assert b.emu.devtime.t == pytest.approx(b.clock.now)


def test_llec_only_in_standard_pulse_mode_on_pmu_ranges():
    b = Bench()
    b.ok(":PMU:INIT 1")
    assert b.q(":PMU:LLEC:CONFIGURE 1,1") == "ERROR" and b.code() == -969  # not in Segment Arb
    b = Bench()
    train(b, amplitude=0.5, count=5, irange="1e-4", llec=True)
    assert b.q(":PMU:EXECUTE") == "ERROR" and b.code() == -967  # not on an RPM range
    b = Bench()
    b.ok(":PMU:INIT 0", ":PMU:LLEC:CONFIGURE 1,1", ":PMU:RETAIN:CONFIG 1,1", ":PMU:INIT 1")
    assert b.emu.pmu.channels[1].llec  # retained into Segment Arb: refused at EXECUTE
    sarb_ready = (":PMU:MEASURE:RANGE 1,2,1e-2", ":PMU:SARB:SEQ:STARTV 1,1,0,0,0", ":PMU:SARB:SEQ:STOPV 1,1,0,0,0",
                  ":PMU:SARB:SEQ:TIME 1,1,1e-6,1e-6,1e-6", ":PMU:SARB:WFM:SEQ:LIST 1,1,1",
                  ":PMU:RPM:CONFIGURE PMU1-1,0", ":PMU:OUTPUT:STATE 1,1")
    b.ok(*sarb_ready)
    assert b.q(":PMU:EXECUTE") == "ERROR" and b.code() == -967


def test_llec_fires_extra_pulses_at_each_step():
    from labqc.instruments.sim.kxci_pmu_build import LLEC_PULSES

    b = Bench()
    train(b, amplitude=0.5, count=4, irange="1e-2", llec=True,
          extra=(":PMU:SWEEP:PULSE:AMPLITUDE 1,0.1,0.2,0.1",))
    t0 = b.clock.now
    b.ok(":PMU:EXECUTE")
    assert b.emu.pmu.test.end - t0 == pytest.approx(1e-3 + (2 * 4 + 2 * LLEC_PULSES) * 10e-3, rel=1e-6)
    b.wait()
    pts = b.points()
    assert len(pts) == 8  # the extra pulses are not measured
    assert int(pts[0][3], 16) >> 28 & 3 == 3  # LLEC enabled and successful
    assert [float(p[0]) for p in pts] == pytest.approx([0.1] * 4 + [0.2] * 4)


def test_amplitude_sweep_fires_a_burst_per_amplitude():
    b = Bench()
    train(b, amplitude=0.5, count=2, load=1e4, extra=(":PMU:SWEEP:PULSE:AMPLITUDE 1,0.1,0.3,0.1,0,1",))
    b.ok(":PMU:EXECUTE")
    b.wait()
    vh = [float(p[0]) for p in b.points()]
    assert vh == pytest.approx([0.1, 0.1, 0.2, 0.2, 0.3, 0.3, 0.3, 0.3, 0.2, 0.2, 0.1, 0.1])


def test_segment_arb_values_can_be_added_beyond_128():
    b = Bench()
    n = 200
    levels = np.zeros(n)
    levels[1::2] = 0.2
    sarb(b, [0] * 3, [0] * 3, [1e-6] * 3, [0] * 3, [0] * 3, [0] * 3)
    for what, values in (("STARTV", levels), ("STOPV", np.roll(levels, -1)), ("TIME", [1e-6] * n),
                         ("MEAS:TYPE", [0] * n), ("MEAS:START", [0] * n), ("MEAS:STOP", [0] * n)):
        b.ok(f":PMU:SARB:SEQ:{what} 1,2," + ",".join(f"{x:g}" for x in values[:100]))
        b.ok(f":PMU:SARB:SEQ:{what}:ADD 1,2," + ",".join(f"{x:g}" for x in values[100:]))
    assert len(b.emu.pmu.channels[1].seqs[2].stopv) == n
    b.ok(":PMU:SARB:WFM:SEQ:LIST 1,2,5")
    t0 = b.clock.now
    b.ok(":PMU:EXECUTE")
    assert b.emu.pmu.test.end - t0 == pytest.approx(1e-3 + 5 * n * 1e-6, rel=1e-6)
    b.wait()
    assert b.q(":PMU:DATA:COUNT? 1") == "0"


def test_gpib_status_byte_shows_the_pmu_busy():
    b = Bench(framing="gpib")
    for m in (":PMU:INIT 0", ":PMU:RPM:CONFIGURE PMU1-1,0", ":PMU:LOAD 1,1e4", ":PMU:PULSE:TRAIN 1,0,0.5",
              ":PMU:PULSE:TIMES 1,0.01,0.005,1e-6,1e-6", ":PMU:PULSE:BURST:COUNT 10",
              ":PMU:OUTPUT:STATE 1,1", ":PMU:EXECUTE"):
        b.emu.write(m.encode())
    assert b.emu.pop() is None  # set commands answer nothing on GPIB
    assert b.emu.read_stb() & 16
    b.clock.advance(1.0)
    assert not b.emu.read_stb() & 16
    b.emu.write(b":PMU:DATA:COUNT? 1")
    assert b.emu.pop().data == b"10\n"


def test_waveform_rate_is_lowered_to_fit_65536_samples():
    b = Bench()
    train(b, amplitude=0.5, count=1000, period=1e-3, width=5e-4, load=1e4,
          extra=(":PMU:MEASURE:MODE 2", ":PMU:SAMPLE:RATE 200e6"))
    b.ok(":PMU:EXECUTE")
    b.wait()
    assert 60000 <= int(b.q(":PMU:DATA:COUNT? 1")) <= 65536


def test_step_is_the_outer_loop_and_channel_2_is_open_circuit():
    b = Bench()
    train(b, amplitude=0.5, count=1, load=1e4,
          extra=(":PMU:SWEEP:PULSE:AMPLITUDE 1,0.1,0.2,0.1", ":PMU:RPM:CONFIGURE PMU1-2,0",
                 ":PMU:PULSE:TIMES 2,0.01,0.005,1e-6,1e-6,0", ":PMU:STEP:PULSE:AMPLITUDE 2,1,2,1",
                 ":PMU:OUTPUT:STATE 2,1"))
    b.ok(":PMU:EXECUTE")
    assert b.emu.outputs_on()["PMU1-2"]
    b.wait()
    assert [float(p[0]) for p in b.points(1)] == pytest.approx([0.1, 0.2, 0.1, 0.2])
    ch2 = b.points(2)
    # open circuit: the open-circuit voltage the PMU sets for a 1 Mohm load, no current
    assert [float(p[0]) for p in ch2] == pytest.approx(np.array([1, 1, 2, 2]) * (1e6 + 50) / 1e6)
    assert all(float(p[1]) == 0 for p in ch2)
    assert int(ch2[0][3], 16) & 3 == 2


def test_retain_config_keeps_a_channel_through_init():
    b = Bench()
    b.ok(":PMU:INIT 0", ":PMU:LOAD 1,50", ":PMU:LOAD 2,50", ":PMU:RETAIN:CONFIG 1,1", ":PMU:INIT 0")
    assert b.emu.pmu.channels[1].load == 50 and b.emu.pmu.channels[2].load == 1e6
