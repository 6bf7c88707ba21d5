"""The writer's rows are the text pandas' to_csv writes, to the byte (PyMeasure and pandas
read them back), whatever the magnitudes, NaNs and column kinds."""
import numpy as np
import pandas as pd
import pytest

from labqc.results import COLUMNS, SEGMENTS, LINE_BREAK, as_frame, format_rows


def pandas_text(frame: pd.DataFrame) -> str:
    return frame.to_csv(header=False, index=False, na_rep="nan", lineterminator=LINE_BREAK)


@pytest.mark.parametrize("n", [0, 1, 7, 5000])
def test_rows_are_what_pandas_writes(n):
    rng = np.random.default_rng(n)
    floats = rng.standard_normal((7, n)) * 10.0 ** rng.integers(-15, 15, (7, n))
    if n:
        floats[0, :: max(n // 3, 1)] = np.nan
        floats[1, 0] = np.inf
        floats[2, 0] = -0.0
    frame = pd.DataFrame({**{c: floats[k] for k, c in enumerate(COLUMNS[:7])},
                          "Compliance": rng.random(n) < 0.3, "Cycle": rng.integers(1, 10**7, n),
                          "Segment": rng.choice(np.array(SEGMENTS, dtype=object), n),
                          "Pulse": rng.integers(-1, 10**6, n)}, columns=list(COLUMNS))
    assert format_rows(frame) == pandas_text(frame)


def test_text_that_needs_quoting_is_quoted_as_pandas_does():
    frame = pd.DataFrame({"a": [1.5, 2.0], "note": ['a,b', 'say "hi"']})
    assert format_rows(frame) == pandas_text(frame) and '"a,b"' in format_rows(frame)


def test_as_frame_keeps_a_frame_already_in_order_and_reorders_otherwise():
    frame = pd.DataFrame({c: [0] for c in COLUMNS})
    assert as_frame(frame) is frame
    shuffled = frame[list(reversed(COLUMNS))]
    assert tuple(as_frame(shuffled).columns) == COLUMNS
    with pytest.raises(ValueError, match="lack the column"):
        as_frame(frame.drop(columns=["Pulse"]))
