"""While rows stream in, the main plot is redrawn as a cached history plus a live tail
(labqc.gui.split_curve): what it draws (history and tail together) must be what a full
redraw of the same rows draws, against time (the envelope of every row) and against V
(the newest rows)."""
import numpy as np
import pytest

from labqc.gui.envelope import ColumnEnvelope
from labqc.gui.live_plots import MAIN
from labqc.gui.stream_buffer import SEGMENT_CODES

RATE = 2e4


def rows(start: int, n: int, rng) -> dict:
    k = np.arange(start, start + n)
    v = (1.5 + 1.5 * np.sin(k / 3000.0)).astype(np.float32)
    g = (2.0 + np.sin(k / 700.0) + 0.05 * rng.standard_normal(n)).astype(np.float32)
    return {"t": k / RATE, "v": v, "i": g * np.float32(7.748e-5) * v, "g": g,
            "compliance": np.zeros(n, bool), "cycle": np.ones(n, np.int32),
            "segment": np.full(n, SEGMENT_CODES["set"], np.int8), "pulse": np.full(n, -1, np.int32)}


def stream(window, qtbot, x_axis: str, r_series: float):
    rng = np.random.default_rng(4)
    state, plots = window.state, window.plots
    window.r_series.setValue(r_series)
    plots.set_x(x_axis)
    state.append(rows(0, 200_000, rng))
    plots.redraw(force=True)
    n = 200_000
    for _ in range(30):  # chunks between redraws, as the ticks see them (no forced redraw)
        state.queue(rows(n, 700, rng))
        n += 700
        state.fed_detector = state.fed_histogram = state.fed_raw = len(state.store)
        plots.redraw(groups=(MAIN,))
    assert not state.finished and len(state.store) == n
    return state, plots


@pytest.mark.parametrize("r_series", [0.0, 150.0])
def test_history_and_tail_against_time_draw_the_envelope_of_every_row(window, qtbot, r_series):
    state, plots = stream(window, qtbot, "Time", r_series)
    assert plots.splits["measured"].tail.getData()[0] is not None  # a live tail was in use
    vb = plots.main.getViewBox()
    x0, x1 = vb.viewRange()[0]
    traces = [state.store["g"]] + ([state.store["gc"]] if r_series else [])
    x, ys = ColumnEnvelope().update(state.store["t"], traces, x0, x1, int(round(vb.width())))
    got_x, got_y = plots.splits["measured"].getData()
    np.testing.assert_allclose(got_x, x)
    np.testing.assert_allclose(got_y, ys[0], rtol=1e-6)
    if r_series:
        np.testing.assert_allclose(plots.splits["corrected"].getData()[1], ys[1], rtol=1e-6)


def test_history_and_tail_against_voltage_end_with_the_newest_rows(window, qtbot):
    state, plots = stream(window, qtbot, "Voltage", 0.0)
    split = plots.splits["measured"]
    x, y = split.getData()
    n = len(state.store)
    tail_rows = n - split.row  # every row since the last refresh is drawn, in order
    assert 0 < tail_rows < n
    np.testing.assert_array_equal(x[-tail_rows:], state.store.since("v", split.row))
    np.testing.assert_array_equal(y[-tail_rows:], state.store["g"][split.row:])
    assert x[-tail_rows - 1] == state.store.since("v", split.row - 1)[0]  # joined to the history's last row
