"""The dashboard's memory side without widgets: the column store, the budgeted
detector/histogram feed, the R_s setting and the per-cycle and per-pulse views."""
import numpy as np
import pandas as pd
import pytest

from labqc.gui.live_state import LiveState
from labqc.gui.stream_buffer import SEGMENT_CODES, ColumnStore, chunk_from_frame
from labqc.synthetic import scenario, make_trace
from labqc.units import G0, correct_series


def rows(g, v=0.1, segment="set", cycle=1, pulse=-1, t0=0.0):
    g = np.asarray(g, dtype=float)
    n = g.size
    v = np.broadcast_to(np.asarray(v, dtype=float), (n,))
    with np.errstate(invalid="ignore", divide="ignore"):
        i = g * G0 * v
    return {"t": t0 + np.arange(n) * 1e-3, "v": v.astype(np.float32), "i": i.astype(np.float32),
            "g": g.astype(np.float32), "compliance": np.zeros(n, bool),
            "cycle": np.full(n, cycle, np.int32), "segment": np.full(n, SEGMENT_CODES[segment], np.int8),
            "pulse": np.broadcast_to(np.asarray(pulse, np.int32), (n,)).copy()}


def test_chunk_from_frame_keeps_finite_g_rows_only():
    frame = pd.DataFrame({"Time (s)": [0.0, 1.0, 2.0], "Source (V|A)": [0.0, 0.1, 0.2],
                          "Voltage (V)": [0.0, 0.1, 0.2], "Current (A)": [0.0, 1e-5, 2e-5],
                          "G (S)": [np.nan, 1e-4, 1e-4], "G/G0": [np.nan, 1.29, 1.29],
                          "G_corr/G0": [np.nan, 1.29, 1.29], "Compliance": [False, False, True],
                          "Cycle": [1, 1, 1], "Segment": ["set", "set", "reset"], "Pulse": [-1, -1, -1]})
    chunk = chunk_from_frame(frame)
    assert list(chunk["t"]) == [1.0, 2.0]
    assert list(chunk["compliance"]) == [False, True]
    assert list(chunk["segment"]) == [SEGMENT_CODES["set"], SEGMENT_CODES["reset"]]


def test_column_store_grows_and_corrects():
    store = ColumnStore(capacity=8, r_series=500.0)
    g = np.linspace(0.5, 10, 1000)
    for part in np.array_split(g, 7):
        store.append(rows(part))
    assert len(store) == 1000 and store.capacity >= 1000
    np.testing.assert_allclose(store["g"], g, rtol=1e-6)
    np.testing.assert_allclose(store["gc"], correct_series(g * G0, 500.0) / G0, rtol=1e-5)
    store.set_series_resistance(0.0)
    np.testing.assert_allclose(store["gc"], g, rtol=1e-6)


def test_detector_finds_plateaus_under_a_budget():
    trace = make_trace(scenario("clean", n_cycles=3, seed=4))
    state = LiveState()
    for part in np.array_split(trace.g, 40):
        state.append(rows(part))
    fed = []
    while not state.caught_up:
        before = state.fed_detector
        state.process(budget=500)
        fed.append(state.fed_detector - before)
    assert max(fed) <= 500 and len(fed) > 1  # a backlog is caught up over several ticks
    state.finish()
    state.process()
    assert state.complete
    levels = [p.quantum for p in state.plateaus if p.quantum is not None]
    truth = {t.level for t in trace.truth if t.quantised}
    hits = sum(1 for q in levels if q in truth)
    assert hits >= 0.8 * len(levels) and len(levels) >= 0.5 * len(trace.truth)
    assert state.histogram.counts.sum() + state.histogram.n_outside == trace.g.size


def test_series_resistance_rebuilds_histogram_and_reaches_detector():
    state = LiveState()
    state.append(rows(np.full(2000, 2.0)))
    state.process()
    peak_before = state.histogram.centers[np.argmax(state.histogram.counts)]
    r_s = 1000.0
    state.set_series_resistance(r_s)
    assert state.detector.r_series == r_s and state.fed_histogram == 0
    state.process()
    peak_after = state.histogram.centers[np.argmax(state.histogram.counts)]
    expected = 2.0 / (1 - r_s * G0 * 2.0)
    assert peak_before == pytest.approx(2.0, abs=0.05)
    assert peak_after == pytest.approx(expected, abs=0.05)
    assert state.histogram.counts.sum() == 2000


def test_reads_split_into_lrs_and_hrs_by_the_branch_before_them():
    state = LiveState()
    for cycle in (1, 2):
        state.append(rows(np.full(50, 20.0), segment="set", cycle=cycle))
        state.append(rows([20.0], segment="read", cycle=cycle))
        state.append(rows(np.full(50, 0.1), segment="reset", cycle=cycle))
        state.append(rows([0.05], segment="read", cycle=cycle))
    c, lrs = state.lrs.result()
    _, hrs = state.hrs.result()
    assert list(c) == [1.0, 2.0]
    np.testing.assert_allclose(lrs, 20.0, rtol=1e-6)
    np.testing.assert_allclose(hrs, 0.05, rtol=1e-6)


def test_pulse_means_and_retention_times():
    state = LiveState()
    state.append(rows(np.full(10, 3.0), segment="set"))
    state.append(rows(np.repeat([4.0, 3.0, 2.0], 2), v=-1.5, segment="pulse", pulse=np.repeat([1, 2, 3], 2)))
    k, current = state.pulse_current.result()
    assert list(k) == [1.0, 2.0, 3.0]
    np.testing.assert_allclose(current / current[0], [1.0, 0.75, 0.5], rtol=1e-5)
    state.append(rows(np.full(5, 1.0), segment="hold", t0=10.0))
    t, g = state.retention()
    assert (t > 0).all() and len(t) == 5
