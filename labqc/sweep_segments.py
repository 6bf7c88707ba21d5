"""Change points of a voltage sweep with the V²-weighted cost.

In a voltage sweep the conductance G = I/V has noise σ_G = σ_I/|V|, which diverges near
V = 0: an L2 segmentation of G itself cuts the near-zero-bias stretches into many pieces
(or needs them masked away). Weighting each sample by V² turns the L2 cost of G into the
residual of a regression of the current on the bias through the origin:

    C(segment) = Σ_t V_t² (G_t − Ĝ)² = Σ_t (I_t − Ĝ·V_t)²,   Ĝ = Σ I·V / Σ V²

so every sample counts with the weight its current actually carries (none at V = 0) and
Ĝ is the least-squares conductance of the segment. With cumulative sums of I², I·V and V²
the cost of any segment is O(1):  C = S_II − S_IV²/S_VV.

The optimum of Σ C + β·(number of segments) is found exactly by PELT (Killick, Fearnhead &
Eckley 2012; the cost is additive and a least-squares cost never drops when a segment is
split, so pruning with K = 0 is exact), compiled with numba: O(n) expected when the trace
has changes throughout, O(n²) worst case. The penalty follows the offline detector's rule
β = c·σ_I²·ln n, in current units: σ_I is the white-noise scale of the current, estimated
robustly from its second differences (a linear bias ramp at constant G vanishes there, a
step in G spoils only a few of them).

Instrument current noise is not constant: it grows with the current (σ_I ≈ a + b·|I|, range
by range), so one σ_I per block, which the many low-current samples set, would cut the
high-current (low-resistance) stretches into pieces. Each sample is therefore weighted by
1/σ_t², σ_t the local scale of the second differences (running median over
``noise_window`` samples), never below the block's σ_I:

    C(segment) = Σ_t (σ_I/σ_t)²·(I_t − Ĝ·V_t)²,   penalty c·σ_I²·ln n as before

(Ĝ then the weighted least-squares slope). With constant noise σ_t = σ_I, and this is the
V² cost above; ``noise_window=0`` makes it exactly that. Still O(1) per segment: the cumulative sums are
of I²/σ², I·V/σ² and V²/σ².

Units only need to be consistent: the offline detector passes I = G/G0·V (G0·V) and V (V).
"""
from __future__ import annotations

import numba
import numpy as np
from scipy.ndimage import median_filter

NOISE_WINDOW = 31  # samples in the running median of the local current-noise scale


@numba.njit(cache=True)
def _pelt(s_ii: np.ndarray, s_iv: np.ndarray, s_vv: np.ndarray, pen: float, min_size: int) -> np.ndarray:
    """Segment ends (exclusive, the last is n) minimising Σ C + pen·K; s_* are cumulative
    sums with a leading zero (length n + 1)."""
    n = s_ii.size - 1
    f = np.full(n + 1, np.inf)  # optimal penalised cost of the first t samples
    f[0] = -pen
    last = np.zeros(n + 1, dtype=np.int64)  # start of the last segment of that optimum
    cand = np.empty(n + 1, dtype=np.int64)  # PELT's admissible last-change positions
    value = np.empty(n + 1)  # f[s] + C(s, t) of each candidate at the current t
    n_cand = 0
    for t in range(min_size, n + 1):
        s_new = t - min_size  # becomes admissible now (segments of at least min_size)
        if f[s_new] < np.inf:
            cand[n_cand] = s_new
            n_cand += 1
        best = np.inf
        arg = 0
        for k in range(n_cand):
            s = cand[k]
            sii = s_ii[t] - s_ii[s]
            siv = s_iv[t] - s_iv[s]
            svv = s_vv[t] - s_vv[s]
            c = sii - siv * siv / svv if svv > 0.0 else sii
            c = max(c, 0.0)  # rounding can leave a tiny negative residual
            value[k] = f[s] + c
            if value[k] + pen < best:
                best = value[k] + pen
                arg = s
        f[t] = best
        last[t] = arg
        # Prune: a start that is already worse than the optimum up to t stays worse later.
        m = 0
        for k in range(n_cand):
            if value[k] <= best:
                cand[m] = cand[k]
                m += 1
        n_cand = m
    ends = []
    t = n
    while t > 0:
        ends.append(t)
        t = last[t]
    return np.array(ends)[::-1].copy()  # collected from the end backwards


def current_sigma(current: np.ndarray) -> float:
    """White-noise scale of the current: 1.4826·MAD(Δ²I)/√6 (Var Δ²ε = 6σ² for white ε).

    Second differences cancel the linear rise of I = G·V along a bias ramp, which first
    differences (the G-domain estimate) would count as noise at high G and fast ramps.
    """
    i = np.asarray(current, dtype=float)
    if i.size < 4:
        return 0.0
    d2 = np.diff(i, 2)
    return float(1.4826 * np.median(np.abs(d2 - np.median(d2))) / np.sqrt(6.0))


def local_current_sigma(current: np.ndarray, window: int = NOISE_WINDOW) -> np.ndarray:
    """Per-sample scale of the current noise: running median of |Δ²I| over ``window``
    samples, as a standard deviation (1.4826/√6). A step in G spoils 3 second differences,
    too few to move a median over many more."""
    i = np.asarray(current, dtype=float)
    if i.size < 3:
        return np.zeros(i.size)
    d2 = np.abs(np.diff(i, 2))
    d2 = np.concatenate([d2[:1], d2, d2[-1:]])  # one per sample
    return 1.4826 * median_filter(d2, size=max(int(window), 1), mode="nearest") / np.sqrt(6.0)


def _check(current, voltage) -> tuple[np.ndarray, np.ndarray]:
    i = np.asarray(current, dtype=float)
    v = np.asarray(voltage, dtype=float)
    if i.ndim != 1 or i.shape != v.shape:
        raise ValueError(f"current and voltage must be 1-D arrays of one length, got {i.shape} and {v.shape}")
    if not (np.isfinite(i).all() and np.isfinite(v).all()):
        raise ValueError("current and voltage must be finite (drop NaN/inf samples first)")
    if i.size and not np.any(v != 0.0):
        raise ValueError("every sample has V = 0: a voltage sweep without bias carries no conductance")
    return i, v


def segment_sweep(
    current,
    voltage,
    starts=None,
    *,
    penalty: float = 5.0,
    min_size: int = 3,
    sigma: float | None = None,
    noise_window: int = NOISE_WINDOW,
) -> tuple[np.ndarray, float]:
    """Segment ends (exclusive; the last is len(current)) of a voltage sweep, and σ_I.

    Each block [starts[k], starts[k+1]) (default: one block) is segmented on its own with
    the V²-weighted cost at penalty ``penalty``·σ_I²·ln n_block, σ_I from that block's
    second differences unless ``sigma`` is given; every block start is a segment start.
    With ``noise_window`` > 0 the samples are weighted by their local noise scale (module
    docstring), which reduces to the same with constant noise.
    Returns the ends of all blocks in order (as labqc.plateau_segment.segment does) and the
    median σ_I of the blocks. Empty input gives no ends; NaN/inf or V = 0 everywhere is a
    ValueError.
    """
    i, v = _check(current, voltage)
    n = i.size
    if n == 0:
        return np.empty(0, dtype=np.int64), 0.0
    min_size = max(int(min_size), 1)
    bounds = np.unique(np.clip(np.asarray([0] if starts is None else starts, dtype=np.int64), 0, n))
    if bounds[0] != 0:
        bounds = np.insert(bounds, 0, 0)
    bounds = np.append(bounds[bounds < n], n)
    ends, sigmas = [], []
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        if b - a < 2 * min_size:
            ends.append(np.array([b], dtype=np.int64))
            continue
        ib, vb = i[a:b], v[a:b]
        s = current_sigma(ib) if sigma is None else float(sigma)
        # A noiseless block would get no penalty at all; keep it a tiny fraction of the signal.
        s = max(s, 1e-9 * float(np.max(np.abs(ib))), 1e-300)
        sigmas.append(s)
        # Weights 1/σ_t² relative to the block's σ_I (1 everywhere with constant noise), so
        # the penalty keeps its scale c·σ_I²·ln n.
        if noise_window and noise_window > 0:
            w = (s / np.maximum(local_current_sigma(ib, noise_window), s)) ** 2
        else:
            w = np.ones(b - a)
        pen = penalty * s * s * np.log(b - a)
        zero = np.zeros(1)
        s_ii = np.concatenate([zero, np.cumsum(w * ib * ib)])
        s_iv = np.concatenate([zero, np.cumsum(w * ib * vb)])
        s_vv = np.concatenate([zero, np.cumsum(w * vb * vb)])
        ends.append(a + _pelt(s_ii, s_iv, s_vv, float(pen), min_size))
    return np.concatenate(ends), float(np.median(sigmas)) if sigmas else 0.0


def segment_conductance(current, voltage, ends) -> np.ndarray:
    """Least-squares conductance Σ I·V / Σ V² of each segment (NaN where V = 0 throughout)."""
    i, v = np.asarray(current, dtype=float), np.asarray(voltage, dtype=float)
    ends = np.asarray(ends, dtype=np.int64)
    if not ends.size:
        return np.empty(0)
    starts = np.concatenate([[0], ends[:-1]])
    s_iv = np.concatenate([[0.0], np.cumsum(i * v)])
    s_vv = np.concatenate([[0.0], np.cumsum(v * v)])
    num, den = s_iv[ends] - s_iv[starts], s_vv[ends] - s_vv[starts]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan)
