"""The field families of benchmarks/plateaus.py: many traces per scenario, R_s unknown.

Each family (labqc.synthetic.FIELD_SCENARIOS) is scored on TRACES traces, half of them
one long record without cycle marks, half multi-cycle files, each with its own R_s drawn
from 0-600 ohm. Detection was tuned on the TUNE_SEEDS only; the figures reported (and the
targets) are on the HELD_BACK_SEEDS, which no tuning run ever looked at.

Per trace: the offline detector with R_s estimated and with the true R_s, the online
detector (R_s and its uncertainty from the offline fit, as the dashboard gets them), and
the issue-17 baseline (benchmarks/plateaus.py: baseline), all scored with labqc.scoring.
"""
from __future__ import annotations

import time

import numpy as np

from labqc.online import OnlineDetector, plateaus_from_events
from labqc.plateaus import analyze
from labqc.scoring import score_plateaus
from labqc.synthetic import FIELD_SCENARIOS, field_scenario, make_field_trace

TRACES = 12
TUNE_SEEDS = range(0, 12)  # seeds 0-11 (+ family offset): used while tuning
HELD_BACK_SEEDS = range(5000, 5012)  # seeds 5000-5011 (+ family offset): reported
# Seeds 2000-2023 (+ family offset) served as a validation range while tuning (issue 17,
# second round): checked after each change, so they are no longer unseen either.
# Seeds 3000-3095 (+ family offset) decided the trace-level telegraph prior (labqc.plateau_merge:
# telegraph_returns, quiet_deltas), before one held-back run.
FAMILY_OFFSET = 100_000  # seed offset between families, so no two share a draw

TARGETS = {
    "f1": {"easy": 0.99, "realistic": 0.98, "noisy": 0.98, "hard": 0.95, "short": 0.97},
    "worst_trace_f1": 0.85,
    "estimated_vs_true_rs_f1_gap": 0.02,
    "online_vs_offline_f1_gap": 0.03,  # on the family's mean F1 (issue 17, deliverable 4)
}


def trace_seeds(name: str, held_back: bool) -> list[int]:
    k = list(FIELD_SCENARIOS).index(name)
    return [s + k * FAMILY_OFFSET for s in (HELD_BACK_SEEDS if held_back else TUNE_SEEDS)]


def run_trace(trace, baseline, *, online_chunk: int = 1000) -> dict:
    """F1 of every detector on one trace, R_s error and CPU times."""
    g, truth, n = trace.g, trace.truth, trace.g.size
    cs = trace.cycle_starts if trace.spec.cycles else None
    t0 = time.process_time()
    res = analyze(g, cycle_starts=cs)
    t_off = time.process_time() - t0
    known = analyze(g, cycle_starts=cs, r_series=trace.r_series)
    det = OnlineDetector(r_series=res.r_series, sigma_rs=res.sigma_r_series_levels, min_length=20,
                         r_series_alternative=res.r_series_alternative if res.r_series_ambiguous else None)
    events = []
    t0 = time.process_time()
    for a in range(0, n, online_chunk):
        events += det.update(g[a : a + online_chunk])
    events += det.finish()
    t_on = time.process_time() - t0
    t0 = time.process_time()
    base = baseline(g)
    t_base = time.process_time() - t0
    f1 = {
        "offline": score_plateaus(res.plateaus, truth, n).f1,
        "offline_true_rs": score_plateaus(known.plateaus, truth, n).f1,
        "online": score_plateaus(plateaus_from_events(events, n), truth, n).f1,
        "baseline": score_plateaus(base, truth, n).f1,
    }
    return {
        "seed": trace.spec.seed, "cycles": trace.spec.cycles, "samples": n,
        "r_series_true": round(trace.r_series, 1), "r_series": round(res.r_series, 1),
        "r_series_interval": [round(v, 1) for v in res.r_series_interval],
        "r_series_ambiguous": bool(res.r_series_ambiguous),
        "f1": {k: round(v, 4) for k, v in f1.items()},
        "t_offline": t_off, "t_online": t_on, "t_baseline": t_base,
    }


def run_family(name: str, baseline, *, held_back: bool = True, quick: bool = False) -> dict:
    """Per-trace results and the family's summary (means, worst traces, R_s errors)."""
    seeds = trace_seeds(name, held_back)[: 4 if quick else TRACES]
    traces = []
    for i, seed in enumerate(seeds):
        spec = field_scenario(name, seed=seed, cycles=bool(i % 2))
        if quick:
            spec = field_scenario(name, seed=seed, cycles=bool(i % 2), n_samples=(2000, 10000))
        traces.append(run_trace(make_field_trace(spec), baseline))
    f1 = {k: np.array([t["f1"][k] for t in traces]) for k in traces[0]["f1"]}
    err = np.abs([t["r_series"] - t["r_series_true"] for t in traces])
    samples = sum(t["samples"] for t in traces)
    gap_rs = float(np.max(f1["offline_true_rs"] - f1["offline"]))
    # The target is on the family's mean F1; the worst single trace is reported too.
    gap_on = float(f1["offline"].mean() - f1["online"].mean())
    gap_on_worst = float(np.max(np.abs(f1["offline"] - f1["online"])))
    target = TARGETS["f1"][name]
    summary = {
        "seeds": f"{seeds[0]}..{seeds[-1]}", "traces": len(traces), "samples": samples,
        **{f"{k}_f1_mean": round(float(v.mean()), 4) for k, v in f1.items()},
        **{f"{k}_f1_worst": round(float(v.min()), 4) for k, v in f1.items()},
        "r_series_error_median": round(float(np.median(err)), 2),
        "r_series_error_worst": round(float(np.max(err)), 2),
        "ambiguous_traces": int(sum(t["r_series_ambiguous"] for t in traces)),
        "max_f1_gap_true_vs_estimated_rs": round(gap_rs, 4),
        "mean_f1_gap_offline_vs_online": round(gap_on, 4),
        "max_trace_f1_gap_offline_vs_online": round(gap_on_worst, 4),
        "offline_samples_per_s": round(samples / sum(t["t_offline"] for t in traces)),
        "online_samples_per_s": round(samples / sum(t["t_online"] for t in traces)),
        "baseline_samples_per_s": round(samples / sum(t["t_baseline"] for t in traces)),
    }
    summary["meets_targets"] = {k: bool(v) for k, v in {
        "f1": summary["offline_f1_mean"] >= target,
        "worst_trace_f1": summary["offline_f1_worst"] >= TARGETS["worst_trace_f1"],
        "estimated_vs_true_rs": gap_rs <= TARGETS["estimated_vs_true_rs_f1_gap"],
        "beats_baseline": summary["offline_f1_mean"] > summary["baseline_f1_mean"],
        "online_within_offline": abs(gap_on) <= TARGETS["online_vs_offline_f1_gap"],
    }.items()}
    print(
        f"{name:>10} (seeds {summary['seeds']}, {len(traces)} traces, {samples} samples): "
        f"offline F1 {summary['offline_f1_mean']:.3f} (worst {summary['offline_f1_worst']:.3f}) "
        f"true-R_s {summary['offline_true_rs_f1_mean']:.3f} gap<= {gap_rs:.3f} | "
        f"online {summary['online_f1_mean']:.3f} (worst {summary['online_f1_worst']:.3f}, "
        f"gap mean {gap_on:.3f} worst trace {gap_on_worst:.3f}) | "
        f"baseline {summary['baseline_f1_mean']:.3f} (worst {summary['baseline_f1_worst']:.3f}) | "
        f"R_s err median {summary['r_series_error_median']:.1f} worst {summary['r_series_error_worst']:.1f} ohm, "
        f"{summary['ambiguous_traces']} ambiguous | {summary['offline_samples_per_s'] / 1e6:.2f} / "
        f"{summary['online_samples_per_s'] / 1e6:.2f} MS/s",
        flush=True,
    )
    return {"summary": summary, "traces": [{k: v for k, v in t.items() if not k.startswith("t_")} for t in traces]}
