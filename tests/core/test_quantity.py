"""Values as typed and as shown: SI prefixes in and out, and what is shown reads back."""
import math

import numpy as np
import pytest

from labqc.quantity import format_quantity, parse_quantity


@pytest.mark.parametrize("value, units, text", [
    (5e-3, "A", "5 mA"), (2e-5, "A", "20 µA"), (400e-6, "A", "400 µA"), (10e-9, "A", "10 nA"),
    (1e-12, "A", "1 pA"), (0.1, "V", "0.1 V"), (3.0, "V", "3 V"), (-1.5, "V", "-1.5 V"),
    (1e9, "Ohm", "1 GOhm"), (0.0, "Ohm", "0 Ohm"), (1000.0, "s", "1000 s"), (1e8, "s", "1e+08 s"),
    (2e-3, "s", "2 ms"), (10.0, "mV", "10 mV"), (90.0, "nA/s", "90 nA/s"), (0.01, None, "0.01"),
    (3, None, "3"), (0.25, "G0", "0.25 G0"), (0.005, "G0", "0.005 G0"),
])
def test_format_quantity(value, units, text):
    assert format_quantity(value, units) == text


@pytest.mark.parametrize("units", ["A", "V", "s", "Ohm", "mV", "nA/s", None])
def test_what_is_shown_reads_back(units):
    for value in np.geomspace(1e-12, 1e9, 64):
        for v in (value, -value, float(f"{value:.3g}")):
            assert math.isclose(parse_quantity(format_quantity(v, units), units), v, rel_tol=1e-5)


@pytest.mark.parametrize("text, units, value", [
    ("5mA", "A", 5e-3), ("400u", "A", 400e-6), ("1.5 V", "V", 1.5), ("20 µA", "A", 2e-5),
    ("1 kOhm", "Ohm", 1e3), ("1kΩ", "Ohm", 1e3), ("2 V", "mV", 2000.0), ("7", "mV", 7.0),
    ("1 ms", "s", 1e-3), ("0.5", None, 0.5),
])
def test_parse_quantity(text, units, value):
    assert math.isclose(parse_quantity(text, units), value, rel_tol=1e-12)


@pytest.mark.parametrize("text, units, words", [
    ("lots", "A", "is not a number"), ("5 V", "A", "cannot convert to A"), ("5 mA", None, "a plain number"),
])
def test_parse_quantity_refuses(text, units, words):
    with pytest.raises(ValueError, match=words):
        parse_quantity(text, units)
