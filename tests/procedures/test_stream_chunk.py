"""The stream's one typed chunk (labqc.chunk): what reading_rows builds from a driver's
READING array, and what each subscriber makes of it. Expected values come from the
reading arrays themselves (G = I/V, G0 = 2e²/h) and from labqc.results' list of columns."""
import json
import math

import numpy as np
import pandas as pd
import pytest
from pyleco.core.data_message import DataMessage

from labqc import chunk as rows_of
from labqc.instruments.smu import KIND_POINT, KIND_PULSE, KIND_READ, READING
from labqc.procedures.base import reading_rows
from labqc.procedures.retention import HoldTrace
from labqc.procedures.station_stream import decode, encode
from labqc.procedures.stop_watch import StopWatch
from labqc.results import COLUMNS, ResultsWriter, read_data

G0 = 2 * 1.602176634e-19 ** 2 / 6.62607015e-34  # exact SI constants, not labqc's


def readings(v, i, *, t=None, kind=KIND_POINT, compliance=False, index=None):
    a = np.zeros(len(v), READING)
    a["v"] = a["source"] = v
    a["i"] = i
    a["t"] = np.arange(len(v)) * 1.0 + 100.0 if t is None else t
    a["kind"] = kind
    a["compliance"] = compliance
    a["index"] = np.arange(len(v)) if index is None else index
    return a


def test_a_chunk_has_the_results_columns_with_their_kinds():
    assert rows_of.ROW.names == COLUMNS
    kinds = {name: rows_of.ROW[name].kind for name in COLUMNS}
    assert all(kinds[c] == "f" for c in COLUMNS if "(" in c or "/G0" in c)  # every column with a unit
    assert (kinds["Compliance"], kinds["Cycle"], kinds["Pulse"], kinds["Segment"]) == ("b", "i", "i", "U")
    rows = reading_rows(readings([0.1], [1e-5]))
    assert rows.dtype == rows_of.ROW and rows_of.is_rows(rows)


def test_one_reading_makes_one_row_with_its_own_values():
    reading = readings([0.1], [3.0e-5], t=[12.5], compliance=True)
    rows = reading_rows(reading, t0=2.5, cycle=7, segment="hold")
    assert len(rows) == 1
    row = rows[0]
    assert row["Time (s)"] == 10.0 and row["Voltage (V)"] == 0.1 and row["Current (A)"] == 3.0e-5
    assert row["G (S)"] == pytest.approx(3.0e-4, rel=1e-12)
    assert row["G/G0"] == pytest.approx(3.0e-4 / G0, rel=1e-9)
    assert row["Compliance"] and row["Cycle"] == 7 and row["Segment"] == "hold" and row["Pulse"] == -1


def test_series_resistance_only_changes_the_corrected_column():
    reading = readings([0.1, 0.2], [1e-5, 4e-5])
    plain, corrected = reading_rows(reading), reading_rows(reading, r_series=1000.0)
    for name in COLUMNS:
        if name != "G_corr/G0":
            assert plain[name].tolist() == corrected[name].tolist()
    g = np.array([1e-4, 2e-4])
    assert plain["G_corr/G0"] == pytest.approx(g / G0, rel=1e-9)
    assert corrected["G_corr/G0"] == pytest.approx(1 / (1 / g - 1000.0) / G0, rel=1e-9)


def test_a_segment_name_too_long_for_the_column_is_refused_not_cut():
    with pytest.raises(ValueError, match="longer than"):
        reading_rows(readings([0.1], [1e-5]), segment="retention-hold")
    rows = reading_rows(readings([0.1, 0.1], [1e-5, 1e-5]), segment=np.array(["forward", "reverse"]))
    assert rows["Segment"].tolist() == ["forward", "reverse"]


def test_pulse_and_read_readings_get_their_own_segment_and_number():
    kind = [KIND_PULSE, KIND_READ, KIND_POINT]
    rows = reading_rows(readings([1.5, 0.1, 0.1], [1e-3, 1e-5, 1e-5], kind=kind, index=[4, 4, 9]),
                        segment="set", read_segment="verify", pulse_offset=10)
    assert rows["Segment"].tolist() == ["pulse", "verify", "set"]
    assert rows["Pulse"].tolist() == [15, 15, -1]


def test_to_frame_gives_the_columns_in_order_with_their_values():
    rows = reading_rows(readings([0.0, 0.2], [0.0, 2e-5]), segment="read")
    frame = rows_of.to_frame(rows)
    assert list(frame.columns) == list(COLUMNS) and len(frame) == 2
    assert frame["Voltage (V)"].tolist() == [0.0, 0.2] and math.isnan(frame["G/G0"][0])
    assert frame["Segment"].tolist() == ["read", "read"] and frame["Compliance"].dtype == bool


def test_concat_keeps_order_and_an_empty_list_is_no_rows():
    a = reading_rows(readings([0.1], [1e-5], t=[1.0]))
    b = reading_rows(readings([0.2, 0.3], [1e-5, 1e-5], t=[2.0, 3.0]))
    both = rows_of.concat([a, b])
    assert both["Time (s)"].tolist() == [1.0, 2.0, 3.0] and both.dtype == rows_of.ROW
    assert len(rows_of.concat([])) == 0 and rows_of.concat([]).dtype == rows_of.ROW


def test_one_row_chunks_written_read_back_as_the_readings(tmp_path):
    from labqc.procedures import Retention
    proc = Retention()
    proc.evaluate_metadata()
    v, i = np.array([0.1, 0.1, 0.1]), np.array([1e-5, 2.5e-5, 7.75e-5])
    with ResultsWriter(tmp_path / "r.csv", proc) as w:
        for k in range(3):
            w.write(reading_rows(readings(v[k:k + 1], i[k:k + 1], t=[float(k)]), segment="hold"))
    back = pd.read_csv(tmp_path / "r.csv", comment="#")
    assert list(back.columns) == list(COLUMNS)
    assert back["Current (A)"].tolist() == i.tolist() and back["Time (s)"].tolist() == [0.0, 1.0, 2.0]
    assert back["G/G0"].to_numpy() == pytest.approx(i / v / G0, rel=1e-9)
    assert read_data(tmp_path / "r.csv")["Segment"].tolist() == ["hold"] * 3


def test_the_wire_gives_back_the_same_typed_rows():
    rows = reading_rows(readings([0.1, -0.2, 0.0], [1e-5, -4e-5, 0.0], compliance=[True, False, False]),
                        cycle=3, segment="reset")
    body, text, flags = encode(rows)
    header = {"kind": "chunk", "rows": len(rows), "columns": list(rows.dtype.names), "text": text, "bool": flags}
    wire = DataMessage("st", data=json.dumps(header), additional_payload=[body.tobytes()]).to_frames()
    _, back = decode(DataMessage.from_frames(*wire))
    assert back.dtype == rows_of.ROW
    for name in COLUMNS:
        assert back[name].tolist() == pytest.approx(rows[name].tolist(), nan_ok=True) \
            if rows_of.ROW[name].kind == "f" else back[name].tolist() == rows[name].tolist()


def test_hold_trace_from_one_row_chunks_equals_one_big_chunk():
    rng = np.random.default_rng(5)
    g = np.round(rng.uniform(0.4, 3.2, 400) * 2) / 2 + rng.normal(0, 0.05, 400)
    reading = readings(np.full(400, 0.1), g * G0 * 0.1, compliance=rng.random(400) < 0.1)
    rows = reading_rows(reading, segment="hold")
    one, many = HoldTrace(), HoldTrace()
    one.append(rows)
    for k in range(len(rows)):
        many.append(rows[k:k + 1])
    assert vars(one) == vars(many)
    assert one.samples == 400 and one.compliance_hits == int(reading["compliance"].sum())
    assert one.g_min == pytest.approx(g.min(), rel=1e-6) and one.g_max == pytest.approx(g.max(), rel=1e-6)


def test_stop_watch_takes_the_level_from_the_last_read_or_hold_row():
    watch = StopWatch()
    watch("batch", reading_rows(readings([0.1, 0.1], [1e-5, 2e-5]), segment="hold"))
    watch("batch", reading_rows(readings([1.0], [1e-3]), segment="set"))  # a ramp: not a level
    assert watch.seen().last_level == pytest.approx(2e-4 / G0, rel=1e-9)


def test_pulse_book_keeps_tops_and_reads_in_pulse_order_from_one_row_chunks():
    from labqc.procedures.pulse_train import PulseBook
    kind = np.tile([KIND_PULSE, KIND_READ], 6)
    index = np.repeat(np.arange(6), 2)
    current = np.where(kind == KIND_PULSE, -1e-3 * (1 + index), 1e-5 * (1 + index))
    rows = reading_rows(readings(np.where(kind == KIND_PULSE, -1.5, 0.1), current, kind=kind, index=index),
                        cycle=2, pulse_offset=100)
    whole, single = PulseBook(), PulseBook()
    whole.append(rows)
    for k in range(len(rows) - 1, -1, -1):  # backwards: the book sorts by pulse number
        single.append(rows[k:k + 1])
    for segment in ("pulse", "read"):
        assert whole.rows(segment).tolist() == single.rows(segment).tolist()
    tops, reads = whole.rows("pulse"), whole.rows("read")
    assert tops["Pulse"].tolist() == list(range(101, 107)) and (tops["Cycle"] == 2).all()
    assert tops["Current (A)"].tolist() == (-1e-3 * np.arange(1, 7)).tolist()
    assert reads["G/G0"] == pytest.approx(1e-5 * np.arange(1, 7) / 0.1 / G0, rel=1e-9)
    # far less than the rows themselves: what keeps a long train's memory near flat
    assert tops.nbytes + reads.nbytes < rows.nbytes / 3


def test_every_subscriber_sees_the_rows_as_measured_even_after_one_tried_to_change_them(tmp_path):
    from labqc.instruments.target import Target
    from labqc.procedures import Retention
    from labqc.procedures.runner import run_procedure

    def vandal(topic, payload):
        if topic == "batch":
            payload["G/G0"][:] = -1.0  # read-only: raises, the runner records it and goes on

    seen = []
    result = run_procedure(Retention(duration=5, interval=1, prepare="none"), tmp_path / "r.csv",
                           target=Target(preset="ohmic", seed=1), catalog=None,
                           listeners=[vandal, lambda t, p: t == "batch" and seen.append(np.array(p["G/G0"]))])
    assert result.ok and "read-only" in result.warnings[0]
    g = np.concatenate(seen)
    assert len(g) == result.rows == 5 and (g > 0).all()
    assert read_data(result.path)["G/G0"].tolist() == g.tolist()
