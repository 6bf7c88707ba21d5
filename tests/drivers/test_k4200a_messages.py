"""The driver's KXCI messages (instruments/kxci_messages.py) against the spellings in
Tektronix's own KXCI examples, written out here as the examples send them.

Sources (repository ``tektronix/keithley``, folder
``Instrument_Examples/Model_4200A/KXCI_Examples/``):
- ``PMU/simple segarb pulse without plotting.py``: ``:PMU:INIT 1``,
  ``:PMU:RPM:CONFIGURE PMU1-1, 0``, ``:PMU:MEASURE:RANGE 1, 2, 1e-6``,
  ``:PMU:SARB:SEQ:TIME 1, 1, 1e-6, 1e-7, 1e-6, 1e-7, 1e-6``, ``:PMU:SARB:WFM:SEQ:LIST 1, 1, 1``,
  ``:PMU:OUTPUT:STATE 1, 1``, ``:PMU:EXECUTE``, ``:PMU:TEST:STATUS?``, ``:PMU:DATA:COUNT? 1``,
  ``:PMU:DATA:GET 1, {start_point}, 2048``, ``:PMU:OUTPUT:STATE 1, 0``;
- ``PMU/1 chan pulse train.py``: ``:PMU:INIT 0``, ``:PMU:PULSE:TRAIN 1, 0.0, 5.0``,
  ``:PMU:PULSE:BURST:COUNT 1``;
- ``SMU/User Mode/Combined user mode example.py``: ``US``, ``DI1, 0, 100e-9, 20``;
- ``SMU/User Mode/Source voltage and measure current.py``: ``TI1``, ``DV1``;
- ``SMU/System Mode/List sweep.py``: ``DE``, ``SS``, ``VL1,1, 0.01,...``, ``HT 0``, ``DT 0.2``,
  ``SM``, ``MD``, ``ME1``, ``SP``;
- ``SMU/System Mode/4 SMUs 0V.py``: ``CH 1, 'AV', 'AI', 1, 3`` (our names are ``V1``/``I1``),
  ``NR 3``, ``RG 1, 100e-9``;
- ``SMU/System Mode/Linear sweep without plotting.py``: ``SM DM2``, ``VC3, 0, 100e-3``.

KXCI accepts arguments glued on or after a space and spaces after commas
(docs/keithley4200a.md), so both sides are compared field by field, numbers by value.
"""
from __future__ import annotations

import re
import string

import pytest

from labqc.instruments.kxci_messages import SENDS, msg
from labqc.instruments.sim.kxci_commands import COMMANDS


def fields(message: str) -> tuple[str, list]:
    """(command word, arguments) of one KXCI command, numbers as floats."""
    text = message.strip()
    m = re.match(r"([:*][A-Z:?*]+|[A-Z]{2})\s*(.*)$", text)
    assert m, message
    word, rest = m.groups()
    args = [a.strip() for a in rest.split(",")] if rest.strip() else []
    out = []
    for a in args:
        try:
            out.append(float(a))
        except ValueError:
            out.append(a)
    return word, out


VENDOR = [
    (":PMU:INIT 1", msg("pmu_init", mode=1)),
    (":PMU:INIT 0", msg("pmu_init", mode=0)),
    (":PMU:RPM:CONFIGURE PMU1-1, 0", msg("pmu_rpm_to_pmu", ch=1)),
    (":PMU:MEASURE:RANGE 1, 2, 1e-6", msg("pmu_measure_range", ch=1, amps=1e-6)),
    (":PMU:SARB:SEQ:TIME 1, 1, 1e-6, 1e-7, 1e-6, 1e-7, 1e-6",
     msg("pmu_sarb_values", what="TIME", ch=1, seq=1, values="1e-06,1e-07,1e-06,1e-07,1e-06")),
    (":PMU:SARB:WFM:SEQ:LIST 1, 1, 1", msg("pmu_sarb_list", ch=1, entries="1,1")),
    (":PMU:OUTPUT:STATE 1, 1", msg("pmu_output", ch=1, on=True)),
    (":PMU:OUTPUT:STATE 1, 0", msg("pmu_output", ch=1, on=False)),
    (":PMU:EXECUTE", msg("pmu_execute")),
    (":PMU:TEST:STATUS?", msg("pmu_running")),
    (":PMU:DATA:COUNT? 1", msg("pmu_count", ch=1)),
    (":PMU:DATA:GET 1, 2048, 2048", msg("pmu_get", ch=1, start=2048, count=2048)),
    (":PMU:PULSE:TRAIN 1, 0.0, 5.0", msg("pmu_train", ch=1, base=0.0, amplitude=5.0)),
    (":PMU:PULSE:BURST:COUNT 1", msg("pmu_burst", count=1)),
    ("US", msg("user_mode")),
    ("DI1, 0, 100e-9, 20", msg("user_source", source="I", ch=1, level=100e-9, compliance=20.0)),
    ("TI1", msg("test_current", ch=1)),
    ("DV1", msg("user_off", ch=1)),
    ("DE", msg("define_page")),
    ("SS", msg("source_page")),
    ("SM", msg("measure_page")),
    ("MD", msg("run_page")),
    ("VL1,1, 0.01,0.00000,0.01010", msg("list_sweep", source="V", ch=1, compliance=0.01, levels=[0.0, 0.0101])),
    ("VC3, 0, 100e-3", msg("constant", source="V", ch=3, level=0.0, compliance=0.1)),
    ("HT 0", msg("hold_time", seconds=0)),
    ("DT 0.2", msg("delay_time", seconds=0.2)),
    ("DM2", msg("display_list")),
    ("NR 3", msg("readings", count=3)),
    ("RG 1, 100e-9", msg("range_floor", ch=1, amps=100e-9)),
    ("ME1", msg("run_test")),
    ("SP", msg("status")),
]


@pytest.mark.parametrize("vendor, ours", VENDOR, ids=[v for v, _ in VENDOR])
def test_our_message_reads_as_the_vendor_example(vendor, ours):
    assert fields(ours) == fields(vendor)


def test_messages_the_examples_do_not_show_are_spelled_as_written_here():
    # From the manual's syntax as docs/keithley4200a.md quotes it.
    assert msg("channel", ch=1, mode=1, func=1) == "CH1,'V1','I1',1,1"
    assert msg("undefine", ch=2) == "CH2"
    assert msg("list_names", ch=1) == "LI 'I1','V1'"
    assert msg("data_out", name="CH1T") == "DO 'CH1T'"
    assert msg("integration", nplc=0.01) == "IT4,1,0,0.01"
    assert msg("standby_at_end", ch=1, on=True) == "ST 1,1"
    assert msg("exit_on_compliance", on=False) == "EC 0"
    assert msg("test_voltage", n=7) == "TV7"
    assert msg("pmu_times", ch=1, period=0.01, width=0.005, rise=1e-6, fall=1e-6) == \
        ":PMU:PULSE:TIMES 1,0.01,0.005,1e-06,1e-06,0"
    assert msg("pmu_load", ch=1, ohms=1e4) == ":PMU:LOAD 1,10000"
    assert msg("command_set") == "EM 1,0"


def test_every_word_the_driver_sends_is_a_command_of_the_simulated_4200a():
    words = set()
    for template in SENDS.values():
        names = {f for _, f, _, _ in string.Formatter().parse(template) if f}
        for source in ("V", "I"):
            example = {n: {"source": source, "what": "TIME", "name": "I1"}.get(n, 1) for n in names}
            words.add(fields(template.format(**example))[0])
    assert {"VL", "IL", "VC", "IC", "DV", "DI", ":PMU:SARB:SEQ:TIME"} <= words
    assert words <= set(COMMANDS), sorted(words - set(COMMANDS))
