"""The online detector's per-sample state machine, compiled with numba (labqc.online wraps it).

A pulse train changes level every ~20 samples; the decisions taken at each change (new
segment mean from the ring buffer, plateau verdicts, events) cost tens of microseconds in
Python, which capped the detector at ~0.7·10⁶ samples/s there. Compiled, the whole loop runs
at several 10⁶ samples/s, one sample at a time, so chunking cannot change a single result.

The state lives in three small arrays so that Python can hold it between calls (numba's
jitclass is still experimental): ``fs`` (floats), ``js`` (integers) and the ring buffer
``ring``/``ring_index`` of the last RING valid samples. Slot names below index them.
Events are written to ``ev_int`` (kind, index, alarm) and ``ev_float`` (level, quantum,
confidence; NaN = none); :func:`scan` stops early when that buffer could overflow.
"""
from __future__ import annotations

import math
import types

import numba
import numpy as np

from labqc import levels, rs

# The series correction of labqc.rs and the level rules of the offline detector, compiled
# from the same source. assign_level_core calls rs.correct_scalar; numba needs the compiled
# helper in its place, so the function is rebuilt over globals that hold it.
correct_scalar = numba.njit(cache=True)(rs.correct_scalar)
uncorrect_scalar = numba.njit(cache=True)(rs.uncorrect_scalar)
derivative_scalar = numba.njit(cache=True)(rs.derivative_scalar)
_core = levels.assign_level_core
assign_level_core = numba.njit(cache=True)(types.FunctionType(
    _core.__code__, {**_core.__globals__, "correct_scalar": correct_scalar}, _core.__name__,
    _core.__defaults__, _core.__closure__,
))

# A plateau on the grid and a segment clearly off it (OFF_MARGIN beyond tol), at least
# STEP_APART and STEP_SIGMAS standard errors of the segment's mean apart, are two plateaus
# even within merge_delta (field families, tuning and validation seeds 2000-2023: a plateau
# 0.15-0.25 G0 off the grid beside one on it was fused). At 6 standard errors long
# telegraph excursions (old hard scenario) ended plateaus too: online F1 0.87 -> 0.83 there.
OFF_MARGIN = 0.03  # G0
STEP_APART = 0.12  # G0
STEP_SIGMAS = 10.0
DECIDE_SIGMAS = 3.0  # standard errors a step must clear the merge threshold by
DECIDE_WAIT = 4  # bridge_len multiples a suspension waits for that at most
RING = 512  # valid samples kept for the mean of a new segment (its start is <= RING back)

# Event kinds (ev_int[:, 0]); labqc.online maps them to names.
CHANGE, PLATEAU_START, PLATEAU_END, TELEGRAPH, PLATEAU_RESUME = 0, 1, 2, 3, 4
# Detector states (js[STATE]).
WARMUP, CANDIDATE, PLATEAU, SUSPENDED = 0, 1, 2, 3

# Parameter slots (float array ``p``).
P_DELTA, P_LOG_ARL, P_MERGE, P_SIGMA_ALPHA, P_MEAN_WINDOW, P_R_SERIES, P_SIGMA_RS = range(7)
P_FIXED_SIGMA, P_TOL, P_SIGMA_INT, P_PRIOR_ON, P_N_EFF_FACTOR, P_MAX_RS_SPREAD = range(7, 13)
P_MAX_S, P_MAX_LEVEL, P_EXPLICIT_N_EFF, P_MIN_LENGTH, P_BRIDGE_LEN, P_WARMUP = range(13, 19)
P_NEAR, P_BRIDGE_MAX, P_R_ALT = 19, 20, 21
N_PARAMS = 22

# Float state slots (``fs``).
MU, SEG_SUM, SEG_S2, SP, SM, SIGMA, ABS_DX, LAST_X = range(8)
PL_LEVEL, PL_QUANTUM, PL_SUM, PL_S2 = range(8, 12)  # open plateau: level at confirmation, sums
PREV_QUANTUM, PREV_SUM, PREV_S2 = range(12, 15)  # the plateau that ended last: verdict, sums
N_FLOAT_STATE = 15
# Integer state slots (``js``).
STATE, K, SEG_N, SEG_START, ZP, ZM, HAS_PLATEAU, PL_START, PL_N = range(9)
SUSPENDED_AT, SUSPENDED_K, PL_START_K = range(9, 12)
PREV_START, PREV_START_K, PREV_END, PREV_N = range(12, 16)
N_INT_STATE = 16


def set_sigma(fs: np.ndarray, sigma: float) -> None:
    """Set the white-noise scale and the mean |Δx| it implies (E|Δx| = 2σ/√π = σ/0.886)."""
    fs[SIGMA] = sigma
    fs[ABS_DX] = sigma / 0.886


def new_state(sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fresh (fs, js, ring, ring_index) for a detector; sigma 0 = estimate it."""
    fs = np.zeros(N_FLOAT_STATE)
    set_sigma(fs, sigma)
    fs[LAST_X] = np.nan
    js = np.zeros(N_INT_STATE, dtype=np.int64)
    js[STATE] = WARMUP
    js[ZP] = js[ZM] = js[SUSPENDED_AT] = js[SUSPENDED_K] = js[PL_START_K] = js[PREV_START_K] = -1
    fs[PREV_QUANTUM] = np.nan
    return fs, js, np.zeros(RING), np.zeros(RING, dtype=np.int64)


@numba.njit(cache=True, inline="always")
def _emit(ev_int, ev_float, n_ev, kind, index, alarm, level, quantum, conf):
    ev_int[n_ev, 0] = kind
    ev_int[n_ev, 1] = index
    ev_int[n_ev, 2] = alarm
    ev_float[n_ev, 0] = level
    ev_float[n_ev, 1] = quantum
    ev_float[n_ev, 2] = conf
    return n_ev + 1


@numba.njit(cache=True, inline="always")
def _segment_since(ring, ring_index, tau_k, t_k):
    """Sum, count, first sample index and sum of squares of valid positions tau_k..t_k."""
    tau_k = max(tau_k, t_k - RING + 1, 0)
    total = 0.0
    s2 = 0.0
    for k in range(tau_k, t_k + 1):
        v = ring[k % RING]
        total += v
        s2 += v * v
    return total, t_k - tau_k + 1, ring_index[tau_k % RING], s2


@numba.njit(cache=True, inline="always")
def _assign(p, sigma_white, mu, n, s2):
    """Level rules of labqc.levels for n corrected samples of mean mu and sum of squares s2.

    Correlated noise (1/f, RTN, drift) shows as scatter above the white-noise level and
    shrinks the effective number of independent samples, N_eff = N·sigma_white²/scatter².
    """
    var = max(s2 / n - mu * mu, 0.0) if n > 0 else 0.0
    white = sigma_white * sigma_white
    n_eff = n * min(1.0, white / var) if var > 0 else float(n)
    if p[P_EXPLICIT_N_EFF] > 0:  # the caller's n_eff_factor rule wins
        n_eff = np.nan
    sigma = math.sqrt(var)
    r_series, sigma_rs, r_alt = p[P_R_SERIES], p[P_SIGMA_RS], p[P_R_ALT]
    measured = uncorrect_scalar(mu, r_series)
    if sigma_rs > 0:
        # Score the level as measured, so that the R_s uncertainty is propagated.
        m = measured
        sigma /= derivative_scalar(m, r_series)  # dG_corr/dG at this level
    else:
        m, r_series = mu, 0.0  # mu is corrected already
    quantum, level, conf = assign_level_core(
        m, float(n), sigma, n_eff, r_series, sigma_rs, p[P_TOL], p[P_SIGMA_INT], p[P_PRIOR_ON],
        p[P_N_EFF_FACTOR], p[P_MAX_RS_SPREAD], p[P_MAX_S], p[P_MAX_LEVEL],
    )
    if r_alt == r_alt and quantum == quantum:
        # An ambiguous R_s fit: a level that the rival R_s puts elsewhere is withheld.
        if round(2.0 * correct_scalar(measured, r_alt)) != round(2.0 * quantum):
            return np.nan, level, 0.0
    return quantum, level, conf


@numba.njit(cache=True, inline="always")
def _plateau_level(p, fs, js):
    """The open plateau's level: all its finished segments, or the level at confirmation."""
    if js[PL_N] >= p[P_MIN_LENGTH]:
        return fs[PL_SUM] / js[PL_N]
    return fs[PL_LEVEL]


@numba.njit(cache=True, inline="always")
def _same_level(p, a, b):
    return abs(a - b) < p[P_MERGE] or round(2 * a) == round(2 * b)


@numba.njit(cache=True)
def end_plateau(p, fs, js, index, alarm, ev_int, ev_float, n_ev, ring, k_end):
    """Close the open plateau with its verdict over all of its samples.

    Its level is the median of its samples while they are all still in the ring buffer (as
    offline: telegraph excursions and spikes do not pull it), their mean otherwise.
    """
    level, quantum, conf = fs[PL_LEVEL], fs[PL_QUANTUM], np.nan
    if js[PL_N] > 0:
        mu = fs[PL_SUM] / js[PL_N]
        k0 = js[PL_START_K]
        if 0 <= k0 and k_end - k0 >= 3 and k_end - k0 <= RING and k_end <= js[K]:
            buf = np.empty(k_end - k0)
            for j in range(k0, k_end):
                buf[j - k0] = ring[j % RING]
            mu = np.median(buf)
        quantum, level, conf = _assign(p, fs[SIGMA], mu, js[PL_N], fs[PL_S2] - fs[PL_SUM] ** 2 / js[PL_N] + js[PL_N] * mu * mu)
    js[HAS_PLATEAU] = 0
    fs[PREV_QUANTUM], fs[PREV_SUM], fs[PREV_S2] = quantum, fs[PL_SUM], fs[PL_S2]
    js[PREV_START], js[PREV_START_K], js[PREV_END], js[PREV_N] = js[PL_START], js[PL_START_K], index, js[PL_N]
    return _emit(ev_int, ev_float, n_ev, PLATEAU_END, index, alarm, level, quantum, conf)


@numba.njit(cache=True, inline="always")
def _confirm(p, fs, js, t, ev_int, ev_float, n_ev):
    """The candidate segment has lasted min_length samples: it is a plateau."""
    quantum, level, conf = _assign(p, fs[SIGMA], fs[MU], js[SEG_N], fs[SEG_S2])
    js[HAS_PLATEAU] = 1
    fs[PL_LEVEL], fs[PL_QUANTUM] = level, quantum
    js[STATE] = PLATEAU
    if quantum == fs[PREV_QUANTUM] and js[SEG_START] - js[PREV_END] <= 0.5 * p[P_BRIDGE_LEN]:
        # The plateau that just ended at this level resumes: what came between was a false
        # alarm or an excursion (as offline, neighbours with one quantum are one plateau).
        js[PL_START], js[PL_START_K], js[PL_N] = js[PREV_START], js[PREV_START_K], js[PREV_N]
        fs[PL_SUM], fs[PL_S2] = fs[PREV_SUM], fs[PREV_S2]
        return _emit(ev_int, ev_float, n_ev, PLATEAU_RESUME, js[PREV_START], t, level, quantum, conf)
    js[PL_START] = js[SEG_START]
    js[PL_START_K] = js[K] - js[SEG_N]
    fs[PL_SUM] = fs[PL_S2] = 0.0
    js[PL_N] = 0
    return _emit(ev_int, ev_float, n_ev, PLATEAU_START, js[SEG_START], t, level, quantum, conf)


@numba.njit(cache=True, inline="always")
def _continues(p, fs, js):
    """Whether the segment after an interruption continues the open plateau: a shift below
    the merge threshold (drift, 1/f, telegraph noise), or both levels within tol of one
    half-quantum; not when one of them sits on the grid and the other clearly off it, a
    significant step apart (a plateau 0.15-0.25 G0 off the grid next to one on it is two
    plateaus)."""
    a, b = fs[MU], _plateau_level(p, fs, js)
    qa, qb = round(2 * a), round(2 * b)
    if qa == qb and abs(a - qa / 2) <= p[P_NEAR] and abs(b - qb / 2) <= p[P_NEAR]:
        return True
    da, db = abs(a - qa / 2), abs(b - qb / 2)
    near, off = p[P_NEAR], p[P_NEAR] + OFF_MARGIN
    one_on_one_off = (db <= near and da > off) or (da <= near and db > off)
    if one_on_one_off and abs(a - b) > max(STEP_APART, STEP_SIGMAS * fs[SIGMA] / math.sqrt(max(js[SEG_N], 1))):
        return False
    return abs(a - b) < p[P_MERGE]


@numba.njit(cache=True, inline="always")
def _decide_suspension(p, fs, js, t, k, ev_int, ev_float, n_ev, ring):
    """bridge_len samples after an interruption (or later): the same plateau (a sub-quantum
    shift from drift or 1/f), or a real step that ended it.

    A step is only called once the new segment's mean is DECIDE_SIGMAS standard errors
    beyond the merge threshold from the plateau (noisy high levels: a dozen samples do not
    tell); until then, and at most DECIDE_WAIT·bridge_len samples, the decision waits.
    """
    if _continues(p, fs, js):
        js[STATE] = PLATEAU
        return n_ev
    shift = abs(fs[MU] - _plateau_level(p, fs, js)) - p[P_MERGE]
    se = fs[SIGMA] / math.sqrt(max(js[SEG_N], 1))
    if shift < DECIDE_SIGMAS * se and k < js[SUSPENDED_K] + DECIDE_WAIT * p[P_BRIDGE_LEN]:
        return n_ev
    n_ev = end_plateau(p, fs, js, js[SUSPENDED_AT], t, ev_int, ev_float, n_ev, ring, js[SUSPENDED_K])
    js[STATE] = CANDIDATE
    if js[SEG_N] >= p[P_MIN_LENGTH]:
        n_ev = _confirm(p, fs, js, t, ev_int, ev_float, n_ev)
    return n_ev


@numba.njit(cache=True, inline="always")
def _change(p, fs, js, ring, ring_index, t_k, t, tau_k, ev_int, ev_float, n_ev):
    """An alarm at valid position t_k (sample t); the change happened at tau_k.

    The ending segment's sums include the samples up to the alarm; the new segment's
    share (tau_k..t_k) is taken back out of them.
    """
    total, n, tau, s2 = _segment_since(ring, ring_index, tau_k, t_k)
    mu = total / n
    n_ev = _emit(ev_int, ev_float, n_ev, CHANGE, tau, t, mu, np.nan, np.nan)
    state = js[STATE]
    if state == PLATEAU:  # the ending segment belongs to the plateau: it refines its level
        fs[PL_SUM] += fs[SEG_SUM] - total
        fs[PL_S2] += fs[SEG_S2] - s2
        js[PL_N] += js[SEG_N] - n
    fs[MU], fs[SEG_SUM], fs[SEG_S2] = mu, total, s2
    js[SEG_N], js[SEG_START] = n, tau
    fs[SP] = fs[SM] = 0.0
    js[ZP] = js[ZM] = t_k
    if state == PLATEAU:
        js[STATE] = SUSPENDED
        js[SUSPENDED_AT], js[SUSPENDED_K] = tau, t_k - n + 1
    elif state == SUSPENDED:
        level = _plateau_level(p, fs, js)
        if _same_level(p, mu, level):  # a short excursion that came back
            amp = np.nan
            e_n = 0
            if t_k - n >= js[SUSPENDED_K]:
                e_total, e_n, _, _ = _segment_since(ring, ring_index, js[SUSPENDED_K], t_k - n)
                amp = e_total / e_n - level
            if e_n >= 3 and abs(amp) - 3.0 * fs[SIGMA] / math.sqrt(e_n) >= p[P_BRIDGE_MAX]:
                # A visit to another level (clearly bridge_max or more, 3 samples or more),
                # not telegraph noise riding on the plateau: the plateau ended where it began.
                n_ev = end_plateau(p, fs, js, js[SUSPENDED_AT], t, ev_int, ev_float, n_ev, ring, js[SUSPENDED_K])
                fs[PREV_QUANTUM] = np.nan  # a real visit: the plateau after it is another one
                js[STATE] = CANDIDATE
            else:
                n_ev = _emit(ev_int, ev_float, n_ev, TELEGRAPH, js[SUSPENDED_AT], t, amp, np.nan, np.nan)
                js[STATE] = PLATEAU
    # In CANDIDATE the new segment simply replaces the old one.
    return n_ev


@numba.njit(cache=True, inline="always")
def _end_warmup(fs, js, ring, ring_index):
    """The first warmup samples are the first segment. (Their noise scale, a median, is
    left to the caller: np.median takes seconds to compile and runs once per detector.)"""
    k = js[K]
    total = 0.0
    s2 = 0.0
    for v in ring[:k]:
        total += v
        s2 += v * v
    fs[SEG_SUM], fs[SEG_S2], fs[MU] = total, s2, total / k
    js[SEG_N] = k
    js[SEG_START] = ring_index[0]
    js[ZP] = js[ZM] = k - 1
    js[STATE] = CANDIDATE


def warmup_sigma(x: np.ndarray) -> float:
    """White-noise scale of the warm-up samples, robust to a step among them (MAD of Δx)."""
    dx = np.diff(x)
    return max(1.4826 * float(np.median(np.abs(dx - np.median(dx)))) / np.sqrt(2.0), 1e-3)


@numba.njit(cache=True)
def scan(g, first_index, p, fs, js, ring, ring_index, ev_int, ev_float):
    """Feed measured G/G0 samples g (sample indices from first_index on).

    Returns (samples consumed, events written). It stops early when the event buffer could
    not take the events of one more sample (at most two), and right after the warm-up, for
    the caller to set the noise scale (unless it is fixed) before the detection starts.
    """
    r_series = p[P_R_SERIES]
    delta, half = p[P_DELTA], 0.5 * p[P_DELTA]
    log_arl, alpha, mean_window = p[P_LOG_ARL], p[P_SIGMA_ALPHA], p[P_MEAN_WINDOW]
    min_length, bridge_len = p[P_MIN_LENGTH], p[P_BRIDGE_LEN]
    fixed_sigma = p[P_FIXED_SIGMA] > 0
    capacity = ev_int.shape[0]
    n_ev = 0
    i = 0
    while i < g.size:
        if n_ev + 2 > capacity:
            break
        t = first_index + i
        x = g[i]
        i += 1
        if r_series != 0.0:  # series correction; NaN where undefined
            x = correct_scalar(x, r_series)
        if not math.isfinite(x):
            continue  # counts for the indices, not for the statistics
        k = js[K]
        ring[k % RING] = x
        ring_index[k % RING] = t
        js[K] = k + 1
        if js[STATE] == WARMUP:
            if k + 1 >= p[P_WARMUP]:
                _end_warmup(fs, js, ring, ring_index)
                fs[LAST_X] = x
                break
            continue
        # Two-sided Page CUSUM against the mean of the segment so far (S+ tested first).
        sigma = fs[SIGMA]
        h = log_arl * sigma * sigma / delta
        r = x - fs[MU]
        side = -1
        sp = fs[SP] + r - half
        if sp <= 0.0:
            sp = 0.0
            js[ZP] = k
        elif sp > h:
            side = 0
        sm = fs[SM]
        if side < 0:
            sm -= r + half
            if sm <= 0.0:
                sm = 0.0
                js[ZM] = k
            elif sm > h:
                side = 1
        fs[SP], fs[SM] = sp, sm
        # Robust white-noise scale: EWMA of |Δx| clipped at 5 expected values (E|Δx| = 2σ/√π).
        if not fixed_sigma:
            adx = abs(x - fs[LAST_X])
            cap = 5.0 * fs[ABS_DX]
            fs[ABS_DX] += alpha * ((adx if adx < cap else cap) - fs[ABS_DX])
            fs[SIGMA] = max(0.886 * fs[ABS_DX], 1e-4)
        fs[LAST_X] = x
        # The sample joins the segment (on an alarm the new segment's share is taken back).
        fs[SEG_SUM] += x
        fs[SEG_S2] += x * x
        js[SEG_N] += 1
        if side >= 0:
            last_zero = js[ZP] if side == 0 else js[ZM]
            n_ev = _change(p, fs, js, ring, ring_index, k, t, last_zero + 1, ev_int, ev_float, n_ev)
            continue
        # Exact running mean while the segment is young, then an EWMA that follows drift.
        fs[MU] += (x - fs[MU]) / min(js[SEG_N], mean_window)
        state = js[STATE]
        if state == CANDIDATE and js[SEG_N] >= min_length:
            n_ev = _confirm(p, fs, js, t, ev_int, ev_float, n_ev)
        elif state == SUSPENDED and k >= js[SUSPENDED_K] + bridge_len - 1:
            n_ev = _decide_suspension(p, fs, js, t, k, ev_int, ev_float, n_ev, ring)
    return i, n_ev
