"""Plateau-detection benchmark (issue 17).

First the field families (benchmarks/plateau_fields.py): easy, realistic, noisy, hard and
short, 12 traces each with R_s unknown (0-600 ohm), half of them long records without cycle
marks; per family the mean and worst-trace F1 of the offline detector (R_s estimated, and
with the true R_s), the online detector and the baseline, the R_s error (median, worst)
and the targets. They are scored on held-back seeds that no tuning run looked at (the seed
ranges are printed). Then the older scenarios on one long trace each (clean, realistic,
hard, a voltage sweep, 500-pulse trains).

Detectors:
- labqc's offline detector (labqc.plateaus.analyze, R_s by the profile likelihood of labqc.series),
- labqc's online detector (labqc.online.OnlineDetector, fed in chunks of 1000 samples,
  R_s from the offline estimate as a live dashboard would get it after the first cycles),
- the ~40-line baseline of issue 17 (:func:`baseline`: KernelCPD on the whole trace, its own
  R_s grid search, nearest half-integer within 0.12 G0);
scored with level-aware one-to-one matching (labqc.scoring). The voltage sweep is also
analysed unmasked with the V²-weighted segmentation (analyze(..., v=V)), side by side with
the masked G.

The online detector's first call (numba's compile or cache load, once per process) is
timed on its own and kept out of its throughput.
Throughput is samples per second of CPU time of this process (time.process_time), so
that other jobs on a shared machine do not distort it. Prints one line per scenario, then
the whole result as JSON on the last line.
Usage: python benchmarks/plateaus.py [--quick] [--tune-seeds]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

# Benchmark the checkout this file is in (a worktree), not whichever labqc is installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dataclasses import dataclass, replace

import numpy as np
import ruptures as rpt  # noqa: E402

from labqc import rs
from labqc.units import G0
from labqc.online import OnlineDetector, plateaus_from_events, warm_up
from labqc.plateaus import analyze, robust_sigma
from labqc.scoring import score_plateaus
import plateau_fields as pf  # noqa: E402  (next to this file)
from labqc.synthetic import TraceSpec, TruthPlateau, Trace, make_trace, pulse_train, scenario, voltage_sweep_trace


@dataclass(frozen=True)
class Claim:
    start: int
    stop: int
    quantum: float | None


def baseline(g: np.ndarray, *, min_length: int = 20, penalty: float = 10.0) -> list[Claim]:
    """The ~40-line baseline of issue 17, exactly as described there.

    ruptures KernelCPD(kernel="linear") with penalty 10·sigma²·ln n on the whole trace (sigma
    from the MAD of first differences), segments of >= 20 samples, their medians; R_s by a
    grid search over 0-800 ohm in 2 ohm steps minimising the duration-weighted squared
    distance of the corrected medians to the half-integer comb; a level within 0.12 G0 of a
    half-integer gets it, otherwise None.
    """
    finite = np.flatnonzero(np.isfinite(g))
    x = g[finite]
    if x.size < 2 * min_length:
        return []
    sigma = max(robust_sigma(x), 1e-4)
    ends = rpt.KernelCPD(kernel="linear", min_size=3).fit(x).predict(pen=penalty * sigma**2 * np.log(x.size))
    seg = [(s, e) for s, e in zip([0] + ends[:-1], ends) if e - s >= min_length]
    if not seg:
        return []
    med = np.array([np.median(x[s:e]) for s, e in seg])
    dur = np.array([e - s for s, e in seg], dtype=float)
    grid = np.arange(0.0, 800.0 + 1e-9, 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = med[None, :] / (1.0 - grid[:, None] * G0 * med[None, :])
    dist = np.where(corr > 0, corr - np.round(2 * corr) / 2, 0.25)
    r_s = float(grid[np.argmin((dur[None, :] * dist**2).sum(axis=1))])
    out = []
    for (s, e), level in zip(seg, rs.correct(med, r_s)):
        q = round(2 * level) / 2 if np.isfinite(level) else np.nan
        quantum = q if (np.isfinite(level) and abs(level - q) <= 0.12 and q >= 0.5) else None
        out.append(Claim(int(finite[s]), int(finite[e - 1]) + 1, quantum))
    return out


def alarm_delays(events, truth: list[TruthPlateau], horizon: int = 100) -> np.ndarray:
    """Samples from each abrupt true change to the first change alarm at or after it."""
    alarms = np.array(sorted(e.alarm for e in events if e.kind == "change"), dtype=float)
    out = []
    for prev, nxt in zip(truth[:-1], truth[1:]):
        if prev.stop != nxt.start or prev.cycle != nxt.cycle:
            continue
        k = np.searchsorted(alarms, nxt.start)
        if k < alarms.size and alarms[k] - nxt.start < horizon:
            out.append(alarms[k] - nxt.start)
    return np.asarray(out)


def _clip_truth(trace: Trace, valid: np.ndarray) -> Trace:
    """Truth with each plateau shrunk to its first..last valid sample (masked samples near
    V = 0 carry no conductance, so no detector can place a boundary inside them)."""
    pos = np.flatnonzero(valid)
    truth = []
    for t in trace.truth:
        a, b = np.searchsorted(pos, t.start), np.searchsorted(pos, t.stop) - 1
        if a <= b:
            truth.append(replace(t, start=int(pos[a]), stop=int(pos[b]) + 1))
    return Trace(g=trace.g, truth=truth, cycle_starts=trace.cycle_starts, spec=trace.spec, g_true=trace.g_true)


def low(p) -> bool:
    """Stratum at or below 5 G0 (true plateaus by level, detections by assigned quantum)."""
    level = p.level if isinstance(p, TruthPlateau) else p.quantum
    return level is None or level <= 5.0


def _stratum(items, keep):
    return [p for p in items if keep(p)]


def sweep_v2_weighted(trace: Trace, v: np.ndarray, masked, clipped: Trace, *, min_length: int = 20) -> dict:
    """The offline detector on the full, unmasked voltage-sweep trace with the V²-weighted
    segmentation (analyze(..., v=v)), scored against the unclipped truth; for a like-for-like
    comparison also both ways round: this one against the ``clipped`` truth the masked path
    is scored on, and the ``masked`` path's plateaus against the unclipped truth."""
    opts = {} if min_length == 20 else {"min_length": min_length}
    t0 = time.process_time()
    res = analyze(trace.g, cycle_starts=trace.cycle_starts, v=v, **opts)
    t = time.process_time() - t0
    n = trace.g.size
    s = score_plateaus(res.plateaus, trace.truth, n, min_length=min_length)
    low_s = score_plateaus(_stratum(res.plateaus, low), _stratum(trace.truth, low), n, min_length=min_length)
    return {
        **s.as_dict(), "f1_le_5G0": round(low_s.f1, 4),
        "f1_truth_clipped": round(score_plateaus(res.plateaus, clipped.truth, n, min_length=min_length).f1, 4),
        "masked_f1_truth_unclipped": round(score_plateaus(masked, trace.truth, n, min_length=min_length).f1, 4),
        "r_series": round(res.r_series, 2),
        "sigma_r_series": round(res.sigma_r_series, 2), "samples_per_s": round(n / t),
    }


def run_scenario(name: str, trace: Trace, *, min_length: int = 20, v_mask=None, v=None, online_chunk: int = 1000) -> dict:
    """Score every detector on ``trace``; with a bias ``v`` (voltage sweep) also the
    V²-weighted offline detector on the unmasked trace (key "offline_v2_weighted")."""
    full = trace
    g = trace.g.copy()
    if v_mask is not None:
        g[v_mask] = np.nan
        trace = _clip_truth(trace, ~v_mask)
    n = g.size
    opts = {} if min_length == 20 else {"min_length": min_length}

    t0 = time.process_time()
    res = analyze(g, cycle_starts=trace.cycle_starts, **opts)
    t_off = time.process_time() - t0
    ours = score_plateaus(res.plateaus, trace.truth, n, min_length=min_length)
    known, ignored = (
        score_plateaus(analyze(g, cycle_starts=trace.cycle_starts, r_series=r, **opts).plateaus,
                       trace.truth, n, min_length=min_length)
        for r in (trace.r_series, 0.0)
    )

    det = OnlineDetector(r_series=res.r_series, min_length=min_length)
    events = []
    t0 = time.process_time()
    for a in range(0, n, online_chunk):
        events += det.update(g[a : a + online_chunk])
    events += det.finish()
    t_on = time.process_time() - t0
    online = score_plateaus(plateaus_from_events(events, n), trace.truth, n, min_length=min_length)
    delays = alarm_delays(events, trace.truth)

    t0 = time.process_time()
    base_claims = baseline(g, min_length=min_length)
    t_base = time.process_time() - t0
    base = score_plateaus(base_claims, trace.truth, n, min_length=min_length)

    ours_low = score_plateaus(_stratum(res.plateaus, low), _stratum(trace.truth, low), n, min_length=min_length)
    base_low = score_plateaus(_stratum(base_claims, low), _stratum(trace.truth, low), n, min_length=min_length)

    out = {
        "samples": n,
        "r_series_true": trace.r_series,
        "offline": {
            **ours.as_dict(),
            "f1_le_5G0": round(ours_low.f1, 4),
            "f1_rs_known": round(known.f1, 4),
            "f1_rs_ignored": round(ignored.f1, 4),
            "r_series": round(res.r_series, 2),
            "sigma_r_series": round(res.sigma_r_series, 2),
            "r_series_error": round(res.r_series - trace.r_series, 2),
            "r_series_error_pct": round(100 * (res.r_series - trace.r_series) / trace.r_series, 2)
            if trace.r_series else None,
            "samples_per_s": round(n / t_off),
        },
        "online": {
            **online.as_dict(),
            "alarm_delay_median": float(np.median(delays)) if delays.size else None,
            "alarm_delay_p90": float(np.percentile(delays, 90)) if delays.size else None,
            "changes_alarmed": int(delays.size),
            "samples_per_s": round(n / t_on),
        },
        "baseline_kernelcpd": {**base.as_dict(), "f1_le_5G0": round(base_low.f1, 4), "samples_per_s": round(n / t_base)},
    }
    o, on, b = out["offline"], out["online"], out["baseline_kernelcpd"]
    sweep = ""
    if v is not None:
        w = out["offline_v2_weighted"] = sweep_v2_weighted(full, v, res.plateaus, trace, min_length=min_length)
        sweep = (f" | offline F1 masked {o['f1']:.3f} vs V²-weighted {w['f1']:.3f} "
                 f"[on one truth: clipped {o['f1']:.3f}/{w['f1_truth_clipped']:.3f}, "
                 f"unclipped {w['masked_f1_truth_unclipped']:.3f}/{w['f1']:.3f}] "
                 f"(P/R {w['precision']:.3f}/{w['recall']:.3f}, bnd {w['boundary_median']:.0f}/{w['boundary_p90']:.0f}, "
                 f"R_s {w['r_series']:.1f}, {w['samples_per_s'] / 1e6:.2f} MS/s)")
    print(
        f"{name:>10}: n={n:7d} | offline P/R/F1 {o['precision']:.3f}/{o['recall']:.3f}/{o['f1']:.3f} "
        f"FP/1k {o['false_per_1000']:.3f} bnd {o['boundary_median']:.0f}/{o['boundary_p90']:.0f} "
        f"R_s {o['r_series']:.1f}±{o['sigma_r_series']:.1f} (true {trace.r_series:.0f}) {o['samples_per_s'] / 1e6:.2f} MS/s"
        f" | online F1 {on['f1']:.3f} delay {on['alarm_delay_median']}/{on['alarm_delay_p90']} {on['samples_per_s'] / 1e6:.2f} MS/s"
        f" | baseline F1 {b['f1']:.3f} P {b['precision']:.3f} {b['samples_per_s'] / 1e6:.2f} MS/s" + sweep,
        flush=True,
    )
    return out


def pulse_trace(n_trains: int, seed: int = 0) -> Trace:
    """Concatenated 500-pulse RESET trains (one sample per pulse) with run-length truth."""
    gs, truth, starts = [], [], []
    pos = 0
    for k in range(n_trains):
        g, level = pulse_train(
            500, seed=seed + k, start_level=float(np.random.default_rng(seed + k).integers(16, 40)) / 2,
            white=0.12, p_step=0.05,
        )
        starts.append(pos)
        change = np.flatnonzero(np.diff(level)) + 1
        bounds = np.concatenate([[0], change, [level.size]])
        for a, b in zip(bounds[:-1], bounds[1:]):
            truth.append(TruthPlateau(pos + int(a), pos + int(b), float(level[a]), True, k))
        gs.append(g)
        pos += g.size
    return Trace(g=np.concatenate(gs), truth=truth, cycle_starts=np.asarray(starts), spec=TraceSpec(r_series=200.0))


def online_first_call_s() -> float:
    """Wall time of the online detector's first update in this process: numba loads its
    compiled kernel from the cache (or compiles it, the first time on a machine). Paid once
    per process, so it is reported here and kept out of the throughput figures."""
    t0 = time.perf_counter()
    warm_up()
    return round(time.perf_counter() - t0, 3)


def series_first_call_s() -> float:
    """Wall time of the R_s fit's first call (its compiled profile: numba compile or cache load)."""
    from labqc.series import fit_series_resistance

    t0 = time.perf_counter()
    fit_series_resistance(np.array([1.0, 2.0, 3.5, 5.0]), np.full(4, 100.0))
    return round(time.perf_counter() - t0, 3)


def sweep_first_call_s() -> float:
    """Wall time of the V²-weighted PELT's first call (numba compile or cache load)."""
    from labqc.sweep_segments import segment_sweep

    t0 = time.perf_counter()
    segment_sweep(np.ones(16), np.linspace(0.1, 1.0, 16))
    return round(time.perf_counter() - t0, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a quarter of the default size")
    parser.add_argument("--tune-seeds", action="store_true",
                        help="score the field families on the tuning seeds instead of the held-back ones")
    args = parser.parse_args()
    cycles = 29 if args.quick else 116
    first_call = online_first_call_s()
    sweep_first = sweep_first_call_s()
    series_first = series_first_call_s()
    print(f"field families on the {'tuning' if args.tune_seeds else 'held-back'} seeds "
          f"(tuned on seeds {pf.TUNE_SEEDS.start}-{pf.TUNE_SEEDS.stop - 1}, reported on "
          f"{pf.HELD_BACK_SEEDS.start}-{pf.HELD_BACK_SEEDS.stop - 1}, + {pf.FAMILY_OFFSET} per family)", flush=True)
    fields = {name: pf.run_family(name, baseline, held_back=not args.tune_seeds, quick=args.quick)
              for name in pf.FIELD_SCENARIOS}
    field_summary = {k: v["summary"] for k, v in fields.items()}
    field_ok = {k: all(v["meets_targets"].values()) for k, v in field_summary.items()}
    results = {}
    for name in ("clean", "realistic", "hard"):
        trace = make_trace(scenario(name, n_cycles=cycles, seed=2024))
        results[name] = run_scenario(name, trace)

    sweep_spec = replace(scenario("realistic", seed=7), n_cycles=max(cycles // 6, 4), dwell_median=700.0)
    trace, v = voltage_sweep_trace(sweep_spec, sigma_i=1e-6)
    results["voltage_sweep"] = run_scenario("v-sweep", trace, v_mask=np.abs(v) < 0.05, v=v)

    results["pulses_500"] = run_scenario("500-pulse", pulse_trace(cycles), min_length=5)

    margin = {k: round(r["offline"]["f1"] - r["baseline_kernelcpd"]["f1"], 4) for k, r in results.items()}

    def verdict(k: str) -> str:
        ours, theirs = results[k]["offline"]["f1"], results[k]["baseline_kernelcpd"]["f1"]
        if ours == theirs == 1.0:
            return "ties at 1.0"  # both perfect: nothing can beat that
        return "beats" if ours > theirs else ("ties" if ours == theirs else "loses")

    verdicts = {k: verdict(k) for k in results}
    long = [k for k in results if k != "pulses_500"]
    offline_min = min(r["offline"]["samples_per_s"] for r in results.values())
    online_min = min(r["online"]["samples_per_s"] for r in results.values())
    summary = {
        "f1_margin_over_baseline": margin,
        "f1_vs_baseline": verdicts,
        # "beats" everywhere, a perfect tie at F1 = 1 (clean) counting as the best possible.
        "beats_baseline_f1_everywhere": (
            True if all(v == "beats" for v in verdicts.values())
            else "beats, ties at 1.0 on " + ", ".join(k for k, v in verdicts.items() if v == "ties at 1.0")
            if all(v in ("beats", "ties at 1.0") for v in verdicts.values()) else False
        ),
        "min_offline_samples_per_s": offline_min,
        "min_online_samples_per_s": online_min,
        "min_offline_samples_per_s_long_traces": min(results[k]["offline"]["samples_per_s"] for k in long),
        "min_online_samples_per_s_long_traces": min(results[k]["online"]["samples_per_s"] for k in long),
        "pulse_train_samples_per_s": {
            "offline": results["pulses_500"]["offline"]["samples_per_s"],
            "online": results["pulses_500"]["online"]["samples_per_s"],
        },
        "online_first_call_s": first_call,
        "sweep_first_call_s": sweep_first,
        "series_fit_first_call_s": series_first,
        # Masked G (|V| < 0.05 V dropped, truth clipped) against the V²-weighted cost on the
        # full trace (truth as generated).
        "voltage_sweep_offline_f1": {
            "masked": results["voltage_sweep"]["offline"]["f1"],
            "v2_weighted": results["voltage_sweep"]["offline_v2_weighted"]["f1"],
        },
        "hard_offline": {k: results["hard"]["offline"][k] for k in ("precision", "recall", "f1")},
        "targets": {"offline_samples_per_s": 5e5, "online_samples_per_s": 1e6, "hard_f1": 0.90, "hard_precision": 0.96},
        "meets_targets": {
            "offline_samples_per_s": offline_min >= 5e5,
            "online_samples_per_s": online_min >= 1e6,
            "hard_f1": results["hard"]["offline"]["f1"] >= 0.90,
            "hard_precision": results["hard"]["offline"]["precision"] >= 0.96,
        },
    }
    summary["field_families"] = field_summary
    summary["field_targets"] = pf.TARGETS
    summary["field_meets_all_targets"] = field_ok
    summary["meets_targets"]["field_offline_samples_per_s"] = min(
        v["offline_samples_per_s"] for v in field_summary.values()) >= 5e5
    summary["meets_targets"]["field_online_samples_per_s"] = min(
        v["online_samples_per_s"] for v in field_summary.values()) >= 1e6
    print(json.dumps({"field_families": fields, "scenarios": results, "summary": summary}))


if __name__ == "__main__":
    main()
