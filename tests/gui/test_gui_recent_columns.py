"""The store keeps V, I and Compliance for the newest rows only (labqc.gui.stream_buffer
RECENT): what is drawn against them (the I–V view, plateaus against V) and what is
derived from them (the per-pulse current, also after a new R_s) must not change."""
import numpy as np
import pytest

from labqc.gui.live_state import LiveState
from labqc.gui.side_views import IVView
from labqc.gui.stream_buffer import RECENT, SEGMENT_CODES, ColumnStore
from labqc.units import G0


def rows(start: int, n: int, *, pulse_every: int = 0, comp_every: int = 0) -> dict:
    """Rows whose V is the row number (float32: distinct up to 2²⁴), G/G0 steps of 1 G0
    every 5000 rows; with pulse_every, pulses of that many rows numbered from 1."""
    k = np.arange(start, start + n)
    v = (k + 1).astype(np.float32) * np.float32(1e-5)
    g = (1.0 + (k // 5000) % 3).astype(np.float32)
    comp = (k % comp_every < 3) if comp_every else np.zeros(n, bool)
    pulse = (k // pulse_every + 1).astype(np.int32) if pulse_every else np.full(n, -1, np.int32)
    seg = SEGMENT_CODES["pulse"] if pulse_every else SEGMENT_CODES["set"]
    return {"t": k * 5e-5, "v": v, "i": g * np.float32(G0) * v, "g": g, "compliance": comp,
            "cycle": (k // 20_000 + 1).astype(np.int32), "segment": np.full(n, seg, np.int8), "pulse": pulse}


def concat(parts: list[dict]) -> dict:
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


@pytest.mark.parametrize("sizes", [(400,) * 400, (3, RECENT + 7, 999, 1, 60_000, 400, 400), (2 * RECENT + 5, 17)])
def test_store_keeps_the_newest_rows_of_v_i_and_compliance(sizes):
    store, parts, n = ColumnStore(capacity=1024), [], 0
    for m in sizes:
        part = rows(n, m, comp_every=7)
        parts.append(part)
        store.append(part)
        n += m
        every = concat(parts)
        first = max(n - RECENT, 0)
        for name in ("v", "i", "compliance"):  # the newest RECENT rows, after every chunk
            np.testing.assert_array_equal(store.since(name, first), every[name][first:])
        np.testing.assert_array_equal(store["g"], every["g"])  # the drawn-against-time columns whole
        np.testing.assert_array_equal(store["cycle"], every["cycle"])
    assert len(store) == n
    if n > 2 * RECENT:
        with pytest.raises(IndexError, match="newest"):
            store.since("v", 0)


def test_iv_view_draws_the_newest_rows_and_their_compliance(qtbot):
    state = LiveState()
    n = 0
    for m in (70_000, 400, 60_000, 1234):  # past 2·RECENT rows: the store has moved its window
        state.append(rows(n, m, comp_every=1000))
        n += m
    view = IVView()
    view.set_mode("points")
    view.draw(state)
    every = rows(0, n, comp_every=1000)
    newest = slice(n - RECENT, n)
    x, _ = view.curve.getData()
    assert x[0] == every["v"][n - RECENT] and x[-1] == every["v"][n - 1]
    assert np.isin(x, every["v"][newest]).all()
    marked, _ = view.marks.getData()
    in_comp = every["v"][newest][every["compliance"][newest]]
    assert marked.size and np.isin(marked, in_comp).all()
    starts = np.flatnonzero(np.diff(every["compliance"][newest].astype(int)) == 1) + 1
    assert np.isin(every["v"][newest][starts], marked).all()  # each stretch in compliance starts exact


def test_per_pulse_current_covers_every_row_and_survives_a_new_series_resistance():
    state, n = LiveState(), 0
    for m in (RECENT, 30_000, RECENT, 777):
        state.append(rows(n, m, pulse_every=1000))
        n += m
    every = rows(0, n, pulse_every=1000)
    pulses = np.unique(every["pulse"])
    expected = np.array([every["i"][every["pulse"] == p].astype(float).mean() for p in pulses])
    k, mean = state.pulse_current.result()
    np.testing.assert_array_equal(k, pulses)
    np.testing.assert_allclose(mean, expected, rtol=1e-5)
    g_before = state.pulse_g.result()[1].copy()
    state.set_series_resistance(300.0)
    k, mean = state.pulse_current.result()
    np.testing.assert_allclose(mean, expected, rtol=1e-5)
    assert (state.pulse_g.result()[1] > g_before).all()  # the G views did follow the new R_s


def test_plateaus_against_voltage_end_at_the_rows_they_span():
    state, n = LiveState(), 0
    for m in (80_000, 40_000, 5_000):
        state.append(rows(n, m))
        n += m
    while not state.caught_up:
        state.process()
    every = rows(0, n)
    first = n - RECENT
    xs, ys = state.plateau_segments(state.store.since("v", first), first)
    ov = state.overlay()
    keep = ov.stop > first
    assert xs.size == 2 * int(keep.sum()) > 0
    a = np.maximum(ov.start[keep], first)
    np.testing.assert_array_equal(xs[0::2], every["v"][a])
    np.testing.assert_array_equal(xs[1::2], every["v"][ov.stop[keep] - 1])
    np.testing.assert_array_equal(ys[0::2], ov.level[keep])
