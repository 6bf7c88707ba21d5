"""benchmarks/plateaus.py: its --quick run ends in JSON, reports on seeds tuning never saw,
and its baseline is the one issue 17 describes."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from labqc import rs

ROOT = Path(__file__).resolve().parents[2]
sys.path.append(str(ROOT / "benchmarks"))  # after everything else: nothing there shadows

import plateau_fields as pf  # noqa: E402
from plateaus import baseline  # noqa: E402


def test_held_back_seeds_are_not_the_tuning_seeds():
    for name in pf.FIELD_SCENARIOS:
        tuned, held = set(pf.trace_seeds(name, False)), set(pf.trace_seeds(name, True))
        assert len(held) == pf.TRACES and not tuned & held
    every = [s for name in pf.FIELD_SCENARIOS for s in pf.trace_seeds(name, True)]
    assert len(set(every)) == len(every)  # no two families share a trace


def test_baseline_finds_levels_and_its_own_r_s():
    rng = np.random.default_rng(1)
    levels = np.array([1.0, 2.5, 4.0, 6.0, 8.5, 11.0, 7.0, 3.0])
    g = np.repeat(rs.uncorrect(levels, 300.0), 120) + rng.normal(0, 0.02, 960)
    claims = baseline(g)
    assert [c.quantum for c in claims] == list(levels)
    assert [c.start for c in claims] == list(range(0, 960, 120))


def test_quick_run_ends_in_json_with_every_family():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "plateaus.py"), "--quick"],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    fields = result["summary"]["field_families"]
    assert set(fields) == set(pf.FIELD_SCENARIOS)
    for name, s in fields.items():
        assert s["seeds"].startswith(str(pf.trace_seeds(name, True)[0]))
        for key in ("offline_f1_mean", "offline_f1_worst", "baseline_f1_mean", "online_f1_mean",
                    "offline_true_rs_f1_mean"):
            assert 0.0 <= s[key] <= 1.0
        assert s["r_series_error_median"] <= s["r_series_error_worst"]
        assert set(s["meets_targets"]) == {"f1", "worst_trace_f1", "estimated_vs_true_rs", "beats_baseline",
                                           "online_within_offline"}
