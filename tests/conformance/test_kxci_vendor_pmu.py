"""Tektronix's own KXCI PMU example sequences, sent to the simulated 4200A-SCS through
PyVISA (pyvisa-py, loopback socket), with the data parsed the way the examples parse it:
``:PMU:TEST:STATUS?`` polled until ``int(reply) == 0``, ``:PMU:DATA:COUNT?`` as ``int``,
``:PMU:DATA:GET`` split on ``;`` into points and on ``,`` into values, V/I/T as ``float``
and the status as a string.

Sources (repository ``tektronix/keithley``, folder
``Instrument_Examples/Model_4200A/KXCI_Examples/PMU/``):

- ``1 chan pulse train.py``: standard pulse, waveform capture on a fixed 10 uA range, data
  fetched in pages of 2048 with ``:PMU:DATA:GET 1, start, 2048``.
- ``pulse vds-id with LLEC without plotting.py``: ``:PMU:STEP:PULSE:AMPLITUDE`` with a base,
  ``:PMU:SWEEP:PULSE:AMPLITUDE``, LLEC on channel 2's 200 mA range, ``:PMU:DATA:GET ch``.
- ``simple segarb pulse without plotting.py`` and ``pulse IV segARB without plotting.py``:
  Segment Arb sequences with waveform and spot-mean measure types.

The 4225-PMU's fixed range is a measure range, not a limit (4200A-SCS Reference Manual:
overflow is status bits 10-11): the 5 V pulses of the first example into the lab's 10 kohm
pass ~500 uA through the 10 uA range and must come back flagged, not clipped to 10 uA.
"""
from __future__ import annotations

import pandas as pd
import pytest

from kxci_bench import R, KxciBench


@pytest.fixture(scope="module")
def bench():
    b = KxciBench()
    yield b
    b.close()


def fetch(bench: KxciBench, ch: int = 1) -> pd.DataFrame:
    """The example's loop over pages of 2048 points, into its DataFrame."""
    points = int(bench.query(f":PMU:DATA:COUNT? {ch}"))
    frames = []
    for start_point in range(0, points, 2048):
        response = bench.query(f":PMU:DATA:GET {ch}, {start_point}, 2048")
        coords2d = [value.split(",") for value in response.split(";")]
        frames.append(pd.DataFrame(coords2d, columns=["Voltage", "Current", "Timestamp", "Status"]))
    df = pd.concat(frames).reset_index(drop=True)
    return df.astype({"Voltage": float, "Current": float, "Timestamp": float, "Status": str})


def test_one_channel_pulse_train_in_waveform_capture(bench):
    q = bench.query
    for cmd in (":PMU:INIT 0", ":PMU:RPM:CONFIGURE PMU1-1, 0", ":PMU:MEASURE:RANGE 1, 2, 10e-6",
                ":PMU:PULSE:TRAIN 1, 0.0, 5.0", ":PMU:PULSE:TRAIN 2, 0, 0", ":PMU:MEASURE:MODE 2",
                ":PMU:PULSE:TIMES 1, 100e-6, 50e-6, 5e-6, 5e-6", ":PMU:PULSE:BURST:COUNT 1",
                ":PMU:OUTPUT:STATE 1, 1", ":PMU:EXECUTE"):
        assert q(cmd) == "ACK", (cmd, q(":ERROR:LAST:GET"))
    bench.wait_pmu()
    df = fetch(bench)
    assert len(df) > 100 and df["Timestamp"].is_monotonic_increasing
    assert df["Voltage"].max() == pytest.approx(5.0 * (1e6 + 50) / 1e6 * R / (R + 50), rel=1e-3)  # 1 Mohm load
    status = df["Status"].map(lambda s: int(s, 16))
    top = df["Voltage"] > 4.9
    assert (status[top] & (1 << 10)).all()  # ~500 uA overflows the 10 uA range ...
    assert not (status & (0xF << 12)).any()  # ... which is no compliance and no limit
    assert df["Current"][top].to_numpy() == pytest.approx(10e-6)  # the converter at full scale
    assert q(":PMU:OUTPUT:STATE 1, 0") == "ACK"
    assert not bench.emulator.outputs_on()["PMU1-1"]


def test_pulse_vds_id_with_llec(bench):
    q = bench.query
    for cmd in (":PMU:INIT 0", ":PMU:RPM:CONFIGURE PMU1-1, 0", ":PMU:RPM:CONFIGURE PMU1-2, 0",
                ":PMU:MEASURE:MODE 1", ":PMU:LLEC:CONFIGURE 2, 1", ":PMU:STEP:PULSE:AMPLITUDE 1, 2, 4, 0.5, 0",
                ":PMU:MEASURE:RANGE 1, 2, 0.01", ":PMU:SWEEP:PULSE:AMPLITUDE 2, 0, 5, 0.2, 0, 0",
                ":PMU:PULSE:TIMES 2, 1e-6, 5e-7, 1e-7, 1e-7, 0", ":PMU:MEASURE:RANGE 2, 2, 0.2",
                ":PMU:OUTPUT:STATE 1, 1", ":PMU:OUTPUT:STATE 2, 1", ":PMU:EXECUTE"):
        assert q(cmd) == "ACK", (cmd, q(":ERROR:LAST:GET"))
    bench.wait_pmu()
    count_1, count_2 = int(q(":PMU:DATA:COUNT? 1")), int(q(":PMU:DATA:COUNT? 2"))
    assert count_1 == count_2 == 5 * 26  # 5 steps of channel 1 times 26 sweep points of channel 2
    datachan2 = [p.split(",") for p in q(":PMU:DATA:GET 2").split(";")]
    assert len(datachan2) == count_2 and {len(p) for p in datachan2} == {8}  # VH,IH,TH,SH,VL,IL,TL,SL
    assert int(datachan2[0][3], 16) >> 28 & 1  # LLEC enabled on channel 2
    assert [float(p[0]) for p in datachan2[:26]] == pytest.approx([0.2 * k for k in range(26)], abs=1e-9)
    datachan1 = [p.split(",") for p in q(":PMU:DATA:GET 1").split(";")]
    assert [float(p[0]) for p in datachan1[::26]] == pytest.approx(
        [v * R / (R + 50) * (1e6 + 50) / 1e6 for v in (2, 2.5, 3, 3.5, 4)], rel=1e-5)  # six digits sent
    for cmd in (":PMU:OUTPUT:STATE 1, 0", ":PMU:OUTPUT:STATE 2, 0"):
        assert q(cmd) == "ACK"


def test_llec_where_the_manual_says_it_does_not_work_is_refused(bench):
    """The same LLEC, but on channel 1's RPM range (10 uA) or in Segment Arb."""
    q = bench.query
    for cmd in (":PMU:INIT 0", ":PMU:RPM:CONFIGURE PMU1-1, 0", ":PMU:LLEC:CONFIGURE 1, 1",
                ":PMU:MEASURE:RANGE 1, 2, 10e-6", ":PMU:PULSE:TRAIN 1, 0.0, 1.0", ":PMU:OUTPUT:STATE 1, 1"):
        assert q(cmd) == "ACK"
    assert q(":PMU:EXECUTE") == "ERROR" and q(":ERROR:LAST:GET").endswith("(-967)")
    assert q(":PMU:INIT 1") == "ACK"
    assert q(":PMU:LLEC:CONFIGURE 1, 1") == "ERROR"
    assert q(":ERROR:LAST:CLEAR") == "ACK" and q(":ERROR:LAST:GET") == ""


def test_simple_segment_arb_pulse_in_waveform_capture(bench):
    q = bench.query
    for cmd in (":PMU:INIT 1", ":PMU:RPM:CONFIGURE PMU1-1, 0", ":PMU:RPM:CONFIGURE PMU1-2, 0",
                ":PMU:MEASURE:RANGE 1, 2, 1e-6", ":PMU:SARB:SEQ:TIME 1, 1, 1e-6, 1e-7, 1e-6, 1e-7, 1e-6",
                ":PMU:SARB:SEQ:STARTV 1, 1, 0, 0, 1, 1, 0", ":PMU:SARB:SEQ:STOPV 1, 1, 0, 1, 1, 0, 0",
                ":PMU:SARB:SEQ:MEAS:TYPE 1, 1, 2, 2, 2, 2, 2", ":PMU:SARB:SEQ:MEAS:START 1, 1, 0, 0, 0, 0, 0",
                ":PMU:SARB:SEQ:MEAS:STOP 1, 1, 1e-6, 1e-7, 1e-6, 1e-7, 1e-6", ":PMU:SARB:WFM:SEQ:LIST 1, 1, 1",
                ":PMU:OUTPUT:STATE 1, 1", ":PMU:EXECUTE"):
        assert q(cmd) == "ACK", (cmd, q(":ERROR:LAST:GET"))
    bench.wait_pmu()
    df = fetch(bench)
    assert len(df) > 10 and df["Timestamp"].is_monotonic_increasing
    assert df["Voltage"].max() > 0.9
    assert q(":PMU:OUTPUT:STATE 1, 0") == "ACK"


def test_pulse_iv_segment_arb_in_spot_mean(bench):
    q = bench.query
    for cmd in (":PMU:INIT 1", ":PMU:RPM:CONFIGURE PMU1-1, 0", ":PMU:MEASURE:RANGE 1, 2, 0.2",
                ":PMU:SARB:SEQ:STARTV 1, 1, 0, 1, 1, 1.5, 1.5, 0, 0", ":PMU:SARB:SEQ:STOPV 1, 1, 1, 1, 1.5, 1.5, 0, 0, 0",
                ":PMU:SARB:SEQ:TIME 1, 1, 50e-9, 100e-9, 20e-9, 150e-9, 50e-9, 500e-9, 130e-9",
                ":PMU:SARB:SEQ:MEAS:TYPE 1, 1, 0, 1, 0, 1, 0, 0, 0",
                ":PMU:SARB:SEQ:MEAS:START 1, 1, 0, 25e-9, 0, 50e-9, 0, 0, 0",
                ":PMU:SARB:SEQ:MEAS:STOP 1, 1, 0, 75e-9, 0, 100e-9, 0, 0, 0",
                ":PMU:SARB:WFM:SEQ:LIST 1, 1, 1", ":PMU:OUTPUT:STATE 1, 1", ":PMU:EXECUTE"):
        assert q(cmd) == "ACK", (cmd, q(":ERROR:LAST:GET"))
    bench.wait_pmu()
    assert int(q(":PMU:DATA:COUNT? 1")) == 2  # one point per measured segment
    points = [p.split(",") for p in q(":PMU:DATA:GET 1").split(";")]
    v, i = [float(p[0]) for p in points], [float(p[1]) for p in points]
    assert v == pytest.approx([1.0 * R / (R + 50) * (1e6 + 50) / 1e6, 1.5 * R / (R + 50) * (1e6 + 50) / 1e6], rel=1e-5)
    assert i == pytest.approx([v[0] / R, v[1] / R], rel=1e-5)
    assert q(":PMU:OUTPUT:STATE 1, 0") == "ACK"
