"""The simulated 4200A-SCS against code written for, and run on, real 4200As: their
commands, and their parsing of the replies.

Sources:

- ``pymeasure/pymeasure``, ``pymeasure/instruments/keithley/keithley4200.py`` and
  ``tests/instruments/keithley/test_keithley4200_with_device.py`` (run on a 4200A over LAN
  with all DUTs disconnected): PyMeasure's own driver is used here unchanged, and the test's
  sequence is repeated on SMU2 (open circuit in the simulated lab): the status byte reads
  NONE after BC and after a DV/DI, DATA_READY after a TV/TI; the setting is re-applied
  before the other quantity is measured; open terminals read ~0 A, or the voltage compliance.
- ``Cava3/Py4200A``, ``src/instrcomms.py`` (``hasError``: ``:ERROR:LAST:GET`` not in ``("", "\\n")``),
  ``src/KI4200A.py`` (``scan``: ``*OPT?`` split on ``,``; RPM entries ``PMU1RPM1-n``) and
  ``src/results/Measurement.py`` (``float(RD ...)``, a reading is ready when it is not 0.0).
- ``hephy-dd/diode-measurement``, ``diode_measurement/driver/k4215.py`` and
  ``tests/test_driver_k4215.py``: ``*IDN?`` as ``KEITHLEY INSTRUMENTS,KI4200A,<serial>,V1.xx``,
  an empty ``:ERROR:LAST:GET`` for no error, ``KXCI command error. (-992)`` for an unknown command.
"""
from __future__ import annotations

import re

import pytest
from pymeasure.instruments.keithley import Keithley4200
from pymeasure.instruments.keithley.keithley4200 import StatusCode

from kxci_bench import KxciBench


@pytest.fixture(scope="module")
def bench():
    b = KxciBench()
    yield b
    b.close()


@pytest.fixture(scope="module")
def keithley4200():
    own = KxciBench()
    own.inst.close()  # the simulated KXCI port serves one client at a time
    instr = Keithley4200(own.resource, visa_library="@py", timeout=5000)
    instr.clear()
    yield instr
    instr.adapter.close()
    own.server.stop()


# --- pymeasure's driver and its with-device test --------------------------------------------

def test_pymeasure_identifies_and_lists_the_options(keithley4200):
    assert "KI4200" in keithley4200.id
    assert type(keithley4200.status) is StatusCode
    options = keithley4200.options
    assert type(options) is list and all(type(element) is str for element in options)
    assert {1, 2, 3, 4} <= {int(k.removeprefix("smu")) for k in vars(keithley4200) if re.fullmatch(r"smu\d", k)}


@pytest.mark.parametrize("voltage", [1, 20.65, -3.27, 43.1, 1.2e1, -99.7, 0])
def test_pymeasure_voltage_on_open_terminals(keithley4200, voltage):
    keithley4200.clear()
    assert keithley4200.status == StatusCode.NONE
    keithley4200.smu2.voltage_setpoint = (0, voltage, 1e-3)
    assert keithley4200.status == StatusCode.NONE
    got = keithley4200.smu2.voltage
    assert keithley4200.status == StatusCode.DATA_READY
    assert got == pytest.approx(voltage, rel=1e-3, abs=1e-4)
    keithley4200.smu2.voltage_setpoint = (0, voltage, 1e-3)  # again before the other quantity
    got = keithley4200.smu2.current
    assert keithley4200.status == StatusCode.DATA_READY
    assert abs(got) == pytest.approx(0, rel=1e-3, abs=1e-4)
    keithley4200.clear()


@pytest.mark.parametrize("current", [1e-3, -0.0256, 1.467e-2, 1.243e-6])
def test_pymeasure_current_on_open_terminals(keithley4200, current):
    compliance = 1
    keithley4200.clear()
    assert keithley4200.status == StatusCode.NONE
    keithley4200.smu2.current_setpoint = (0, current, compliance)
    assert keithley4200.status == StatusCode.NONE
    got = keithley4200.smu2.current
    assert keithley4200.status == StatusCode.DATA_READY
    assert got == pytest.approx(0, abs=1e-6)
    keithley4200.smu2.current_setpoint = (0, current, compliance)
    got = keithley4200.smu2.voltage
    assert keithley4200.status == StatusCode.DATA_READY
    assert abs(got) == pytest.approx(compliance, rel=1e-3, abs=1e-4)  # open terminals: the compliance
    keithley4200.smu2.disable()
    keithley4200.clear()


# --- Py4200A ------------------------------------------------------------------------------------

def test_py4200a_error_check_scan_and_readings(bench):
    q = bench.query
    has_error = lambda: q(":ERROR:LAST:GET") not in ("", "\n")  # noqa: E731  (instrcomms.hasError)
    for cmd in ("BC", ":ERROR:LAST:CLEAR", "*RST"):
        q(cmd)
    assert not has_error()
    brand, model, serial, version = q("*IDN?").split(",")[:4]
    assert (brand, model) == ("KEITHLEY INSTRUMENTS", "KI4200A")
    equipped = q("*OPT?").split(",")
    assert not has_error()
    rpms = [name for name in equipped if "PMU" in name.upper() and "RPM" in name.upper()]
    assert rpms == ["PMU1RPM1-1", "PMU1RPM1-2"]
    assert [int(name[-3] + name[-1]) for name in rpms] == [11, 12]  # PMU_RPM slot numbers
    for cmd in ("DE", "CH1, 'V1', 'I1', 1, 1", "SS", "VL1, 1, 1e-3, 0.1, 0.2, 0.3", "SM", "DM2",
                "LI 'I1'", "MD", "ME1"):
        q(cmd)
    assert not has_error()
    bench.wait_sp()
    readings, index = [], 1
    while (value := float(q(f"RD 'I1', {index}"))) != 0.0:  # Measurement.isResultReady / getResultAt
        readings.append(value)
        index += 1
    assert readings == pytest.approx([1e-5, 2e-5, 3e-5])
    q("XX1")
    assert has_error()
    q(":ERROR:LAST:CLEAR")
    assert not has_error()


# --- hephy-dd diode-measurement -----------------------------------------------------------------

def next_error(response: str) -> tuple[int, str]:
    """K4215.next_error's parsing of a :ERROR:LAST:GET reply."""
    if len(response.strip()) == 0:
        return 0, "No error"
    if "(" in response and ")" in response:
        code_str = response.split("(")[-1].split(")")[0]
        return int(code_str), response.split("(")[0].strip().rstrip(".")
    return -1, response.strip()


def test_hephy_identity_and_error_replies(bench):
    q = bench.query
    assert re.fullmatch(r"KEITHLEY INSTRUMENTS,KI4200A,\d+,V1\.\d+", q("*IDN?"))
    q("*RST")
    q(":ERROR:LAST:CLEAR")
    assert next_error(q(":ERROR:LAST:GET")) == (0, "No error")
    assert q("XX1") == "ERROR"
    code, message = next_error(q(":ERROR:LAST:GET"))
    assert code == -992 and message.startswith("KXCI command error")
    q(":ERROR:LAST:CLEAR")
