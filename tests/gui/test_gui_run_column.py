"""Cycle, Segment and Pulse kept as runs in the dashboard's store (labqc.gui.run_column):
every row read back as appended, from any row on, whatever the chunking; a column whose
value changes every row or two turns plain and costs no more than a plain column."""
import numpy as np
import pytest

from labqc.gui.run_column import RunColumn
from labqc.gui.stream_buffer import RUNS, ColumnStore


def appended(column: RunColumn, values: np.ndarray, rng) -> None:
    cuts = np.sort(rng.choice(np.arange(1, values.size), size=min(40, values.size - 1), replace=False))
    for part in np.split(values, cuts):
        column.append(part)


@pytest.mark.parametrize("mean_run", [1.3, 50.0, 5000.0])
def test_rows_read_back_from_any_row(mean_run):
    rng = np.random.default_rng(int(mean_run * 10))
    lengths = rng.geometric(1 / mean_run, size=max(int(60_000 / mean_run), 3))
    values = np.repeat(rng.integers(-1, 4, size=lengths.size).astype(np.int32), lengths)
    column = RunColumn(np.int32)
    appended(column, values, rng)
    assert len(column) == values.size
    for first in [0, 1, values.size // 3, values.size - 1, values.size, *rng.integers(0, values.size, 20)]:
        np.testing.assert_array_equal(column.since(first), values[first:])
    changes = int(np.count_nonzero(values[1:] != values[:-1]))
    assert column.plain == (changes > values.size * 4 / 12)  # runs of int32 cost 12 bytes each
    assert column.nbytes <= 1.5 * values.nbytes + 12 * 64  # never much more than the plain column


def test_long_runs_cost_bytes_per_run_not_per_row():
    column = RunColumn(np.int32)
    for cycle in range(1, 101):
        column.append(np.full(14_000, cycle, np.int32))
    assert not column.plain and column.nbytes < 4_000
    np.testing.assert_array_equal(np.unique(column.since(0), return_counts=True)[1], np.full(100, 14_000))


def test_store_clears_its_runs():
    store = ColumnStore()
    chunk = {"t": np.arange(5.0), "v": np.ones(5, np.float32), "i": np.ones(5, np.float32),
             "g": np.ones(5, np.float32), "compliance": np.zeros(5, bool), "cycle": np.arange(5, dtype=np.int32),
             "segment": np.zeros(5, np.int8), "pulse": np.full(5, -1, np.int32)}
    store.append(chunk)
    store.clear()
    store.append({**chunk, "cycle": np.full(5, 7, np.int32)})
    assert len(store) == 5
    for name in RUNS:
        assert store[name].size == 5
    np.testing.assert_array_equal(store.since("cycle", 2), [7, 7, 7])
