"""V²-weighted segmentation of voltage sweeps (labqc.sweep_segments) and analyze(..., v=)."""
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import ruptures as rpt

from labqc.analyze_cli import is_voltage_sweep
from labqc.cli import main
from labqc.plateaus import analyze, detect, robust_sigma
from labqc.scoring import score_plateaus
from labqc.sweep_segments import _pelt, current_sigma, segment_conductance, segment_sweep
from labqc.synthetic import scenario, voltage_sweep_trace
from labqc.units import G0


def sweep(name: str, seed: int, n_cycles: int = 3, bipolar: bool = False):
    tr, v = voltage_sweep_trace(replace(scenario(name, seed=seed), n_cycles=n_cycles, dwell_median=700.0), sigma_i=1e-6)
    if bipolar:  # every other cycle at negative bias: G = I/V is unchanged
        cycle = np.searchsorted(tr.cycle_starts, np.arange(v.size), side="right") - 1
        v = np.where(cycle % 2, -v, v)
    return tr, v


def true_changes(tr) -> np.ndarray:
    """Starts of true plateaus that directly follow another one in the same cycle."""
    return np.array([b.start for a, b in zip(tr.truth[:-1], tr.truth[1:]) if a.stop == b.start and a.cycle == b.cycle])


def test_weighted_cuts_sit_on_the_true_changes_where_plain_g_over_segments_near_zero_bias():
    tr, v = sweep("clean", seed=3, bipolar=True)
    ends, sigma_i = segment_sweep(tr.g * v, v, tr.cycle_starts)
    assert sigma_i == pytest.approx(1e-6 / G0, rel=0.1)  # the current noise, in G0·V
    cuts = np.setdiff1d(ends[:-1], tr.cycle_starts)
    changes = true_changes(tr)
    # Every change made at a bias where its current step stands out is found within 3
    # samples, and every cut is such a change: nothing extra near V = 0.
    visible = changes[np.abs(v[changes]) >= 0.1]
    assert visible.size >= 20
    assert np.abs(cuts[:, None] - visible[None, :]).min(axis=0).max() <= 3
    assert np.abs(cuts[:, None] - changes[None, :]).min(axis=1).max() <= 3
    assert cuts.size <= changes.size
    # Plain L2 on G without a mask, same penalty rule: the noise near V = 0 is cut up.
    plain = []
    for a, b in zip(tr.cycle_starts, np.append(tr.cycle_starts[1:], v.size)):
        x = tr.g[a:b]
        pen = 5.0 * robust_sigma(x) ** 2 * np.log(x.size)
        plain += [a + e for e in rpt.KernelCPD(kernel="linear", min_size=3).fit(x).predict(pen=pen)[:-1]]
    plain = np.asarray(plain)
    near_zero = lambda c: int(np.count_nonzero(np.abs(v[np.minimum(c, v.size - 1)]) < 0.05))
    assert near_zero(plain) >= 20 and near_zero(cuts) == 0


def test_constant_conductance_sweep_is_one_segment():
    rng = np.random.default_rng(1)
    v = np.concatenate([np.linspace(0, 2, 2000), np.linspace(2, -2, 4000), np.linspace(-2, 0, 2000)])
    i = 3.0 * v + rng.normal(0, 0.01, v.size)  # G0·V: 3 G0 with white current noise
    ends, _ = segment_sweep(i, v)
    assert ends.tolist() == [v.size]
    assert segment_conductance(i, v, ends)[0] == pytest.approx(3.0, abs=0.002)


def test_current_noise_growing_with_the_current_does_not_cut_a_constant_level():
    rng = np.random.default_rng(2)
    v = np.concatenate([np.linspace(0, 3, 3000), np.linspace(3, 0, 3000)])
    i = 25.0 * v
    i = i + rng.normal(0, 1.0, v.size) * (0.002 + 0.003 * i)  # read noise a + b|I|, G0·V
    assert segment_sweep(i, v)[0].tolist() == [v.size]
    # One noise scale for the whole block (the low-current one) cuts it up.
    assert segment_sweep(i, v, noise_window=0)[0].size > 5


def test_pelt_finds_the_exact_optimum_of_the_penalised_cost():
    rng = np.random.default_rng(7)
    n, pen, min_size = 70, 0.5, 3
    v = rng.uniform(-1, 1, n)
    i = np.repeat([1.0, 2.5, 0.5, 2.0], [20, 15, 25, 10]) * v + rng.normal(0, 0.1, n)
    cs = [np.concatenate([[0.0], np.cumsum(a)]) for a in (i * i, i * v, v * v)]

    def cost(s, t):
        sii, siv, svv = (c[t] - c[s] for c in cs)
        return sii - siv**2 / svv

    # Optimal partitioning without pruning, O(n²).
    f = np.full(n + 1, np.inf)
    f[0], last = -pen, np.zeros(n + 1, dtype=int)
    for t in range(min_size, n + 1):
        vals = [(f[s] + cost(s, t) + pen, s) for s in range(0, t - min_size + 1) if np.isfinite(f[s])]
        f[t], last[t] = min(vals)
    ends, t = [], n
    while t > 0:
        ends.append(t)
        t = last[t]
    assert _pelt(*cs, pen, min_size).tolist() == ends[::-1]
    assert len(ends) == 4


def test_bad_input_is_a_clear_error_or_an_empty_result():
    ends, sigma = segment_sweep(np.empty(0), np.empty(0))
    assert ends.size == 0 and sigma == 0.0
    with pytest.raises(ValueError, match="finite"):
        segment_sweep(np.array([1.0, np.nan, 2.0]), np.ones(3))
    with pytest.raises(ValueError, match="V = 0"):
        segment_sweep(np.ones(50), np.zeros(50))
    with pytest.raises(ValueError, match="one length"):
        segment_sweep(np.ones(5), np.ones(4))
    g = np.full(100, 2.0)
    with pytest.raises(ValueError, match="V = 0"):
        analyze(g, v=np.zeros(100))
    with pytest.raises(ValueError, match=r"\|V\| >= 0.02"):
        analyze(g, v=np.full(100, 0.01))
    with pytest.raises(ValueError, match="one V per sample"):
        analyze(g, v=np.ones(99))
    assert current_sigma(np.ones(3)) == 0.0


@pytest.mark.parametrize("seed", [1, 4])
def test_detect_with_v_matches_or_beats_the_masked_path(seed):
    tr, v = sweep("realistic", seed=seed, n_cycles=6)
    n = tr.g.size
    weighted = detect(tr.g, v=v, cycle_starts=tr.cycle_starts)
    mask = np.abs(v) < 0.05
    g = np.where(mask, np.nan, tr.g)
    masked = detect(g, cycle_starts=tr.cycle_starts)
    # Scored against the truth as generated: the masked path cannot place a boundary in the
    # masked stretch, the weighted one loses only the samples below v_min = 0.02 V.
    f_w = score_plateaus(weighted, tr.truth, n).f1
    f_m = score_plateaus(masked, tr.truth, n).f1
    assert f_w >= f_m and f_w >= 0.96, (f_w, f_m)
    # Level statistics leave out |V| < v_min: no plateau starts or ends there.
    assert all(abs(v[p.start]) >= 0.02 and abs(v[p.stop - 1]) >= 0.02 for p in weighted)


def test_without_v_nothing_changes():
    tr, v = sweep("clean", seed=2)
    g = np.where(np.abs(v) < 0.05, np.nan, tr.g)
    a, b = detect(g, cycle_starts=tr.cycle_starts), detect(g, cycle_starts=tr.cycle_starts, v=None)
    assert a == b and len(a) > 10


def write_sweep_csv(path, tr, v):
    n = v.size
    cycle = np.searchsorted(tr.cycle_starts, np.arange(n), side="right") - 1
    i = tr.g * G0 * v
    df = pd.DataFrame({"Time (s)": np.arange(n) * 0.01, "Voltage (V)": v, "Current (A)": i, "Cycle": cycle})
    with open(path, "w") as f:
        f.write("#Procedure: <labqc.procedures.voltage_sweep.VoltageSweep>\n#Data:\n")
        df.to_csv(f, index=False)
    return path


def test_cli_analyzes_a_bipolar_sweep_with_the_weighted_cost(tmp_path, capsys):
    tr, v = sweep("clean", seed=5, n_cycles=3, bipolar=True)
    path = write_sweep_csv(tmp_path / "iv.csv", tr, v)
    assert main(["analyze", str(path), "--no-figures"]) == 0
    out = capsys.readouterr().out
    found = int(out.split("plateaus: ")[1].split(" ")[0])
    expected = sum(1 for t in tr.truth if t.stop - t.start >= 20)
    assert abs(found - expected) <= 2, out
    # --v-min still sets which samples count as usable (and, here, enter the levels).
    assert main(["analyze", str(path), "--no-figures", "--v-min", "0.5"]) == 0
    usable = int(capsys.readouterr().out.split("(")[1].split(" ")[0])
    assert usable == int(np.count_nonzero(np.abs(v) >= 0.5))


def test_voltage_sweep_shape_is_told_from_fixed_bias_and_pulses():
    tr, v = sweep("clean", seed=5, n_cycles=2, bipolar=True)
    assert is_voltage_sweep({"Voltage (V)": v})
    assert not is_voltage_sweep({"Voltage (V)": np.full(500, 0.1)})
    assert not is_voltage_sweep({"Voltage (V)": np.tile([1.5, -1.5, 0.1], 100)})
    assert not is_voltage_sweep({"Voltage (V)": v, "Pulse": np.arange(v.size) // 50})
    assert is_voltage_sweep({"Voltage (V)": v, "Pulse": np.full(v.size, -1.0)})  # how sweeps write it


def test_a_simulated_voltage_sweep_file_takes_the_weighted_path(tmp_path, capsys):
    """The file VoltageSweep writes (reads at 0.1 V, Pulse = -1, compliance flags, V = 0
    rows with G = NaN) is recognised as a sweep and analysed end to end."""
    from pathlib import Path

    from labqc.analyze_cli import cycle_starts, load

    path = tmp_path / "bfo.csv"
    assert main(["run", "VoltageSweep", "--sim", "bfo", "--cycles", "2", "--step", "10", "--no-progress",
                 "-o", str(path)]) == 0
    data = load(Path(path))
    assert is_voltage_sweep(data)
    capsys.readouterr()
    assert main(["analyze", str(path), "--no-figures"]) == 0
    out = capsys.readouterr().out
    assert int(out.split("plateaus: ")[1].split(" ")[0]) >= 4
    # The instrument's current noise grows with |I| (read noise a + b|I|): the low-resistance
    # state of each cycle must come out as one long plateau, not cut up by a noise scale
    # the high-resistance samples set.
    res = analyze(data["g_unmasked"], v=data["Voltage (V)"], cycle_starts=cycle_starts(data["Cycle"]))
    lrs = [p for p in res.plateaus if p.raw_level > 20 and p.n >= 200]
    assert len(lrs) == 2, [(p.raw_level, p.n) for p in res.plateaus]
