"""The Keithley 2614B driver against the simulated 2614B, through the PyVISA backend.

The ``ohmic`` preset is a noiseless 10 kOhm resistor, so every reading has an exact
expected value (I = V / 10 kOhm, clamped at the compliance). Time scale 0: simulated
seconds cost no wall time.
"""
import numpy as np
import pytest

from labqc.instruments.errors import CapabilityError, InstrumentReportedError, InstrumentTimeout
from labqc.instruments.keithley2614b import Keithley2614B
from labqc.instruments.sim.lab import RES_2614B_GPIB, RES_2614B_LAN, get_lab, sim_library
from labqc.instruments.smu import KIND_POINT, KIND_PULSE, KIND_READ, PulseTrain, Sampling, Sweep

R = 10e3  # the ohmic preset's resistance
#: Messages that leave an even 2000-point ramp's program on the instrument and start it: source,
#: measure, buffers, trigger model (linearv: no table), timer 1, stimuli; the chunk printer
#: _P, the waiter _W, the body _G; the start (tests/drivers/test_k2614b_protocol.py spells them out).
RAMP_MESSAGES = 10


@pytest.fixture
def lab():
    spec = sim_library("ohmic", seed=26, time_scale=0)
    lab = get_lab(spec)
    lab.reset()
    lab.spec = spec
    yield lab
    lab.reset()


@pytest.fixture
def smu(lab):
    smu = Keithley2614B(RES_2614B_GPIB, visa_library=lab.spec, timeout=5.0)
    yield smu
    smu.close()


def emulator(lab):
    return lab.emulator(RES_2614B_GPIB)


def all_off(lab) -> bool:
    return not any(emulator(lab).outputs_on().values())


def collect(smu, request):
    return np.concatenate(list(smu.run(request)))


def test_connect_reads_identity_and_line_frequency(smu):
    assert "2614B" in smu.identity
    assert smu.linefreq in (50.0, 60.0)


def test_bipolar_voltage_list_sweep_reads_ohms_law(smu, lab):
    levels = np.r_[np.linspace(0, 1, 26), np.linspace(0.96, -1, 50), np.linspace(-0.96, 0, 25)]
    r = collect(smu, Sweep(levels, compliance=1e-3, step_time=2e-3))
    assert len(r) == len(levels)
    assert r["source"] == pytest.approx(levels, abs=1e-12)
    assert r["v"] == pytest.approx(levels, abs=1e-9)
    assert r["i"] == pytest.approx(levels / R, rel=1e-6, abs=1e-15)
    assert not r["compliance"].any()
    assert np.diff(r["t"]) == pytest.approx(np.full(len(levels) - 1, 2e-3), rel=1e-3)  # timer-paced
    assert list(r["index"]) == list(range(len(levels))) and set(r["kind"]) == {KIND_POINT}
    assert all_off(lab)


def test_set_sweep_hits_compliance_and_clamps(smu, lab):
    levels = np.linspace(0, 2, 21)  # 2 V on 10 kOhm would be 200 uA
    r = collect(smu, Sweep(levels, compliance=100e-6, step_time=1e-3))
    over = levels / R > 100e-6 * (1 + 1e-9)
    assert over.any() and not over.all()
    assert list(r["compliance"]) == list(over)
    assert r["i"][over] == pytest.approx(100e-6, rel=1e-6)
    assert r["v"][over] == pytest.approx(1.0, rel=1e-6)  # the limit sets the real voltage
    assert all_off(lab)


def test_nanoamp_current_sweep_keeps_its_levels(smu, lab):
    levels = np.array([1e-7, 2e-7, 5e-7, 1e-6, 3e-7])  # would be 0.000000 A with %f
    r = collect(smu, Sweep(levels, compliance=5.0, source="I", step_time=5e-3, nplc=0.1))
    assert r["source"] == pytest.approx(levels, rel=1e-9)
    assert r["v"] == pytest.approx(levels * R, rel=1e-6)
    assert all_off(lab)


def test_linear_sweep_and_chunked_stream(smu, lab):
    levels = np.linspace(-0.5, 0.5, 1500)
    chunks = list(smu.run(Sweep(levels, compliance=1e-3, step_time=1e-3, nplc=0.01)))
    assert [len(c) for c in chunks] == [500, 500, 500]  # half a second each, streamed as they come
    r = np.concatenate(chunks)
    assert r["v"] == pytest.approx(levels, abs=1e-9)
    assert np.all(np.diff(r["t"]) > 0)
    assert all_off(lab)


def test_time_is_monotonic_across_requests(smu):
    first = collect(smu, Sweep([0.1, 0.2], compliance=1e-3, step_time=0.01))
    second = collect(smu, Sweep([0.3, 0.4], compliance=1e-3, step_time=0.01))
    assert second["t"][0] > first["t"][-1]


def test_pulse_train_measures_each_pulse_top(smu, lab):
    train = PulseTrain.uniform(1.5, 20, width=2e-3, period=10e-3, compliance=1e-3, base=0.0)
    r = collect(smu, train)
    assert len(r) == 20 and set(r["kind"]) == {KIND_PULSE}
    assert list(r["index"]) == list(range(20))
    assert r["i"] == pytest.approx(1.5 / R, rel=1e-6)
    assert np.diff(r["t"]) == pytest.approx(np.full(19, 10e-3), rel=1e-3)  # hardware period
    assert all_off(lab)


def test_pulse_train_with_reads_tags_pulses_and_reads(smu, lab):
    amps = np.array([1.2, -1.0, 1.2, -1.0, 1.2])
    reads = np.array([0.1, 0.2, 0.1, 0.2, 0.1])
    train = PulseTrain(amps, width=1e-3, period=10e-3, compliance=1e-3, read_levels=reads, read_width=2e-3)
    r = collect(smu, train)
    pulses, rd = r[r["kind"] == KIND_PULSE], r[r["kind"] == KIND_READ]
    assert list(pulses["index"]) == list(range(5)) and list(rd["index"]) == list(range(5))
    assert pulses["i"] == pytest.approx(amps / R, rel=1e-6)
    assert rd["i"] == pytest.approx(reads / R, rel=1e-6)
    assert np.diff(pulses["t"]) == pytest.approx(np.full(4, 10e-3), rel=1e-3)
    assert rd["t"] - pulses["t"] == pytest.approx(np.full(5, 2e-3), rel=2e-2)  # read ends 2 ms after pulse
    assert all_off(lab)


def test_pulse_compliance_flagged_per_pulse(smu, lab):
    train = PulseTrain([0.5, 2.0, 0.5], width=1e-3, period=5e-3, compliance=100e-6)
    r = collect(smu, train)
    assert list(r["compliance"]) == [False, True, False]


def test_retention_sampling_at_intervals_beyond_one_second(smu, lab):
    s = Sampling.log(0.1, 1e-4, first=1.0, duration=1000.0, per_decade=3)
    r = collect(smu, s)
    assert len(r) == s.points
    assert r["i"] == pytest.approx(0.1 / R, rel=1e-6)
    rel_t = r["t"] - r["t"][0]
    assert rel_t == pytest.approx(s.times - s.times[0], abs=1e-3)  # the instrument's timer, not the host
    assert all_off(lab)


def test_long_sampling_chained_in_blocks_keeps_bias_and_schedule(smu, lab):
    smu.sample_block = 4
    s = Sampling.linear(0.2, 1e-4, interval=0.5, duration=5.0)
    r = collect(smu, s)
    assert len(r) == 10 and list(r["index"]) == list(range(10))
    assert r["i"] == pytest.approx(0.2 / R, rel=1e-6)
    assert np.diff(r["t"]) == pytest.approx(np.full(9, 0.5), abs=5e-3)
    assert all_off(lab)


def test_spot_read_and_compliance(smu, lab):
    ok = smu.read(0.5, compliance=1e-3)
    assert ok[0]["i"] == pytest.approx(0.5 / R, rel=1e-6) and not ok[0]["compliance"]
    hit = smu.read(2.0, compliance=50e-6)
    assert hit[0]["compliance"] and hit[0]["i"] == pytest.approx(50e-6, rel=1e-6)
    assert all_off(lab)


def test_break_out_of_a_sweep_leaves_output_off_and_driver_usable(smu, lab):
    stream = smu.run(Sweep(np.linspace(0, 1, 3000), compliance=1e-3, step_time=1e-3))
    first = next(stream)
    assert len(first) == 500
    assert any(emulator(lab).outputs_on().values())  # the sweep is still running
    stream.close()
    assert all_off(lab)
    assert smu.read(0.1, compliance=1e-3)[0]["i"] == pytest.approx(1e-5, rel=1e-6)


def test_timeout_mid_stream_is_typed_resynchronised_and_off(smu, lab):
    em = emulator(lab)
    sweep = Sweep(np.linspace(0, 1, 2000), compliance=1e-3, step_time=1e-3)
    program = em.messages + RAMP_MESSAGES  # the message that runs it
    em.faults.add("delay", at=program, seconds=100, reply=3)  # replies: error count, chunk 1, chunk 2
    got = []
    with pytest.raises(InstrumentTimeout, match="did not answer"):
        for chunk in smu.run(sweep):
            got.append(chunk)
    assert len(got) == 1
    assert all_off(lab)
    # the late reply was cleared away: the next query gets its own answer
    assert smu.read(0.3, compliance=1e-3)[0]["i"] == pytest.approx(3e-5, rel=1e-6)


def test_instrument_error_during_setup_keeps_output_off(smu, lab):
    em = emulator(lab)
    em.faults.add("error", at=em.messages + 2, code=1011, message="Parameter too big")
    with pytest.raises(InstrumentReportedError) as err:
        collect(smu, Sweep([0.1, 0.2, 0.3], compliance=1e-3, step_time=1e-2))
    assert err.value.code == 1011
    assert all_off(lab)
    assert len(collect(smu, Sweep([0.1, 0.2], compliance=1e-3, step_time=1e-2))) == 2


@pytest.mark.parametrize("request_", [
    Sweep([0, 201.0], 1e-3),
    Sweep([0, 1], 1e-3, step_time=1e-4, nplc=1),
    PulseTrain.uniform(1.0, 5, width=20e-6, period=1e-3, compliance=1e-3),
    Sampling(0.1, 5.0, [1.0]),
])
def test_requests_beyond_capabilities_send_nothing(smu, lab, request_):
    em = emulator(lab)
    before = em.messages
    with pytest.raises(CapabilityError):
        collect(smu, request_)
    assert em.messages == before


def test_output_off_turns_both_channels_off(smu, lab):
    b = Keithley2614B(RES_2614B_GPIB, visa_library=lab.spec, channel="b")
    stream = b.run(Sweep(np.linspace(0, 1, 3000), compliance=1e-3, step_time=1e-3))
    next(stream)
    assert emulator(lab).outputs_on().get("smub", True)
    smu.output_off()  # channel a's driver turns every channel off
    assert all_off(lab)
    stream.close()


def test_dropped_connection_is_typed_and_output_off_after_reconnect(smu, lab):
    from labqc.instruments.errors import ConnectionLost

    em = emulator(lab)
    sweep = Sweep(np.linspace(0, 1, 2000), compliance=1e-3, step_time=1e-3)
    # The link drops right after the message that turned the output on and started the sweep.
    start = em.messages + RAMP_MESSAGES
    em.faults.add("drop", at=start)
    with pytest.raises(ConnectionLost):
        collect(smu, sweep)
    assert all_off(lab)  # the instrument kept sourcing until the driver reconnected and turned it off
    assert len(collect(smu, Sweep([0.1, 0.2], compliance=1e-3, step_time=1e-2))) == 2


@pytest.mark.parametrize("resource", [RES_2614B_GPIB, RES_2614B_LAN])
def test_open_smu_picks_this_driver_from_resource_and_library_only(lab, resource):
    from labqc.instruments.connect import open_smu

    with open_smu(resource, visa_library=lab.spec) as smu:
        assert isinstance(smu, Keithley2614B)
        assert smu.read(0.2, compliance=1e-3)[0]["i"] == pytest.approx(0.2 / R, rel=1e-6)
    assert all_off(lab)


def test_sweep_over_a_real_socket_with_pyvisa_py():
    from labqc.instruments.sim.lab import SimulatedLab
    from labqc.instruments.sim.server import start_background

    lab = SimulatedLab("ohmic", 5, 0.0)
    server = start_background(lab, port_2614b=0, port_4200a=None)
    try:
        smu = Keithley2614B(server.resources["2614B"], visa_library="@py", timeout=5.0)
        levels = np.linspace(-1, 1, 1200)
        chunks = list(smu.run(Sweep(levels, compliance=1e-3, step_time=1e-3)))
        r = np.concatenate(chunks)
        assert len(chunks) == 3 and r["i"] == pytest.approx(levels / R, rel=1e-6, abs=1e-15)
        # output_off is confirmed by a reply, so the socket has delivered and executed it
        assert not any(lab.emulator(RES_2614B_LAN).outputs_on().values())  # the port's instrument
        smu.close()
    finally:
        server.stop()


@pytest.mark.parametrize("fault, error", [("garble", "ProtocolError"), ("truncate", "ProtocolError"),
                                          ("busy", "InstrumentTimeout")])
def test_damaged_chunk_is_typed_and_the_link_recovers(smu, lab, fault, error):
    import labqc.instruments.errors as errors

    em = emulator(lab)
    sweep = Sweep(np.linspace(0, 1, 2000), compliance=1e-3, step_time=1e-3)
    program = em.messages + RAMP_MESSAGES
    em.faults.add(fault, at=program, reply=0 if fault == "busy" else 3)  # the second chunk
    with pytest.raises(getattr(errors, error)):
        collect(smu, sweep)
    assert all_off(lab)
    assert smu.read(0.4, compliance=1e-3)[0]["i"] == pytest.approx(4e-5, rel=1e-6)


def test_slow_retention_can_be_stopped_between_readings(smu, lab):
    s = Sampling(0.1, 1e-4, [1.0, 2.0, 500.0, 1000.0])
    stream = smu.run(s)
    got = [next(stream), next(stream)]
    pause = next(stream)  # 498 s to the next reading: the stream comes back within 10 s of instrument time
    assert len(pause) == 0 and [len(c) for c in got] == [1, 1]
    assert emulator(lab).smua.output_at(lab.clock.now - 1.0)  # the bias is held across the gap
    stream.close()
    assert all_off(lab)
    assert lab.clock.now < 100.0  # stopped early, not after the 1000 s schedule


def test_memristor_set_and_reset_with_compliance():
    """bfo preset: a SET sweep clamps at Icc (flagged per point) and raises the read current;
    a RESET sweep lowers it again."""
    spec = sim_library("bfo", seed=3, time_scale=0)
    lab = get_lab(spec)
    lab.reset()
    smu = Keithley2614B(RES_2614B_GPIB, visa_library=spec)
    try:
        before = smu.read(0.1, compliance=1e-3)[0]["i"]
        up = np.r_[np.linspace(0, 2, 101), np.linspace(2, 0, 101)]
        set_ = collect(smu, Sweep(up, compliance=100e-6, step_time=5e-3))
        assert 0 < set_["compliance"].sum() < len(up)
        assert np.all(np.abs(set_["i"]) <= 100e-6 * (1 + 1e-9))
        high = set_["compliance"] & (up >= 1.5)
        assert high.any() and np.all(set_["v"][high] < up[high] - 0.3)  # the limit, not the level, sets V
        after_set = smu.read(0.1, compliance=1e-3)[0]["i"]
        down = np.r_[np.linspace(0, -2, 101), np.linspace(-2, 0, 101)]
        collect(smu, Sweep(down, compliance=10e-3, step_time=5e-3))
        after_reset = smu.read(0.1, compliance=1e-3)[0]["i"]
        assert after_set > 10 * before and after_reset < after_set / 10
        assert all_off(lab)
    finally:
        smu.close()
        lab.reset()
