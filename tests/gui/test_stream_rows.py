"""The dashboard's ingestion of the stream's typed chunk (gui/stream_buffer.chunk_from_rows):
the rows a run emits become the store's columns with no DataFrame in between."""
import numpy as np

from labqc.chunk import SEGMENTS, from_columns
from labqc.gui.stream_buffer import FIELDS, ColumnStore, chunk_from_rows


def emitted():
    return from_columns({"Time (s)": [0.0, 1.0, 2.0, 3.0], "Source (V|A)": [0.0, 0.1, 0.2, 0.1],
                         "Voltage (V)": [0.0, 0.1, 0.2, 0.1], "Current (A)": [0.0, 1e-5, 2e-5, 3e-6],
                         "G (S)": [np.nan, 1e-4, 1e-4, 3e-5], "G/G0": [np.nan, 1.29, 1.29, 0.39],
                         "G_corr/G0": [np.nan, 1.29, 1.29, 0.39], "Compliance": [False, False, True, False],
                         "Cycle": [1, 1, 1, 2], "Segment": ["set", "set", "reset", "decay"],
                         "Pulse": [-1, -1, 4, -1]})


def test_rows_become_store_columns_of_finite_g_only():
    chunk = chunk_from_rows(emitted())
    assert set(chunk) == set(FIELDS)
    assert chunk["t"].tolist() == [1.0, 2.0, 3.0]
    assert chunk["compliance"].tolist() == [False, True, False]
    assert chunk["cycle"].tolist() == [1, 1, 2] and chunk["pulse"].tolist() == [-1, 4, -1]
    # codes are positions in SEGMENTS; a name outside it ("decay") is -1
    assert chunk["segment"].tolist() == [SEGMENTS.index("set"), SEGMENTS.index("reset"), -1]
    for name, (_, dtype) in FIELDS.items():
        assert chunk[name].dtype == dtype and chunk[name].flags.c_contiguous


def test_one_row_chunks_fill_the_store_like_one_chunk():
    rows = emitted()
    one, many = ColumnStore(), ColumnStore()
    one.append(chunk_from_rows(rows))
    for k in range(len(rows)):
        many.append(chunk_from_rows(rows[k:k + 1]))
    assert len(one) == len(many) == 3
    for name in FIELDS:
        np.testing.assert_array_equal(one[name], many[name])
