"""Level-aware scoring of detected plateaus against ground truth.

A true plateau counts if it is quantised and at least ``min_length`` samples long. A
detection claims a plateau when it carries a quantum level; it matches a true plateau when
both have the same level and their overlap is at least half of *each* length (which makes
the matching one-to-one, since true plateaus do not overlap). Detections that match a true
quantised plateau shorter than ``min_length`` are neither hits nor false plateaus.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    f1: float
    n_true: int
    n_detected: int
    n_matched: int
    false_per_1000: float
    boundary_median: float
    boundary_p90: float

    def as_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def score_plateaus(detected: Sequence, truth: Sequence, n_samples: int, *, min_length: int = 20) -> Score:
    """Precision, recall, F1, false plateaus per 1000 samples and boundary errors (samples).

    ``detected`` items need start, stop and quantum; ``truth`` items start, stop, level, quantised.
    """
    claims = [d for d in detected if d.quantum is not None]
    t_start = np.array([t.start for t in truth], dtype=int)
    t_stop = np.array([t.stop for t in truth], dtype=int)
    t_level = np.array([t.level for t in truth], dtype=float)
    t_quant = np.array([t.quantised for t in truth], dtype=bool)
    counted = t_quant & (t_stop - t_start >= min_length)
    matched_truth = np.zeros(len(truth), dtype=bool)
    n_hits = n_false = 0
    bnd: list[int] = []
    for d in claims:
        length = d.stop - d.start
        k = int(np.searchsorted(t_stop, d.start, side="right"))
        hit = None
        while k < len(truth) and t_start[k] < d.stop:
            overlap = min(d.stop, t_stop[k]) - max(d.start, t_start[k])
            if (
                t_quant[k]
                and abs(t_level[k] - d.quantum) < 1e-9
                and overlap >= 0.5 * length
                and overlap >= 0.5 * (t_stop[k] - t_start[k])
            ):
                hit = k
                break
            k += 1
        if hit is None:
            n_false += 1
        elif counted[hit] and not matched_truth[hit]:
            matched_truth[hit] = True
            n_hits += 1
            bnd += [abs(d.start - t_start[hit]), abs(d.stop - t_stop[hit])]
        elif matched_truth[hit]:
            n_false += 1  # a second claim on the same true plateau
    n_true = int(counted.sum())
    n_det = n_hits + n_false
    precision = n_hits / n_det if n_det else 1.0
    recall = n_hits / n_true if n_true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    b = np.asarray(bnd, dtype=float)
    return Score(
        precision=float(precision),
        recall=float(recall),
        f1=float(f1),
        n_true=n_true,
        n_detected=n_det,
        n_matched=n_hits,
        false_per_1000=1000.0 * n_false / max(n_samples, 1),
        boundary_median=float(np.median(b)) if b.size else float("nan"),
        boundary_p90=float(np.percentile(b, 90)) if b.size else float("nan"),
    )
