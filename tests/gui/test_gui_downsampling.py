"""The main plot draws 10⁶ samples against time as their min/max envelope per pixel
column in view, follows zooming and streaming, and never downsamples the plateau segments."""
import numpy as np
import pytest

from labqc.gui.live_state import PlateauMark

N = 1_000_000
RATE = 2e4  # samples per second


def rows(n: int, g: np.ndarray) -> dict:
    return {"t": np.arange(n) / RATE, "v": np.ones(n, np.float32), "i": g * np.float32(1e-4), "g": g,
            "compliance": np.zeros(n, bool), "cycle": np.zeros(n, np.int32),
            "segment": np.zeros(n, np.int8), "pulse": np.full(n, -1, np.int32)}


def test_a_million_samples_are_drawn_as_their_envelope_and_zooming_refines_it(window, qtbot):
    rng = np.random.default_rng(3)
    g = (1.0 + 0.05 * rng.standard_normal(N)).astype(np.float32)
    g[123_457] = 7.5  # one spike: peak downsampling must keep it
    state, plots = window.state, window.plots
    state.append(rows(N, g))
    state.fed_detector = state.fed_histogram = N  # detection is not what this test is about
    plots.redraw(force=True)
    qtbot.wait(50)
    vb = plots.main.getViewBox()
    x, y = plots.splits["measured"].getData()  # history and live tail
    assert len(x) <= 2 * vb.width() + 2  # a min and a max per pixel column at most
    assert float(np.max(y)) == pytest.approx(7.5)
    assert float(np.min(y)) == pytest.approx(float(g.min()))

    vb.setXRange(6.0, 6.5, padding=0)  # 10⁴ samples in view
    qtbot.wait(50)
    x, y = plots.splits["measured"].getData()  # history and live tail
    inside = (x >= 6.0) & (x <= 6.5)
    assert inside.all() and vb.width() <= len(x) <= 2 * vb.width() + 2
    sel = slice(int(6.0 * RATE), int(6.5 * RATE))
    assert float(np.max(y[inside])) == pytest.approx(float(g[sel].max()), rel=1e-6)


def test_plateau_segments_are_never_merged_by_downsampling(window, qtbot):
    n, m = 200_000, 6_000  # more segment ends than pixels
    state, plots = window.state, window.plots
    state.append(rows(n, np.ones(n, np.float32)))
    state.fed_detector = state.fed_histogram = n
    starts = np.arange(m) * (n // m)
    state.plateaus = [PlateauMark(int(a), int(a) + 20, 1.0 + (k % 3), 1.0 + (k % 3), 0.9)
                      for k, a in enumerate(starts)]
    plots.redraw(force=True)
    qtbot.wait(50)
    xs, ys = plots.splits["plateaus"].getData()
    assert len(xs) == 2 * m
    np.testing.assert_array_equal(ys[0::2], ys[1::2])  # every segment horizontal
    np.testing.assert_allclose(xs[0::2], starts / RATE)
    np.testing.assert_allclose(xs[1::2], (starts + 19) / RATE)
