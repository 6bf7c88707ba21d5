"""The trace-level telegraph prior of the offline detector (labqc.plateau_merge:
telegraph_returns): an off-grid plateau between two visits of one level is a plateau of its
own in a trace without telegraph noise, and a telegraph excursion in a trace with it."""
import numpy as np

from labqc.plateaus import analyze

WHITE = 0.03  # G0
LEVELS = [1.0, 2.0, 2.5, 3.0, 2.75, 3.0, 3.5, 4.5, 4.0, 5.0]  # 2.75: off-grid, 0.25 below 3.0
DWELLS = [150, 150, 150, 150, 40, 150, 150, 150, 150, 150]


def staircase(rng, telegraph_on=()):
    """The LEVELS staircase with white noise; plateaus listed in ``telegraph_on`` carry a
    0.2 G0 fluctuator switching every ~8 samples (up a third of the time)."""
    pieces = []
    for k, (level, n) in enumerate(zip(LEVELS, DWELLS)):
        g = np.full(n, level)
        if k in telegraph_on:
            state, t = np.zeros(n), 0
            up = False
            while t < n:
                run = int(rng.geometric(1 / (4.0 if up else 8.0)))
                state[t : t + run] = 1.0 if up else 0.0
                t, up = t + run, not up
            g = g + 0.2 * state
        pieces.append(g)
    g = np.concatenate(pieces)
    return g + rng.normal(0.0, WHITE, g.size)


def around_off_grid(plateaus):
    """Plateaus overlapping the off-grid piece and the two 3.0 G0 plateaus around it."""
    a = sum(DWELLS[:3])
    b = sum(DWELLS[:6])
    return [p for p in plateaus if p.stop > a + 20 and p.start < b - 20]


def test_off_grid_plateau_between_equal_levels_stands_alone_without_telegraph_noise():
    g = staircase(np.random.default_rng(5))
    res = analyze(g, r_series=0.0)
    near = around_off_grid(res.plateaus)
    assert [p.quantum for p in near] == [3.0, None, 3.0], [(p.start, p.stop, p.quantum) for p in near]
    assert abs(near[1].level - 2.75) < 0.05
    assert abs(near[1].start - sum(DWELLS[:4])) <= 3 and abs(near[1].stop - sum(DWELLS[:5])) <= 3
    assert res.excursions == []


def test_same_pattern_is_a_telegraph_excursion_where_the_trace_switches_elsewhere():
    # The fluctuator rides on plateaus away from the pattern; the trace as a whole shows it.
    g = staircase(np.random.default_rng(5), telegraph_on=(1, 6, 7, 8, 9))
    res = analyze(g, r_series=0.0)
    near = around_off_grid(res.plateaus)
    assert [p.quantum for p in near] == [3.0], [(p.start, p.stop, p.quantum) for p in near]
    assert near[0].start <= sum(DWELLS[:3]) + 3 and near[0].stop >= sum(DWELLS[:6]) - 3


def test_the_prior_can_be_forced_either_way():
    g = staircase(np.random.default_rng(5))
    merged = around_off_grid(analyze(g, r_series=0.0, telegraph=True).plateaus)
    apart = around_off_grid(analyze(g, r_series=0.0, telegraph=False).plateaus)
    assert [p.quantum for p in merged] == [3.0]
    assert [p.quantum for p in apart] == [3.0, None, 3.0]
