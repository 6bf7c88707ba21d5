"""The plateau overlay of the conductance view, as a function of the data on screen and the
R_s in the toolbar (no Qt here).

A detector (online while a run streams, offline for a file) only says *where* plateaus
are: spans of rows. What is drawn for each span comes from the measured G/G0 of those
rows, now:

- its level is the median of the measured samples, corrected for the R_s on screen with
  the one correction there is (labqc.rs), so changing R_s moves the lines with the trace;
- its quantum and confidence are scored by labqc.levels for that R_s; a level within the
  grid tolerance of n/2 is never called "off-grid" (an unassignable one is shown as
  "≈ n G0");
- a span whose samples are not one flat level (a trace toggling between pulse and read
  values, a switching event) is not drawn: fewer than FLAT_FRACTION of its samples lie
  within max(BAND_ABS, BAND_REL·level) of the median.

The robust statistics of a closed span do not depend on R_s and are computed once; an
open span's are recomputed from its newest OPEN_TAIL samples.

:func:`place_labels` lays labels out without overlaps (greedy, longest plateau first).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from labqc import rs
from labqc.levels import TOLERANCE, assign_levels

BAND_ABS = 0.2  # G0: samples this close to the median belong to the level...
BAND_REL = 0.05  # ...or this fraction of it, whichever is larger (fluctuations grow with n)
FLAT_FRACTION = 0.8  # share of a span's samples on its level for it to be drawn
OPEN_TAIL = 5_000  # samples of a still-open plateau its statistics are taken from
MAD_TO_SIGMA = 1.4826

#: The per-span statistics: median (G/G0 measured), robust sigma, flat share, samples.
Stats = tuple[float, float, float, int]


def span_stats(g: np.ndarray) -> Stats:
    """Robust statistics of one span's measured G/G0 samples (NaNs ignored)."""
    g = np.asarray(g, dtype=np.float64)
    g = g[np.isfinite(g)]
    if not g.size:
        return float("nan"), float("nan"), 0.0, 0
    med = float(np.median(g))
    dev = np.abs(g - med)
    band = max(BAND_ABS, BAND_REL * abs(med))
    return med, MAD_TO_SIGMA * float(np.median(dev)), float(np.mean(dev <= band)), int(g.size)


@dataclass(frozen=True)
class Overlay:
    """The plateaus to draw, as arrays of equal length (only the flat spans)."""

    start: np.ndarray  # first row
    stop: np.ndarray  # row after the last
    level: np.ndarray  # G/G0 corrected with the R_s on screen
    nearest: np.ndarray  # nearest multiple of 0.5
    quantum: np.ndarray  # assigned level, NaN where not assigned
    confidence: np.ndarray
    assignable: np.ndarray  # False: no verdict possible (too noisy, R_s too uncertain)
    hidden: int  # spans not drawn (not one flat level)

    def __len__(self) -> int:
        return int(self.start.size)

    def label(self, k: int) -> str:
        return plateau_label(float(self.level[k]), float(self.nearest[k]), float(self.quantum[k]),
                             float(self.confidence[k]), bool(self.assignable[k]))


def plateau_label(level: float, nearest: float, quantum: float, confidence: float,
                  assignable: bool = True) -> str:
    """"2 G0, conf 93 %" on the grid; "≈1 G0 (1.04)" within the grid tolerance but not
    assigned; "1.31 G0 (off-grid)" only when it is off and a verdict was possible, else
    "1.31 G0 (unassigned)" (too noisy, R_s too uncertain)."""
    if np.isfinite(quantum):
        return f"{quantum:g} G0, conf {100 * confidence:.0f} %"
    if level < 0.5 - TOLERANCE:  # below the first half quantum: no grid level to be off from
        return f"{level:.2g} G0"
    if np.isfinite(nearest) and nearest >= 0.5 and abs(level - nearest) <= TOLERANCE:
        return f"≈{nearest:g} G0 ({level:.2f})"
    return f"{level:.2f} G0 ({'off-grid' if assignable else 'unassigned'})"


def build_overlay(start: np.ndarray, stop: np.ndarray, stats: np.ndarray, r_series: float) -> Overlay:
    """The overlay of spans [start, stop) with their :data:`Stats` rows (n × 4) at R_s."""
    med, sigma, flat, n = (stats[:, k] for k in range(4)) if len(stats) else (np.zeros(0),) * 4
    keep = (flat >= FLAT_FRACTION) & np.isfinite(med) & (n > 0)
    if not keep.any():
        empty = np.zeros(0)
        return Overlay(empty.astype(np.int64), empty.astype(np.int64), empty, empty, empty, empty,
                       empty.astype(bool), int(len(start)))
    scored = assign_levels(med[keep], n[keep], sigma[keep], r_series=float(r_series))
    level = rs.correct(med[keep], float(r_series))
    return Overlay(start[keep], stop[keep], np.asarray(level, dtype=float), scored.nearest, scored.quantum,
                   scored.confidence, scored.assignable, int((~keep).sum()))


def join_overlays(first: Overlay, second: Overlay) -> Overlay:
    """The spans of ``first`` followed by those of ``second`` (each span is scored on its
    own, so an overlay built in parts equals the one built at once)."""
    cat = np.concatenate
    return Overlay(cat([first.start, second.start]), cat([first.stop, second.stop]),
                   cat([first.level, second.level]), cat([first.nearest, second.nearest]),
                   cat([first.quantum, second.quantum]), cat([first.confidence, second.confidence]),
                   cat([first.assignable, second.assignable]), first.hidden + second.hidden)


# ---------------------------------------------------------------------------- labels
Rect = tuple[float, float, float, float]  # left, top, right, bottom (pixels, y down)


def _overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def place_labels(candidates: Sequence[tuple[float, float, float, float]], size: Callable[[int], tuple[float, float]],
                 view: Rect, avoid: Sequence[Rect] = (), most: int = 8) -> list[tuple[int, float, float]]:
    """Where to put labels so that none overlaps another, the avoided rectangles (the
    legend) or the view's edge.

    ``candidates``: per plateau, in priority order, (x_left, x_right, y, _) in pixels of
    its visible part; ``size(k)``: (width, height) of label k's text. A label sits just
    above its line, at the line's left end (moved left if it would leave the view on the
    right), else just below it; a label that fits nowhere is left out (thinning a crowd).
    Returns (candidate index, left, top) of the placed labels, at most ``most``.
    """
    placed: list[Rect] = []
    out = []
    for k, (x0, x1, y, _) in enumerate(candidates):
        if len(out) >= most:
            break
        w, h = size(k)
        left = min(max(x0, view[0]), view[2] - w)
        if left < view[0]:
            continue  # wider than the view
        for top in (y - h, y + 1):
            rect = (left, top, left + w, top + h)
            inside = rect[1] >= view[1] and rect[3] <= view[3]
            if inside and not any(_overlaps(rect, r) for r in placed) and not any(_overlaps(rect, r) for r in avoid):
                placed.append(rect)
                out.append((k, left, top))
                break
    return out


__all__ = ["Overlay", "build_overlay", "join_overlays", "span_stats", "plateau_label", "place_labels", "FLAT_FRACTION"]
