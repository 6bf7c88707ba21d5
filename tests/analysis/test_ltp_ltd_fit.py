"""The potentiation/depression non-linearity fit (science.md, BiFeO3: A = 5.08 LTP, 4.85 LTD)
on the reads of a train: recovered from synthetic trains written from the papers' formula,
stored in the PulseTrain summary as a_ltp/a_ltd, and printed by `labqc analyze` with the
same values."""
import numpy as np
import pandas as pd
import pytest

from labqc.cli import main
from labqc.fits import fit_potentiation_depression, ltp_ltd_record
from labqc.instruments.target import Target
from labqc.procedures import PulseTrain
from labqc.procedures.runner import run_procedure
from labqc.units import G0


def papers_train(a_ltp, a_ltd, n=30, g_min=1.0, g_max=6.0, noise=0.03, seed=0):
    """Reads of an LTP then an LTD phase from the papers' formulas (P = 1..n in each)."""
    rng = np.random.default_rng(seed)
    p = np.arange(1, n + 1, dtype=float)
    b_ltp = (g_max - g_min) / (1 - np.exp(-n / a_ltp))
    ltp = b_ltp * (1 - np.exp(-p / a_ltp)) + g_min
    # G_LTD = -B(1 - e^(-(P'-P_max)/A)) + G_max with P' from P_max (start of LTD) down:
    # written with P = pulses since the start of depression it falls from G_max.
    b_ltd = (g_max - g_min) / (1 - np.exp(-n / a_ltd))
    ltd = g_max - b_ltd * (1 - np.exp(-p / a_ltd))
    g = np.concatenate([ltp, ltd]) + rng.normal(0, noise, 2 * n)
    return np.concatenate([p, p + n]), g, np.repeat([1, 2], n)


@pytest.mark.parametrize("seed", [3, 17, 40])
def test_the_papers_a_values_are_recovered_within_their_uncertainty(seed):
    pulse, g, phase = papers_train(5.08, 4.85, seed=seed)
    fits = fit_potentiation_depression(pulse, g, phase)
    rec = ltp_ltd_record(fits)
    assert abs(rec["a_ltp"] - 5.08) < 4 * rec["a_ltp_sigma"] and rec["a_ltp_sigma"] < 1.0
    assert abs(rec["a_ltd"] - 4.85) < 4 * rec["a_ltd_sigma"] and rec["a_ltd_sigma"] < 1.0


def test_a_phase_with_too_few_reads_is_not_fitted():
    pulse, g, phase = papers_train(5.0, 5.0)
    keep = (phase == 1) | (pulse < 33)  # 2 LTD reads only
    fits = fit_potentiation_depression(pulse[keep], g[keep], phase[keep])
    assert fits["LTP"] is not None and fits["LTD"] is None
    assert np.isnan(ltp_ltd_record(fits)["a_ltd"])


def test_summary_stores_a_ltp_and_analyze_prints_the_same_fit(tmp_path, capsys):
    proc = PulseTrain(mode="ltp-ltd", count=30, read_voltage=0.2)
    result = run_procedure(proc, tmp_path / "ltp.csv", target=Target(preset="bfo", seed=2), catalog=None)
    s = result.summary
    assert np.isfinite(s["a_ltp"]) and np.isfinite(s["a_ltd"]) and s["a_ltp_sigma"] > 0
    # Recomputed here from the file's read rows, with the fit alone.
    rows = pd.read_csv(result.path, comment="#")
    reads = rows[rows["Segment"] == "read"]
    again = ltp_ltd_record(fit_potentiation_depression(reads["Pulse"], reads["G/G0"], reads["Cycle"]))
    assert again["a_ltp"] == pytest.approx(s["a_ltp"]) and again["a_ltd"] == pytest.approx(s["a_ltd"])
    assert main(["analyze", str(result.path), "--r-series", "0", "--no-figures"]) == 0
    out = capsys.readouterr().out
    assert f"A_LTP = {s['a_ltp']:.3g}" in out and f"A_LTD = {s['a_ltd']:.3g}" in out
