"""What the main plot is drawn from, without widgets: the per-pixel-column envelope
(labqc.gui.envelope) against a per-sample reference, folded in as rows stream; the
plateau overlay extended as plateaus close against the one built at once; queued chunks
against chunks appended one by one."""
import numpy as np
import pytest

from labqc.gui.envelope import ColumnEnvelope, pixel_steps
from labqc.gui.live_state import LiveState, PlateauMark
from labqc.gui.overlay import build_overlay
from labqc.gui.stream_buffer import SEGMENT_CODES


def reference(t, y, x0, x1, columns):
    """Min and max per column by assigning each sample to its column one by one."""
    edges = np.linspace(x0, x1, columns + 1)
    lo, hi = np.full(columns, np.nan), np.full(columns, np.nan)
    for tk, yk in zip(t, y):
        if not x0 <= tk <= x1 or np.isnan(yk):
            continue
        k = min(int(np.searchsorted(edges, tk, "right")) - 1, columns - 1)
        lo[k] = yk if np.isnan(lo[k]) else min(lo[k], yk)
        hi[k] = yk if np.isnan(hi[k]) else max(hi[k], yk)
    return lo, hi


def columns_of(x, y):
    return y[0::2], y[1::2], x[0::2]


def test_envelope_matches_every_sample_and_streaming_equals_one_pass():
    rng = np.random.default_rng(11)
    n, columns = 30_000, 97
    t = np.sort(rng.uniform(0.0, 50.0, n))
    t[1000:1300] = t[1000]  # repeated times (a burst within one clock tick)
    t[5000:9000] = np.linspace(t[5000], t[5000] + 1e-9, 4000)  # then a gap after a dense patch
    g = rng.normal(2.0, 0.3, n).astype(np.float32)
    gc = g.copy()
    gc[rng.random(n) < 0.01] = np.nan  # the correction undefined for a few samples
    gc[20_000:20_400] = np.nan
    x0, x1 = 3.0, 45.0
    one = ColumnEnvelope()
    x, (y_g, y_gc) = one.update(t, [g, gc], x0, x1, columns)
    for y, trace in ((y_g, g), (y_gc, gc)):
        lo, hi = reference(t, trace, x0, x1, columns)
        seen = ~np.isnan(reference(t, g, x0, x1, columns)[0])  # columns with any sample
        got_lo, got_hi, centres = columns_of(x, y)
        np.testing.assert_allclose(got_lo, lo[seen], rtol=1e-7)
        np.testing.assert_allclose(got_hi, hi[seen], rtol=1e-7)
        width = (x1 - x0) / columns
        np.testing.assert_allclose(centres, x0 + (np.flatnonzero(seen) + 0.5) * width)

    streamed = ColumnEnvelope()
    for stop in list(range(0, n, 777)) + [n]:  # rows arriving chunk by chunk, same view
        xs, ys = streamed.update(t[:stop], [g[:stop], gc[:stop]], x0, x1, columns)
    assert streamed.full_recomputes == 1
    np.testing.assert_array_equal(xs, x)
    for a, b in zip(ys, (y_g, y_gc)):
        np.testing.assert_array_equal(a, b)


def test_envelope_keeps_extremes_gives_samples_when_zoomed_and_starts_over_on_a_new_view():
    n = 200_000
    t = np.arange(n) / 2e4
    g = np.ones(n, np.float32)
    g[123_457] = 7.5
    g[54_321] = -0.25
    env = ColumnEnvelope()
    x, (y,) = env.update(t, [g], 0.0, t[-1], 800)
    assert x.size <= 1600 and y.max() == pytest.approx(7.5) and y.min() == pytest.approx(-0.25)
    x, (y,) = env.update(t, [g], 6.17, 6.18, 800)  # 200 samples on 800 columns: the samples
    np.testing.assert_array_equal(x, t[(t >= 6.17) & (t <= 6.18)])
    np.testing.assert_array_equal(y, g[(t >= 6.17) & (t <= 6.18)])
    before = env.full_recomputes
    x, (y,) = env.update(t, [g], 2.0, 4.0, 800)
    assert env.full_recomputes == before + 1 and x.min() > 2.0 and x.max() < 4.0
    g[50_000] = 3.0  # changed in place (as a new R_s does to the corrected column)
    _, (y,) = env.update(t, [g], 2.0, 4.0, 800)
    assert y.max() == pytest.approx(1.0)  # folded rows are not looked at again...
    env.invalidate()
    _, (y,) = env.update(t, [g], 2.0, 4.0, 800)
    assert y.max() == pytest.approx(3.0)  # ...until told


def rows(g, t0=0.0):
    n = g.size
    return {"t": t0 + np.arange(n) * 1e-3, "v": np.full(n, 0.1, np.float32), "i": np.zeros(n, np.float32),
            "g": g.astype(np.float32), "compliance": np.zeros(n, bool), "cycle": np.ones(n, np.int32),
            "segment": np.full(n, SEGMENT_CODES["set"], np.int8), "pulse": np.full(n, -1, np.int32)}


def test_overlay_extended_as_plateaus_close_equals_the_overlay_built_at_once():
    rng = np.random.default_rng(5)
    levels = rng.choice([0.5, 1.0, 1.5, 2.0, 3.0, 1.31], size=60)
    g = np.concatenate([lv + rng.normal(0, 0.02 if k % 7 else 0.6, 300) for k, lv in enumerate(levels)])
    state = LiveState(r_series=150.0)
    state.append(rows(g))
    state.fed_detector = g.size
    for k in range(levels.size):  # plateaus closing one after another, the overlay drawn between
        if state.plateaus:
            state.plateaus[-1].stop = 300 * k - 10
        state.plateaus.append(PlateauMark(300 * k + 10, None, 0.0, None, None))
        incremental = state.overlay()
    a, b, stats = state.plateau_spans()
    whole = build_overlay(a, b, stats, 150.0)
    for field in ("start", "stop", "level", "nearest", "quantum", "confidence", "assignable"):
        np.testing.assert_array_equal(getattr(incremental, field), getattr(whole, field))
    assert incremental.hidden == whole.hidden and whole.hidden > 0 and len(whole) > 40
    state.set_series_resistance(0.0)  # a new R_s: every level moves
    moved = state.overlay()
    np.testing.assert_array_equal(moved.level, build_overlay(a, b, stats, 0.0).level)
    state.plateaus = state.plateaus[:10]  # replaced: nothing of the old list is reused
    assert len(state.overlay()) == len(build_overlay(*state.plateau_spans(), 0.0))


def test_queued_chunks_are_taken_in_together_as_if_appended_one_by_one():
    rng = np.random.default_rng(2)
    parts = [rows(rng.uniform(0.5, 3, m), t0=float(k)) for k, m in enumerate((5, 400, 1, 1200, 33))]
    one, queued = LiveState(r_series=100.0), LiveState(r_series=100.0)
    for part in parts:
        one.append(part)
        queued.queue(part)
    assert len(queued.store) == 0  # nothing yet: taken in at the next tick
    queued.process()
    assert len(queued.store) == len(one.store) == sum(len(p["t"]) for p in parts)
    for name in ("t", "g", "gc", "cycle", "segment"):
        np.testing.assert_array_equal(queued.store[name], one.store[name])
    assert queued.g_max == one.g_max


def test_pixel_steps_drop_only_points_in_the_pixel_of_the_point_before():
    rng = np.random.default_rng(8)
    x = np.linspace(0.0, 3.0, 5000)  # a sweep: ~17 points per pixel column
    y = np.sin(3 * x) + rng.normal(0, 0.004, 5000)
    y[100] = np.nan
    x_range, y_range, width, height = (x.min(), x.max()), (y[~np.isnan(y)].min(), y[~np.isnan(y)].max()), 300, 200
    keep = pixel_steps(x, y, x_range, y_range, width, height)
    assert keep[0] and keep[-1] and keep[100] and keep.sum() < 0.5 * x.size

    def pixel(k):  # one point at a time
        return (int(np.floor((x[k] - x_range[0]) / (x_range[1] - x_range[0]) * width)),
                int(np.floor((y[k] - y_range[0]) / (y_range[1] - y_range[0]) * height)))

    for k in range(1, x.size - 1):
        if np.isnan(y[k]) or np.isnan(y[k - 1]):
            assert keep[k]
        else:
            assert keep[k] == (pixel(k) != pixel(k - 1))
