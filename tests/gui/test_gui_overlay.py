"""The plateau overlay is a function of the data on screen and the toolbar's R_s: levels
move with R_s, a span that is not one flat level is not drawn, a level on the grid is never
called off-grid, labels never overlap each other or the legend, the legend names where the
plateaus came from, and the I–V's compliance lines are those of the run on screen."""
import numpy as np
import pytest

from labqc.gui.live_state import LiveState, PlateauMark
from labqc.gui.overlay import place_labels, plateau_label
from labqc.gui.stream_buffer import SEGMENT_CODES
from labqc.units import G0

R_S = 600.0


def measured(g_device, r_series):
    """What a meter in series with r_series reads: G/(1 + R_s·G) (science.md)."""
    g = np.asarray(g_device, float) * G0
    return g / (1 + r_series * g) / G0


def rows(g, v=0.1, segment="set"):
    g = np.asarray(g, dtype=float)
    n = g.size
    return {"t": np.arange(n) * 1e-3, "v": np.full(n, v, np.float32), "i": (g * G0 * v).astype(np.float32),
            "g": g.astype(np.float32), "compliance": np.zeros(n, bool), "cycle": np.ones(n, np.int32),
            "segment": np.full(n, SEGMENT_CODES[segment], np.int8), "pulse": np.full(n, -1, np.int32)}


def staircase(levels, n=400, noise=0.01, seed=0):
    rng = np.random.default_rng(seed)
    g = np.concatenate([np.full(n, lv) for lv in levels]) + rng.normal(0, noise, n * len(levels))
    spans = [(k * n, (k + 1) * n) for k in range(len(levels))]
    return g, spans


def show(window, g, spans, source="offline, file", r_series=0.0):
    state = LiveState(r_series=r_series)
    state.append(rows(g))
    state.plateaus = [PlateauMark(a, b, 0.0, None, None) for a, b in spans]
    state.fed_detector = len(state.store)
    state.plateau_source = source
    state.finish()
    state.process(budget=len(g) + 1)
    state.provenance = {"file": "synthetic.csv", "procedure": "CurrentSweep"}
    window._show_state(state, "SetReset")
    window.plots.redraw(force=True)
    return state


def drawn_levels(window):
    xs, ys = window.plots.splits["plateaus"].getData()
    return [] if ys is None else sorted(set(np.round(ys[0::2], 3)))


def visible_labels(window):
    return [lb for lb in window.plots.plateau_labels if lb.isVisible()]


def test_levels_and_labels_follow_the_toolbar_series_resistance(window, qtbot):
    g, spans = staircase(measured([1.0, 2.0, 3.0], R_S))
    show(window, g, spans)
    before = drawn_levels(window)
    assert before == pytest.approx(measured([1.0, 2.0, 3.0], R_S), abs=0.01)  # the trace as measured
    window.r_series.setValue(R_S)  # as a user types it in the toolbar
    window.plots.redraw(force=True)
    assert drawn_levels(window) == pytest.approx([1.0, 2.0, 3.0], abs=0.01)  # moved with the trace
    texts = sorted(lb.textItem.toPlainText() for lb in visible_labels(window))
    # (a label that would cover the legend is left out)
    assert len(texts) >= 2 and {t.split(" G0")[0] for t in texts} <= {"1", "2", "3"}
    window.r_series.setValue(0.0)
    window.plots.redraw(force=True)
    assert drawn_levels(window) == pytest.approx(before, abs=1e-6)


def test_no_plateau_is_drawn_across_switching(window):
    toggling = np.tile([0.02, 2.8], 300)  # pulse tops and reads of a pulse endurance, interleaved
    flat, _ = staircase([2.0], n=600)
    g = np.concatenate([toggling, flat])
    show(window, g, [(0, 600), (600, 1200)])
    assert drawn_levels(window) == pytest.approx([2.0], abs=0.02)  # the flat one only
    assert window.state.overlay().hidden == 1


@pytest.mark.parametrize("level, noise", [(1.0, 0.01), (1.0, 0.4), (2.5, 0.3)])
def test_a_level_on_the_grid_is_never_called_off_grid(window, level, noise):
    rng = np.random.default_rng(4)
    # noisy, but one level: samples clipped to +-0.15 G0 so the span stays flat
    g = level + np.clip(rng.normal(0, noise, 800), -0.15, 0.15)
    show(window, g, [(0, 800)])
    texts = [lb.textItem.toPlainText() for lb in visible_labels(window)]
    assert len(texts) == 1 and "off-grid" not in texts[0] and f"{level:g}" in texts[0]


def test_label_wording():
    assert plateau_label(1.31, 1.5, np.nan, 0.0) == "1.31 G0 (off-grid)"
    assert plateau_label(1.0, 1.0, np.nan, 0.0).startswith("≈1 G0")
    assert plateau_label(2.02, 2.0, 2.0, 0.93) == "2 G0, conf 93 %"


@pytest.mark.parametrize("axis", ["Time", "Current"])
def test_crowded_labels_are_thinned_never_overlapping_each_other_or_the_legend(window, qtbot, axis):
    levels = np.repeat(np.arange(1.0, 9.0, 0.5), 2)[:24]
    g, spans = staircase(levels, n=80)
    show(window, g, spans)
    window.plots.set_x(axis)
    window.plots.redraw(force=True)
    qtbot.wait(50)
    labels = visible_labels(window)
    assert 2 <= len(labels) < len(spans)  # thinned, not all 24
    rects = [lb.sceneBoundingRect() for lb in labels]
    legend = window.plots.main.getPlotItem().legend.sceneBoundingRect()
    view = window.plots.main.getViewBox().sceneBoundingRect()
    for k, r in enumerate(rects):
        assert not r.intersects(legend)
        assert view.adjusted(-2, -2, 2, 2).contains(r)
        assert not any(r.intersects(o) for o in rects[k + 1:])


def test_legend_names_the_source_and_no_label_survives_a_file_without_plateaus(window):
    g, spans = staircase([1.0, 2.0])
    show(window, g, spans, source="offline, file")
    legend = [label.text for _, label in window.plots.main.getPlotItem().legend.items]
    assert "plateaus (offline, file)" in legend
    assert visible_labels(window)
    show(window, np.linspace(0.1, 5, 800), [])  # a file with no plateaus
    assert not visible_labels(window)
    show(window, g, spans, source="online detector")
    legend = [label.text for _, label in window.plots.main.getPlotItem().legend.items]
    assert "plateaus (online detector)" in legend


def test_compliance_lines_are_those_of_the_run_on_screen_and_in_amps_only(window):
    g, spans = staircase([1.0])
    first = show(window, g, spans)
    first.compliance = [("SET compliance", 5e-3)]
    window._show_state(first, "SetReset")
    window.plots.redraw(force=True)
    lines = window.plots._compliance_lines
    assert [round(10 ** line.value(), 6) for line in lines] == [0.005]
    second = show(window, g, spans)
    second.compliance = [("SET compliance", 1e-4)]
    window._show_state(second, "SetReset")
    window.plots.redraw(force=True)
    assert [round(10 ** line.value(), 7) for line in window.plots._compliance_lines] == [0.0001]
    window._show_state(first, "SetReset")  # back to the first run: its own limit again
    window.plots.redraw(force=True)
    assert [round(10 ** line.value(), 6) for line in window.plots._compliance_lines] == [0.005]


def test_compliance_factor_is_not_a_current():
    from labqc.gui.files import compliance_limits

    limits = compliance_limits({"SET compliance": "0.0001 A", "Compliance factor": "1.5",
                                "Maximum compliance": "0.01 A", "Read compliance": "0.001 A"})
    assert limits == [("SET compliance", 1e-4), ("Maximum compliance", 0.01)]


def test_place_labels_keeps_the_first_and_skips_what_overlaps():
    cands = [(10, 200, 50, 0), (15, 100, 52, 0), (300, 400, 50, 0)]
    placed = place_labels(cands, lambda k: (80, 14), (0, 0, 500, 300))
    assert [k for k, _, _ in placed] == [0, 1, 2] or [k for k, _, _ in placed] == [0, 2, 1]
    boxes = [(left, top, left + 80, top + 14) for _, left, top in placed]
    for k, a in enumerate(boxes):
        for b in boxes[k + 1:]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3])
