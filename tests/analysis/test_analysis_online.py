"""Online CUSUM detector: latency, accuracy, chunking, telegraph events, live R_s."""
import numpy as np
import pytest

from labqc.levels import uncorrect_g0
from labqc.online import RING, Event, OnlineDetector, plateaus_from_events
from labqc.scoring import score_plateaus
from labqc.synthetic import make_trace, scenario


def staircase(levels, dwell=200, sigma=0.02, seed=0, r_series=0.0):
    rng = np.random.default_rng(seed)
    g = np.repeat(uncorrect_g0(np.asarray(levels, float), r_series), dwell)
    return g + rng.normal(0, sigma, g.size)


def feed(det, g, chunk):
    events = []
    for a in range(0, g.size, chunk):
        events += det.update(g[a : a + chunk])
    return events + det.finish()


def test_steps_are_alarmed_within_a_few_samples_and_plateaus_assigned():
    levels = [1.0, 1.5, 2.5, 2.0, 4.0, 3.0]
    det = OnlineDetector()
    events = feed(det, staircase(levels), 64)
    changes = [e for e in events if e.kind == "change"]
    assert len(changes) == len(levels) - 1
    for k, e in enumerate(changes, start=1):
        assert abs(e.index - 200 * k) <= 1  # estimated change time
        assert 0 <= e.alarm - 200 * k <= 3  # alarm delay
    starts = [e for e in events if e.kind == "plateau_start"]
    assert [e.quantum for e in starts] == levels
    assert all(e.alarm - e.index == 19 for e in starts[1:])  # confirmed after min_length samples
    assert all(0.8 < e.confidence <= 1 for e in starts)


def test_realistic_stream_scores_like_the_offline_detector():
    tr = make_trace(scenario("realistic", n_cycles=10, seed=21))
    events = feed(OnlineDetector(r_series=200.0), tr.g, 1000)
    s = score_plateaus(plateaus_from_events(events, tr.g.size), tr.truth, tr.g.size)
    assert s.precision >= 0.95 and s.recall >= 0.88, s


def test_chunk_size_does_not_change_the_plateaus():
    g = staircase([0.5, 1.0, 2.0, 3.5, 3.0, 1.0], dwell=150, sigma=0.03, seed=5)
    one = plateaus_from_events(feed(OnlineDetector(), g, 1), g.size)
    big = plateaus_from_events(feed(OnlineDetector(), g, 10_000), g.size)
    assert [(p.start, p.quantum) for p in one] == [(p.start, p.quantum) for p in big]
    assert [p.quantum for p in big] == [0.5, 1.0, 2.0, 3.5, 3.0, 1.0]


def test_scalar_samples_are_accepted():
    det = OnlineDetector(sigma=0.02)
    events = []
    for x in staircase([1.0, 2.0], dwell=100, seed=1):
        events += det.update(float(x))
    assert [(e.kind, e.index, e.alarm) for e in events] == [
        ("plateau_start", 0, 19), ("change", 100, 100), ("plateau_end", 100, 111), ("plateau_start", 100, 119),
    ]
    assert [e.quantum for e in events if e.kind == "plateau_start"] == [1.0, 2.0]


def test_short_excursion_is_a_telegraph_event_not_a_plateau_end():
    g = staircase([2.0], dwell=400, seed=3)
    g[150:155] += 0.3  # sub-quantum: telegraph noise riding on the plateau
    events = feed(OnlineDetector(), g, 100)
    kinds = [e.kind for e in events]
    assert kinds.count("telegraph") == 1 and kinds.count("plateau_start") == 1
    tele = next(e for e in events if e.kind == "telegraph")
    assert tele.index == 150 and tele.level == pytest.approx(0.3, abs=0.1)
    end = [e for e in events if e.kind == "plateau_end"]
    assert len(end) == 1 and end[0].index == 400  # closed by finish()


def test_a_short_visit_to_the_next_level_ends_the_plateau():
    # 5 samples a full half-quantum up and back: the conductance was at 2.5 G0 (as offline).
    g = staircase([2.0], dwell=400, seed=3)
    g[150:155] += 0.5
    events = feed(OnlineDetector(), g, 100)
    kinds = [e.kind for e in events]
    assert kinds.count("telegraph") == 0 and kinds.count("plateau_start") == 2
    end = [e for e in events if e.kind == "plateau_end"]
    assert [e.index for e in end] == [150, 400] and all(e.quantum == 2.0 for e in end)


def test_a_plateau_beside_an_off_grid_neighbour_is_two_plateaus():
    # 1.22 G0 is within merge_delta of 1.0 G0 but clearly off the grid, and 0.22 G0 is many
    # standard errors at this noise: two plateaus, the first on 1.0 G0, the second none.
    events = feed(OnlineDetector(), staircase([1.0, 1.22, 2.0], sigma=0.02), 100)
    got = [(p.start, p.stop, p.quantum) for p in plateaus_from_events(events, 600)]
    assert got == [(0, 200, 1.0), (200, 400, None), (400, 600, 2.0)]


def test_plateau_end_follows_the_step_after_the_bridge_delay():
    events = feed(OnlineDetector(), staircase([1.0, 2.0], dwell=200, seed=4), 50)
    end = next(e for e in events if e.kind == "plateau_end")
    assert abs(end.index - 200) <= 1 and end.quantum == 1.0
    assert end.alarm - end.index == pytest.approx(11, abs=2)


def test_series_resistance_update_moves_levels_onto_the_grid():
    g = staircase([6.0, 9.0], dwell=300, seed=7, r_series=300.0)
    plain = feed(OnlineDetector(), g, 100)
    assert [e.quantum for e in plain if e.kind == "plateau_start"] != [6.0, 9.0]
    det = OnlineDetector()
    det.set_series_resistance(300.0)
    fixed = feed(det, g, 100)
    assert [e.quantum for e in fixed if e.kind == "plateau_start"] == [6.0, 9.0]
    with pytest.raises(ValueError):
        det.set_series_resistance(-1.0)


def test_nan_samples_count_for_indices_but_not_for_statistics():
    g = staircase([1.0, 2.0], dwell=200, seed=8)
    g[100:110] = np.nan
    events = feed(OnlineDetector(), g, 37)
    change = next(e for e in events if e.kind == "change")
    assert abs(change.index - 200) <= 1
    assert not any(np.isnan(e.level) for e in events if e.level is not None)


def state_bytes(det) -> int:
    return sum(v.nbytes for v in vars(det).values() if isinstance(v, np.ndarray))


def test_memory_is_bounded():
    det = OnlineDetector()
    feed(det, staircase([1.0, 2.0], dwell=300, seed=9), 4096)
    short = state_bytes(det)
    feed(det, staircase([1.0, 2.0, 3.0, 2.0] * 50, dwell=300, seed=9), 4096)
    assert state_bytes(det) == short <= 64 * 1024  # the reference's per-stream budget
    # Nothing else keeps samples after update returns.
    assert not any(isinstance(v, (list, tuple)) and len(v) > 8 for v in vars(det).values())


def test_event_defaults():
    e = Event("change", 5)
    assert e.level is None and e.quantum is None and e.confidence is None


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError):
        OnlineDetector(delta=0)
    with pytest.raises(ValueError):
        OnlineDetector(r_series=np.nan)
    with pytest.raises(ValueError, match="unknown level option"):
        OnlineDetector(tolerance=0.1)  # the option is called tol
    with pytest.raises(ValueError, match="warmup"):
        OnlineDetector(warmup=1)


@pytest.mark.parametrize("g, r_series", [
    (np.array([]), 0.0),
    (np.full(300, np.nan), 0.0),
    (np.full(300, np.inf), 0.0),
    (np.ones(300), 1e9),  # every sample beyond 1/R_s: the correction is undefined everywhere
])
def test_input_without_a_usable_sample_gives_no_event(g, r_series):
    det = OnlineDetector(r_series=r_series)
    assert det.update(g) == [] and det.finish() == []


def test_negative_and_constant_traces_get_no_false_level():
    neg = OnlineDetector()
    events = neg.update(-1.0 + np.random.default_rng(0).normal(0, 0.01, 300)) + neg.finish()
    assert all(e.quantum is None for e in events)
    flat = OnlineDetector()
    events = flat.update(np.full(300, 1.0)) + flat.finish()
    assert [(e.kind, e.quantum) for e in events] == [("plateau_start", 1.0), ("plateau_end", 1.0)]


def test_white_noise_plateaus_are_judged_on_all_their_samples():
    # A pulse-train staircase (one sample per pulse) behind R_s: with white noise every
    # sample counts (N_eff = N); the fixed N/10 rule for correlated noise leaves most
    # of these short plateaus unassigned.
    levels = [12.0, 11.5, 11.0, 10.0, 9.5]
    g = staircase(levels, dwell=20, sigma=0.12, seed=13, r_series=200.0)
    ends = [e for e in feed(OnlineDetector(r_series=200.0, min_length=5), g, 1000) if e.kind == "plateau_end"]
    assert [e.quantum for e in ends] == levels and all(e.confidence > 0.5 for e in ends)
    fixed = feed(OnlineDetector(r_series=200.0, min_length=5, n_eff_factor=0.1), g, 1000)
    assert [e.quantum for e in fixed if e.kind == "plateau_end"] != levels


def test_chunking_does_not_change_a_single_event():
    # The per-sample loop is compiled and carries its whole state between calls, so any
    # chunking (including one sample at a time and chunks that overflow the event buffer)
    # must give the same events bit for bit.
    tr = make_trace(scenario("hard", n_cycles=3, seed=8))
    runs = [feed(OnlineDetector(r_series=400.0), tr.g, chunk) for chunk in (1, 7, 700, tr.g.size)]
    assert len(runs[0]) > 50
    for other in runs[1:]:
        assert other == runs[0]


def test_events_of_a_long_chunk_overflowing_the_buffer_are_all_returned():
    from labqc.online import EVENT_BUFFER

    g = staircase([1.0, 2.0] * (EVENT_BUFFER // 2 + 10), dwell=30, sigma=0.01, seed=2)
    events = OnlineDetector(min_length=5).update(g)
    assert len(events) > EVENT_BUFFER
    assert [e.alarm for e in events] == sorted(e.alarm for e in events)
    assert sum(e.kind == "change" for e in events) == 2 * (EVENT_BUFFER // 2 + 10) - 1


def test_a_fixed_noise_scale_is_kept():
    det = OnlineDetector(sigma=0.02)
    feed(det, staircase([1.0, 2.0], dwell=100, sigma=0.05, seed=1), 50)
    assert det.sigma == 0.02
    free = OnlineDetector()
    feed(free, staircase([1.0, 2.0], dwell=300, sigma=0.05, seed=1), 50)
    assert free.sigma == pytest.approx(0.05, rel=0.2)


def test_a_false_alarm_inside_a_plateau_resumes_it():
    # A 6-sample dip of 0.35 G0 (sub-quantum, longer than nothing, shorter than a step's
    # wait) inside a 2.0 G0 plateau: one plateau, from its first to its last sample.
    g = staircase([2.0], dwell=400, seed=5)
    g[200:206] -= 0.35
    events = feed(OnlineDetector(), g, 64)
    plateaus = plateaus_from_events(events, g.size)
    assert [(p.start, p.stop, p.quantum) for p in plateaus] == [(0, 400, 2.0)]


def test_an_ambiguous_r_s_withholds_the_levels_that_depend_on_it():
    # Levels 1.0 and 6.0 G0 seen at R_s = 0; a rival fit of 300 ohm would put 6.0 at 6.9
    # (nearest 7.0) but leave 1.0 at 1.02: only the high level is withheld.
    g = staircase([1.0, 6.0], dwell=300, seed=6)
    plain = plateaus_from_events(feed(OnlineDetector(), g, 100), g.size)
    rival = plateaus_from_events(feed(OnlineDetector(r_series_alternative=300.0), g, 100), g.size)
    assert [p.quantum for p in plain] == [1.0, 6.0]
    assert [p.quantum for p in rival] == [1.0, None]
