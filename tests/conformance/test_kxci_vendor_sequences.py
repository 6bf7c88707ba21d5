"""Tektronix's own KXCI example sequences, sent to the simulated 4200A-SCS through PyVISA
(pyvisa-py on a real loopback socket), with the replies parsed the way the examples parse
them.

Sources (repository ``tektronix/keithley``, folder
``Instrument_Examples/Model_4200A/KXCI_Examples/``):

- ``SMU/System Mode/List sweep.py``: DE/SS/SM/MD list sweep, graph axes ``XT``/``YA``/``YB`` on
  the SM page, SP polled until ``int(reply) in [0, 1]``, ``RD 'name', k`` read until ``"0"``
  and passed to ``float()``, timestamps as ``'CH1T'``.
- ``SMU/System Mode/4 SMUs 0V.py``: ``CH 1, 'AV', ...`` with spaces, ``SR 1, 100e-9`` after
  ``SM``, ``NR 3``, ``LI`` sent on the MD page with ``'CH1T'``..``'CH4T'``, ``ME 1``.
- ``SMU/System Mode/Linear sweep without plotting.py``: ``VR1, 1, 5, 0.1, 0.01`` with a constant
  channel, ``SM DM2``, ``LI`` of four names.
- ``SMU/System Mode/Current sweep without plotting.py``: ``IR1, 1e-9, 10e-9, 1e-9, 10`` and ``IC1, 0, 10``.
- ``SMU/System Mode/res2t.py``: ``VR 1, -1, 1, 40e-3, 100e-3``, ``RS 5``, ``RG``, ``DM1``, ``XN``/``YA``.
- ``SMU/System Mode/2 SMUs 0V.py``: sampling of 500 readings, ``'CH2T'``.
- ``SMU/System Mode/family_of_curves data retrival.py``: VAR1 (``VR 1, 0, 5, 0.1, 100e-3``) with
  VAR2 (``VP 2, 1, 4, 100e-3``), read back as 4 segments of 51 readings.
- ``SMU/User Mode/Source voltage and measure current.py``: ``US``, ``DV1, 1, 5, 10e-3``, ``TI1``, ``DV1``.
- ``SMU/User Mode/Combined user mode example.py``: ``DI1, 0, 100e-9, 20``, ``MP 2, VS2``,
  ``DS2, 5``, 50 × ``TV1``, ``DI1``, ``DS2``.
- ``SMU/User Mode/Source voltage from voltage source.py``: ``MP 1, VS1``, ``DS1, 5``, ``TV1``, ``DS1``.

The simulated lab has a 10 kohm resistor on SMU1; the other SMUs are open circuit.
"""
from __future__ import annotations

import numpy as np
import pytest

from kxci_bench import R, KxciBench


@pytest.fixture(scope="module")
def bench():
    b = KxciBench()
    yield b
    b.close()


def test_list_sweep(bench):
    q = bench.query
    sweep = np.linspace(0, 1, 100)
    sweep_list = ",".join(["%.5f" % num for num in sweep])
    for cmd in ("BC", "*RST", "DE", "CH3, 'VS', 'IS', 1, 3", "CH1, 'VD', 'ID', 1, 1", "SS",
                f"VL1,1, 0.01,{sweep_list}", "VC3, 0, 100e-3", "HT 0", "DT 0.2", "IT1", "RS 5",
                "RG 1, 100e-9", "RG 2, 100e-9", "RG 3, 100e-9", "SM DM1", "XT 0, 25",
                "YA 'VD', 1, 0, 1", "YB 'VS', 1, 0, 50e-6", "MD", "ME1"):
        assert q(cmd) == "ACK", (cmd, q(":ERROR:LAST:GET"))
    bench.sleep(0.1)
    bench.wait_sp()
    vd, vs, t = (bench.retrieve(name) for name in ("VD", "VS", "CH1T"))
    assert len(vd) == len(vs) == len(t) == 100
    assert vd == pytest.approx(sweep, abs=1e-5)  # 10 mA is far above 1 V / 10 kohm
    assert np.array(vs) == pytest.approx(0.0, abs=1e-9)
    step = np.diff(t)  # RS 5: stamps of five digits
    assert np.all(step > 0.199) and np.mean(step) == pytest.approx(0.2 + 100e-6 + 0.01 / 60, rel=1e-3)  # DT + reading
    assert q(":ERROR:LAST:GET") == ""  # nothing went wrong: an empty reply


def test_four_smus_at_0_v_with_fixed_ranges_and_timestamps(bench):
    q = bench.query
    for cmd in ("BC", "*RST", "DE", "CH 1, 'AV', 'AI', 1, 3", "CH 2, 'BV', 'BI', 1, 3",
                "CH 3, 'CV', 'CI', 1, 3", "CH 4, 'DV', 'DI', 1, 3", "SS", "VC 1, 0, 1e-6",
                "VC 2, 0, 1e-6", "VC 3, 0, 1e-6", "VC 4, 0, 1e-6", "IT2", "SM", "SR 1, 100e-9",
                "SR 2, 100e-9", "SR 3, 100e-9", "SR 4, 100e-9", "NR 3", "DM2", "MD",
                "LI 'AI', 'BI', 'CI', 'DI', 'CH1T'", "LI 'CH2T', 'CH3T', 'CH4T'", "ME 1"):
        assert q(cmd) == "ACK", (cmd, q(":ERROR:LAST:GET"))
    bench.wait_sp()
    got = {name: bench.retrieve(name) for name in ["AI", "BI", "CI", "DI", "CH1T", "CH2T", "CH3T", "CH4T"]}
    assert all(len(v) == 3 for v in got.values())
    assert got["AI"] == pytest.approx([0.0] * 3, abs=1e-12)  # 0 V across the resistor
    stamps = np.array([got[f"CH{n}T"] for n in range(1, 5)])
    assert np.all(np.diff(stamps, axis=1) > 0)  # the examples take .diff() of each
    assert np.all(stamps == stamps[0])  # the channels measure together


def test_linear_sweep_on_smu2(bench):
    q = bench.query
    for cmd in ("BC", "*RST", "DE", "CH1, 'V1', 'I1', 1, 3", "CH2, 'V2', 'I2', 1, 1", "SS",
                "VR1, 1, 5, 0.1, 0.01", "VC1, 0, 100e-3", "HT 0", "DT 0.2", "IT1", "SM DM2",
                "LI 'I1', 'I2','V1','V2'", "MD", "ME1"):
        assert q(cmd) == "ACK", (cmd, q(":ERROR:LAST:GET"))
    bench.sleep(0.1)
    bench.wait_sp()
    got = {name: bench.retrieve(name) for name in ["I1", "V1", "I2", "V2"]}
    assert [len(v) for v in got.values()] == [41] * 4
    assert got["V2"] == pytest.approx(np.linspace(1, 5, 41), abs=1e-6)  # open circuit reads the level
    assert got["I2"] == pytest.approx([0.0] * 41, abs=1e-12)


def test_current_sweep_into_an_open_smu2_runs_into_its_voltage_limit(bench):
    q = bench.query
    for cmd in ("BC", "*RST", "DE", "CH1, 'V1', 'I1', 2, 3", "CH2, 'V2', 'I2', 2, 1", "SS",
                "IR1, 1e-9, 10e-9, 1e-9, 10", "IC1, 0, 10", "DT 0.2", "IT1", "SM DM2",
                "LI 'I1','I2','V1','V2'", "MD", "ME1"):
        assert q(cmd) == "ACK", (cmd, q(":ERROR:LAST:GET"))
    bench.sleep(0.1)
    bench.wait_sp()
    got = {name: bench.retrieve(name) for name in ["I1", "V1", "I2", "V2"]}
    assert [len(v) for v in got.values()] == [10] * 4
    assert got["V2"] == pytest.approx([10.0] * 10)  # the 10 V compliance
    assert q("DO 'V2'").split(",")[0].startswith("C")  # and DO says so with its status letter


def test_res2t_two_terminal_resistance(bench):
    q = bench.query
    for cmd in ("BC", "*RST", "DE", "CH 1, 'AV', 'AI', 1, 1", "CH 2, 'BV', 'BI', 1, 3", "SS",
                "VR 1, -1, 1, 40e-3, 100e-3", "VC 2, 0, 100e-3", "HT 0", "DT 0", "IT2", "RS 5",
                "RG 1, 100e-9", "RG 2, 100e-9", "SM", "DM1", "XN 'AV', 1, -1, 1",
                "YA 'AI', 1, -100e-9, 100e-9", "MD", "ME 1"):
        assert q(cmd) == "ACK", (cmd, q(":ERROR:LAST:GET"))
    bench.wait_sp()
    ai, av = np.array(bench.retrieve("AI")), np.array(bench.retrieve("AV"))
    assert len(ai) == len(av) == 51
    on = np.abs(av) > 0.01
    assert av[on] / ai[on] == pytest.approx(R, rel=1e-3)  # RS 5: five significant digits


def test_two_smus_at_0_v_sampled_500_times(bench):
    q = bench.query
    for cmd in ("BC", "*RST", "DE", "CH2, 'VS', 'IS', 1, 3", "CH1, 'VD', 'ID', 1, 3", "SS",
                "VC1, 0, 100e-3", "VC2, 0, 100e-3", "HT 0", "DT 0.2", "IT1", "RS 5", "RG 1, 100e-9",
                "RG 2, 100e-9", "SM", "NR 500", "DM1", "XT 0, 10", "YA 'ID', 1, 0, 10e-12",
                "YB 'IS', 1, 0, 10e-12", "MD", "ME1"):
        assert q(cmd) == "ACK", (cmd, q(":ERROR:LAST:GET"))
    bench.sleep(0.1)
    bench.wait_sp()
    got = {name: bench.retrieve(name) for name in ["ID", "IS", "CH2T"]}
    assert [len(v) for v in got.values()] == [500] * 3
    assert np.all(np.diff(got["CH2T"]) > 0)


def test_family_of_curves_in_segments(bench):
    q = bench.query
    for cmd in ("BC", "*RST", "DE", "CH 1, 'VS', 'IS', 1, 3", "CH 2, 'VD', 'ID', 1, 1", "CH 3, 'VG', 'IG', 1, 2",
                "SS", "VR 1, 0, 5, 0.1, 100e-3", "VP 2, 1, 4, 100e-3", "VC 1, 0, 100e-3", "HT 0", "DT 0.001",
                "IT2", "RS 5", "RG 1, 100e-9", "RG 2, 100e-9", "RG 3, 100e-9", "SM", "DM1",
                "XN 'VD', 1, 0, 5", "YA 'ID', 1, 0, 0.04", "MD", "ME 1"):
        assert q(cmd) == "ACK", (cmd, q(":ERROR:LAST:GET"))
    bench.wait_sp()
    got = {name: np.array(bench.retrieve(name)) for name in ["ID", "VD", "VG"]}
    assert [len(v) for v in got.values()] == [4 * 51] * 3  # num_segments x readings_per_seg
    vd, vg = got["VD"].reshape(4, 51), got["VG"].reshape(4, 51)
    assert vd == pytest.approx(np.tile(np.linspace(0, 5, 51), (4, 1)), abs=1e-4)
    assert np.all(vg == vg[:, :1]) and np.diff(vg[:, 0]) == pytest.approx([1.0] * 3)  # one step per segment


# --- user mode -----------------------------------------------------------------------------

def test_source_voltage_and_measure_current(bench):
    q = bench.query
    for cmd in ("BC", "*RST", "US", "DV1, 1, 5, 10e-3"):
        assert q(cmd) == "ACK"
    bench.sleep(1)
    result = q("TI1")
    assert result[:3] == "NAI" and float(result[3:]) == pytest.approx(5 / R)  # pymeasure: float(v[3:])
    assert q("DV1") == "ACK"
    assert not bench.emulator.outputs_on()["SMU1"]


def test_combined_user_mode_example(bench):
    q = bench.query
    for cmd in ("BC", "*RST", "US", "DI1, 0, 100e-9, 20", "MP 2, VS2", "DS2, 5"):
        assert q(cmd) == "ACK", (cmd, q(":ERROR:LAST:GET"))
    assert bench.emulator.outputs_on()["SMU2"]
    bench.sleep(1)
    voltages = []
    for _ in range(50):
        voltages.append(q("TV1"))
        bench.sleep(0.05)
    assert all(v.startswith("NAV") for v in voltages)
    assert [float(v[3:]) for v in voltages] == pytest.approx([100e-9 * R] * 50)
    assert q("DI1") == "ACK" and q("DS2") == "ACK"
    assert not any(bench.emulator.outputs_on().values())


def test_source_voltage_from_a_voltage_source(bench):
    q = bench.query
    for cmd in ("BC", "*RST", "US", "MP 1, VS1", "DS1, 5"):
        assert q(cmd) == "ACK", (cmd, q(":ERROR:LAST:GET"))
    bench.sleep(1)
    result = q("TV1")
    assert float(result[3:]) == pytest.approx(5.0)
    assert q("DS1") == "ACK"
    assert not bench.emulator.outputs_on()["SMU1"]
