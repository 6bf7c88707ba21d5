"""The 4200A driver against the simulated 4200A-SCS, through PyVISA, over both framings.

The ``ohmic`` preset is a 10 kΩ resistor read without noise, so currents are exact:
I = V / 10 kΩ until the compliance takes over. Outputs are read back from the emulator,
not from the driver.
"""
from __future__ import annotations

import numpy as np
import pytest

from labqc.instruments.errors import CapabilityError, InstrumentTimeout
from labqc.instruments.keithley4200a import Keithley4200A
from labqc.instruments.sim.lab import get_lab, sim_library
from labqc.instruments.smu import KIND_POINT, KIND_PULSE, KIND_READ, PulseTrain, Sampling, Sweep

LAN = "TCPIP0::127.0.0.1::1225::SOCKET"
GPIB = "GPIB0::17::INSTR"
R = 10e3  # Ω, the ohmic preset
SPEC = sim_library("ohmic", seed=0, time_scale=0)


@pytest.fixture(params=[LAN, GPIB], ids=["ethernet", "gpib"])
def resource(request):
    return request.param


@pytest.fixture
def lab():
    lab = get_lab(SPEC)
    lab.reset()
    yield lab
    lab.reset()


@pytest.fixture
def smu(lab, resource):
    # The 10 kohm resistor is the whole path: stated as the PMU's load, it is what holds a
    # pulse's current within its compliance (the PMU itself has no current limit).
    inst = Keithley4200A(resource, visa_library=SPEC, timeout=2.0, pmu_load=R)
    yield inst
    inst.close()


def all_off(lab, resource) -> bool:
    return not any(lab.emulator(resource).outputs_on().values())


def test_connects_and_identifies(smu, resource):
    assert "4200" in smu.identity
    assert smu.kxci.framing == ("ethernet" if resource == LAN else "gpib")


def test_voltage_sweep_reads_the_resistor_exactly_and_ends_off(smu, lab, resource):
    levels = np.concatenate([np.linspace(0, 1, 11), np.linspace(1, -1, 21)[1:]])
    chunks = list(smu.run(Sweep(levels, 1e-3, step_time=5e-3, nplc=0.01)))
    data = np.concatenate(chunks)
    assert len(data) == len(levels)
    assert data["source"] == pytest.approx(levels)
    assert data["v"] == pytest.approx(levels, abs=1e-9)
    assert data["i"] == pytest.approx(levels / R, rel=1e-6, abs=1e-12)
    assert not data["compliance"].any()
    assert np.all(np.diff(data["t"]) > 0)
    assert np.all(data["kind"] == KIND_POINT)
    assert all_off(lab, resource)


def test_a_sweep_streams_while_the_instrument_is_still_sweeping(smu, lab, resource):
    levels = np.linspace(0, 1, 400)  # 4 s at 10 ms per point
    stream = smu.run(Sweep(levels, 1e-3, step_time=10e-3, nplc=0.01))
    first = next(stream)
    assert 0 < len(first) < 400
    assert not all_off(lab, resource)  # the test is still running on the instrument
    data = np.concatenate([first] + list(stream))
    assert data["index"].tolist() == list(range(400))
    assert data["source"] == pytest.approx(levels, rel=1e-5)  # as sent: 6 significant digits
    assert data["i"] == pytest.approx(data["source"] / R, rel=1e-6, abs=1e-12)
    # The instrument's own step timing: 10 ms per point, seen in its timestamps.
    assert np.diff(data["t"]) == pytest.approx(10e-3, abs=1e-6)  # stamps carry 7 digits
    assert all_off(lab, resource)


def test_compliance_points_are_flagged_and_limited(smu, lab, resource):
    levels = np.linspace(0, 1, 11)  # 10 kΩ: 100 µA at 1 V, limited to 50 µA
    (c,) = list(smu.run(Sweep(levels, 50e-6, step_time=5e-3, nplc=0.01)))
    expected = levels / R > 50e-6 * (1 + 1e-9)
    assert c["compliance"].tolist() == expected.tolist()
    assert np.all(np.abs(c["i"][expected]) <= 50e-6 * 1.001)
    assert all_off(lab, resource)


def test_current_sweep(smu, lab, resource):
    levels = np.array([1e-6, 10e-6, 50e-6, 200e-6])  # 2 V at 200 µA, limited to 1 V
    (c,) = list(smu.run(Sweep(levels, 1.0, source="I", step_time=5e-3, nplc=0.01)))
    assert c["v"][:3] == pytest.approx(levels[:3] * R, rel=1e-6)
    assert c["compliance"].tolist() == [False, False, False, True]
    assert all_off(lab, resource)


def test_a_long_list_runs_as_chained_tests_streamed_while_they_run(smu, resource):
    levels = np.tile([0.0, 0.1], 2100)  # 4200 points: tests of 4096 and 104, 10.5 s in all
    chunks = list(smu.run(Sweep(levels, 1e-3, step_time=2.5e-3, nplc=0.01)))
    ends = np.cumsum([len(c) for c in chunks])
    assert len(chunks) >= 10  # about one chunk per second of sweep
    assert 4096 in ends  # no chunk straddles the two tests
    data = np.concatenate(chunks)
    assert data["index"].tolist() == list(range(4200))
    assert data["i"] == pytest.approx(levels / R, abs=1e-12)
    assert np.all(np.diff(data["t"]) > 0)


def test_uniform_pulse_train_in_standard_pulse_mode(smu, lab, resource):
    train = PulseTrain.uniform(1.5, 300, width=1e-3, period=5e-3, compliance=1e-3)
    chunks = list(smu.run(train))
    data = np.concatenate(chunks)
    assert len(chunks) > 1  # delivered while the train runs, not at the end
    assert len(data) == 300 and np.all(data["kind"] == KIND_PULSE)
    assert data["index"].tolist() == list(range(300))
    assert data["v"] == pytest.approx(1.5, rel=1e-3)
    assert data["i"] == pytest.approx(1.5 / R, rel=1e-3)
    assert not data["compliance"].any()
    assert np.all(np.diff(data["t"]) > 0)
    assert all_off(lab, resource)


def test_pulses_with_reads_run_as_segment_arb(smu, lab, resource):
    amplitudes = np.r_[np.full(5, 1.0), np.full(5, -1.0)]
    train = PulseTrain(amplitudes, width=1e-3, period=10e-3, compliance=1e-3, read_levels=0.2,
                       read_width=1e-3)
    data = np.concatenate(list(smu.run(train)))
    pulses, reads = data[data["kind"] == KIND_PULSE], data[data["kind"] == KIND_READ]
    assert pulses["index"].tolist() == reads["index"].tolist() == list(range(10))
    assert pulses["i"] == pytest.approx(amplitudes / R, rel=1e-3)
    assert reads["i"] == pytest.approx(0.2 / R, rel=1e-3)
    assert all_off(lab, resource)


def test_a_ramp_of_600_distinct_pulses_renumbers_its_sequences(lab):
    # Framing-independent (and 3600 set-up messages), so over Ethernet only.
    amplitudes = np.linspace(0.5, 1.5, 600)  # potentiation ramp: 600 sequences > the 512 the PMU holds
    with Keithley4200A(LAN, visa_library=SPEC, pmu_load=R) as smu:
        data = np.concatenate(list(smu.run(PulseTrain(amplitudes, width=100e-6, period=1e-3, compliance=1e-3))))
    assert data["index"].tolist() == list(range(600))
    assert data["source"] == pytest.approx(amplitudes)
    assert data["i"] == pytest.approx(amplitudes / R, rel=1e-3)
    assert all_off(lab, LAN)


def test_a_period_beyond_128_segments_is_sent_with_add_commands(lab):
    # 200 s periods: the rest at base is cut in 1 s segments, > 128 values per array.
    train = PulseTrain([1.0, -1.0], width=1e-3, period=200.0, compliance=1e-3, read_levels=0.2)
    with Keithley4200A(LAN, visa_library=SPEC, pmu_load=R) as smu:
        sent, command = [], smu.kxci.command
        smu.kxci.command = lambda cmd: (sent.append(cmd), command(cmd))[1]  # listen, still send
        data = np.concatenate(list(smu.run(train)))
    assert any(cmd.startswith(":PMU:SARB:SEQ:TIME:ADD 1,1,") for cmd in sent)
    assert data["kind"].tolist() == [KIND_PULSE, KIND_READ] * 2
    assert data["i"] == pytest.approx(np.array([1.0, 0.2, -1.0, 0.2]) / R, rel=1e-3)
    assert data["t"][2] - data["t"][0] == pytest.approx(200.0, rel=1e-6)
    assert all_off(lab, LAN)


def test_retention_sampling_at_log_spaced_instants_beyond_ten_seconds(smu, lab, resource):
    times = np.array([1.0, 3.0, 10.0, 30.0, 100.0])
    chunks = list(smu.run(Sampling(0.1, 1e-4, times)))
    data = np.concatenate(chunks)
    # each reading streams as it is taken (between them, empty chunks let the caller stop)
    assert len([c for c in chunks if len(c)]) == len(times)
    assert data["i"] == pytest.approx(0.1 / R, rel=1e-6)
    assert np.diff(data["t"]) == pytest.approx(np.diff(times), abs=0.05)
    assert all_off(lab, resource)


def test_spot_read(smu, lab, resource):
    r = smu.read(0.3, compliance=1e-3, nplc=1)
    assert r["i"][0] == pytest.approx(0.3 / R, rel=1e-6)
    assert not r["compliance"][0]
    r = smu.read(0.3, compliance=1e-5)
    assert r["compliance"][0] and abs(r["i"][0]) <= 1e-5 * 1.001
    assert all_off(lab, resource)


def test_ctrl_c_mid_sweep_aborts_and_leaves_the_output_off(smu, lab, resource):
    waits = []
    idle = smu.kxci.idle

    def interrupted(seconds):
        waits.append(seconds)
        idle(seconds / 2)  # half-way through the sweep, the user presses Ctrl-C
        assert not all_off(lab, resource)  # the sweep is really running
        raise KeyboardInterrupt

    smu.kxci.idle = interrupted
    with pytest.raises(KeyboardInterrupt):
        list(smu.run(Sweep(np.linspace(0, 1, 200), 1e-3, step_time=0.01, nplc=0.01)))
    assert waits and all_off(lab, resource)
    smu.kxci.idle = idle
    assert smu.read(0.1, compliance=1e-3)["i"][0] == pytest.approx(0.1 / R, rel=1e-6)


def test_stopping_mid_sweep_aborts_the_test_and_leaves_the_output_off(smu, lab, resource):
    stream = smu.run(Sweep(np.linspace(0, 1, 1000), 1e-3, step_time=10e-3, nplc=0.01))  # 10 s
    first = next(stream)
    assert len(first) < 1000 and not all_off(lab, resource)
    stream.close()  # what a procedure's stop button does
    assert all_off(lab, resource)
    # Aborted, not left running: a new request is accepted at once.
    assert smu.read(0.1, compliance=1e-3)["i"][0] == pytest.approx(0.1 / R, rel=1e-6)
    assert lab.clock.now < 5.0


@pytest.mark.parametrize("late", ["query", "set-up"])
def test_timeout_mid_stream_is_typed_resynchronised_and_off(smu, lab, resource, late):
    emulator = lab.emulator(resource)
    # The sweep's set-up takes 13 messages plus one per other SMU (undefined in DE); the
    # next is a query on both framings (SP on Ethernet; DO 'I1' on GPIB, which polls the
    # status byte instead). Its answer comes 100 s late, far past the 2 s timeout. A late
    # set-up command (LI) holds the instrument up for 100 s: on Ethernet its ACK is late,
    # on GPIB the test never starts in time and the status byte stays busy.
    setup = 13 + len(smu.smus) - 1
    at = setup + 1 if late == "query" else setup - 2
    emulator.faults.add("delay", at=emulator.messages + at, seconds=100)
    with pytest.raises(InstrumentTimeout):
        list(smu.run(Sweep(np.linspace(0, 1, 20), 1e-3, step_time=5e-3, nplc=0.01)))
    assert all_off(lab, resource)
    # Resynchronised: the next exchange gets its own answer, not the late one.
    assert smu.read(0.2, compliance=1e-3)["i"][0] == pytest.approx(0.2 / R, rel=1e-6)


def test_output_off_survives_a_dropped_connection(smu, lab, resource):
    r = smu.read(0.1, compliance=1e-3)
    assert r["i"][0] == pytest.approx(1e-5, rel=1e-6)
    emulator = lab.emulator(resource)
    emulator.faults.add("drop", at=emulator.messages + 1)
    smu.output_off()  # the first message kills the session; the driver reconnects once
    assert all_off(lab, resource)
    assert smu.read(0.1, compliance=1e-3)["i"][0] == pytest.approx(1e-5, rel=1e-6)


def test_a_refused_request_sends_nothing(smu, lab, resource):
    emulator = lab.emulator(resource)
    before = emulator.messages
    with pytest.raises(CapabilityError, match="10 V"):
        list(smu.run(PulseTrain.uniform(12.0, 5, width=1e-3, period=5e-3, compliance=5e-3)))
    # 2 V over the stated 10 kohm can pass 200 uA: a 100 uA compliance needs a limit the PMU
    # does not have, and 1 ms pulses are too fast for an SMU.
    with pytest.raises(CapabilityError, match="no current limit"):
        list(smu.run(PulseTrain.uniform(2.0, 5, width=1e-3, period=5e-3, compliance=1e-4)))
    assert emulator.messages == before


def test_a_compliance_limited_set_pulse_runs_on_the_smu_and_is_held(lab, resource):
    # 1 V into 10 kohm wants 100 uA; with no series load stated the PMU could not hold 50 uA,
    # so the 5 ms pulses run on SMU1 as a list sweep, whose limit is real.
    with Keithley4200A(resource, visa_library=SPEC, timeout=2.0) as smu:
        data = np.concatenate(list(smu.run(PulseTrain.uniform(1.0, 4, width=5e-3, period=10e-3, compliance=5e-5))))
    assert data["kind"].tolist() == [KIND_PULSE] * 4 and data["index"].tolist() == [0, 1, 2, 3]
    assert data["compliance"].all() and data["i"] == pytest.approx(5e-5, rel=1e-6)
    assert not lab.emulator(resource).pmu.channels[1].output_req  # the PMU was never asked
    assert all_off(lab, resource)


def test_a_set_sweep_on_the_bfo_memristor_is_held_at_its_compliance(resource):
    spec = sim_library("bfo", seed=1)
    lab = get_lab(spec)
    lab.reset()
    with Keithley4200A(resource, visa_library=spec) as smu:
        levels = np.r_[np.linspace(0, 5, 101), np.linspace(5, 0, 101)[1:]]  # forms, then SETs
        data = np.concatenate(list(smu.run(Sweep(levels, 1e-3, step_time=10e-3, nplc=0.01))))
    assert data["compliance"].sum() > 20
    assert np.all(np.abs(data["i"]) <= 1e-3 * 1.001)
    assert np.all(np.abs(data["i"][data["compliance"]]) >= 0.9e-3)
    assert all_off(lab, resource)
    lab.reset()


def test_open_smu_picks_this_driver_from_the_resource_string(lab, resource):
    from labqc.instruments.connect import open_smu

    with open_smu(resource, visa_library=SPEC) as smu:
        assert isinstance(smu, Keithley4200A)
        assert smu.read(0.5, compliance=1e-3)["i"][0] == pytest.approx(0.5 / R, rel=1e-6)
    assert all_off(lab, resource)


@pytest.mark.parametrize("step_time, points", [(1.0, 1), (2.0, 1), (1.0, 2), (0.5, 1)])
def test_a_sweep_of_one_or_two_slow_points_returns_its_readings(smu, lab, resource, step_time, points):
    # Once the driver read the buffer before the first point was taken, and took the
    # empty DO answer for a failure.
    data = np.concatenate(list(smu.run(Sweep([0.1] * points, 1e-3, step_time=step_time, nplc=1))))
    assert len(data) == points
    assert data["i"] == pytest.approx(0.1 / R, rel=1e-6)  # 0.1 V over 10 kohm
    assert np.diff(data["t"]) == pytest.approx([step_time] * (points - 1), abs=1e-3)  # the instrument's timing
    assert all_off(lab, resource)


LONG = {
    # 4000 points of 0.1 s: 400 s, readings fetched every 25 s
    "sweep": Sweep(np.full(4000, 0.2), 1e-3, step_time=0.1, nplc=0.01),
    # 10000 pulses of 0.1 s: 1000 s on the PMU (the stated 10 kohm holds the current)
    "pmu": PulseTrain.uniform(1.0, 10_000, width=1e-3, period=0.1, compliance=2e-4),
}


@pytest.mark.parametrize("what", sorted(LONG))
def test_stopping_a_long_test_turns_the_output_off_within_one_poll(smu, lab, resource, what):
    # Readings are fetched every sixteenth of a long test; the caller once got control only
    # with them, so a stop waited that long with the output on. Now at least once a second.
    stream = smu.run(LONG[what])
    handed = [lab.clock.now]  # instrument time whenever the caller got control back
    for _chunk in stream:
        handed.append(lab.clock.now)
        assert not all_off(lab, resource)  # still running
        if lab.clock.now > 5.0:
            break
    stream.close()  # what a procedure's stop button does
    assert all_off(lab, resource)
    assert np.max(np.diff(handed)) <= 1.0 + 0.1  # one poll
    assert lab.clock.now - handed[-1] <= 0.1  # the abort itself is a few messages
    # Aborted on the instrument, not left running: the next request runs at once.
    assert smu.read(0.1, compliance=1e-3)["i"][0] == pytest.approx(0.1 / R, rel=1e-6)
