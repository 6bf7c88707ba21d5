"""The writer's rows are the text pandas' to_csv writes, to the byte (PyMeasure and pandas
read them back), whatever the magnitudes, NaNs and column kinds."""
import numpy as np
import pandas as pd
import pytest

from labqc.chunk import ROW, from_columns
from labqc.results import COLUMNS, SEGMENTS, LINE_BREAK, format_rows, select


def pandas_text(frame: pd.DataFrame) -> str:
    return frame.to_csv(header=False, index=False, na_rep="nan", lineterminator=LINE_BREAK)


def random_columns(n: int) -> dict:
    rng = np.random.default_rng(n)
    floats = rng.standard_normal((7, n)) * 10.0 ** rng.integers(-15, 15, (7, n))
    if n:
        floats[0, :: max(n // 3, 1)] = np.nan
        floats[1, 0] = np.inf
        floats[2, 0] = -0.0
    return {**{c: floats[k] for k, c in enumerate(COLUMNS[:7])},
            "Compliance": rng.random(n) < 0.3, "Cycle": rng.integers(1, 10**7, n),
            "Segment": rng.choice(np.array(SEGMENTS, dtype=object), n),
            "Pulse": rng.integers(-1, 10**6, n)}


@pytest.mark.parametrize("n", [0, 1, 7, 5000])
def test_rows_are_what_pandas_writes(n):
    columns = random_columns(n)
    rows = from_columns(columns)
    assert rows.dtype == ROW
    assert format_rows(rows) == pandas_text(pd.DataFrame(columns, columns=list(COLUMNS)))


def test_text_that_needs_quoting_is_quoted_as_pandas_does():
    columns = {"a": np.array([1.5, 2.0]), "note": np.array(['a,b', 'say "hi"'])}
    text = format_rows(from_columns(columns))
    assert text == pandas_text(pd.DataFrame(columns)) and '"a,b"' in text


def test_select_keeps_rows_already_in_order_and_reorders_otherwise():
    rows = from_columns({c: v[:3] for c, v in random_columns(3).items()})
    assert select(rows) is rows
    shuffled = rows[list(reversed(COLUMNS))]
    assert select(shuffled).dtype.names == COLUMNS
    assert format_rows(select(shuffled)) == format_rows(rows)
    with pytest.raises(ValueError, match="lack the column"):
        select(rows[list(COLUMNS[:-1])])
    with pytest.raises(TypeError, match="structured"):
        select(pd.DataFrame({c: [0] for c in COLUMNS}))
