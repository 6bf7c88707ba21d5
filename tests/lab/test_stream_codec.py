"""A chunk's wire form (labqc.procedures.station_stream): what goes in comes out."""
from __future__ import annotations

import json

import numpy as np
from pyleco.core.data_message import DataMessage

from labqc.chunk import from_columns
from labqc.procedures.station_stream import decode, encode


def test_text_boolean_integer_and_missing_values_survive_the_wire():
    rows = from_columns({"Time (s)": [0.0, 0.5, 1.0, 1.5], "Voltage (V)": [0.0, 0.1, np.nan, -0.1],
                         "Segment": ["set", "reset", "read", "set"], "Compliance": [True, False, False, True],
                         "Cycle": [1, 1, 2, 2]})
    body, text, flags = encode(rows)
    header = {"kind": "chunk", "rows": len(rows), "columns": list(rows.dtype.names), "text": text, "bool": flags}
    wire = DataMessage("st", data=json.dumps(header), additional_payload=[body.tobytes()]).to_frames()
    _, back = decode(DataMessage.from_frames(*wire))
    assert back.dtype.names == rows.dtype.names
    assert back["Segment"].tolist() == ["set", "reset", "read", "set"]
    assert back["Compliance"].tolist() == [True, False, False, True]
    assert back["Cycle"].tolist() == [1, 1, 2, 2]
    np.testing.assert_array_equal(back["Voltage (V)"], rows["Voltage (V)"])


def test_the_end_of_a_run_carries_no_rows():
    wire = DataMessage("st", data=json.dumps({"kind": "end", "status": "finished", "rows": 7})).to_frames()
    header, rows = decode(DataMessage.from_frames(*wire))
    assert rows is None and header["rows"] == 7
