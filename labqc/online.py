"""Online plateau detection for the live dashboard: two-sided Page CUSUM.

Each sample is series-corrected (G_corr = G/(1 - R_s·G0·G)) and compared with the running
mean mu of the current segment:

    S+ = max(0, S+ + x - mu - delta/2),   S- = max(0, S- - x + mu - delta/2)

and an alarm fires when S+ or S- exceeds h = ln(ARL0)·sigma²/delta, sigma being a robust
running scale of the white noise (EWMA of clipped |Δx|). The change time is the sample after
the last zero of the alarming sum; the new segment's mean starts from the samples since
then (kept in a 512-sample ring buffer). The mean is exact while the segment is young and
an EWMA over ``mean_window`` samples after that, so that it follows drift. Work and memory
per sample are O(1); the per-sample loop is compiled (labqc.online_kernel), so a result
never depends on how the stream was chunked.

Events (indices count every sample fed, including NaN ones):
- ``change``: a change point, with the provisional level of the new segment;
- ``plateau_start``: a segment has lasted ``min_length`` samples; level, quantum (None when
  off the grid) and confidence from labqc.levels, shared with the offline detector;
- ``plateau_end``: emitted ``bridge_len`` samples after the change that ended the plateau
  (the wait tells a telegraph excursion from a real step);
- ``telegraph``: a short excursion that returned to the plateau level; level = its amplitude;
- ``plateau_resume``: the plateau that ended last (index = its start) goes on: the new
  candidate sits at its quantum level within a few bridge lengths, so what came between
  was a false alarm or an excursion; its plateau_end follows later.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labqc import levels as lv
from labqc import online_kernel as kern
from labqc.online_kernel import RING

EVENT_BUFFER = 256  # events decided per kernel call at most (the call repeats until done)
_KINDS = {kern.CHANGE: "change", kern.PLATEAU_START: "plateau_start", kern.PLATEAU_END: "plateau_end",
          kern.PLATEAU_RESUME: "plateau_resume",
          kern.TELEGRAPH: "telegraph"}


@dataclass(frozen=True)
class Event:
    kind: str  # "change", "plateau_start", "plateau_end", "telegraph"
    index: int  # sample index the event refers to (change time, plateau start/end, excursion start)
    level: float | None = None  # series-corrected G/G0 (telegraph: excursion amplitude)
    quantum: float | None = None
    confidence: float | None = None
    alarm: int | None = None  # sample index at which the event was decided


_new = object.__new__


def _events(ev_int: np.ndarray, ev_float: np.ndarray) -> list[Event]:
    """Event objects from the kernel's buffers (NaN = None). Built without the frozen
    dataclass __init__, whose setattr per field would cost more than the detection."""
    out = []
    for (kind, index, alarm), (level, quantum, conf) in zip(ev_int.tolist(), ev_float.tolist()):
        ev = _new(Event)
        ev.__dict__.update(
            kind=_KINDS[kind], index=index, alarm=alarm,
            level=None if level != level else level,
            quantum=None if quantum != quantum else quantum,
            confidence=None if conf != conf else conf,
        )
        out.append(ev)
    return out


class OnlineDetector:
    """Causal plateau detector; feed it with :meth:`update` (a scalar or an array chunk)."""

    def __init__(
        self,
        r_series: float = 0.0,
        *,
        # CUSUM shift and merge threshold tuned on the field families' tuning seeds
        # (benchmarks/plateau_fields.py): a step is at least a half-quantum, so a shift of
        # 0.4 G0 alarms on fewer noise wanders; 0.25 G0 keeps noisy steps apart.
        delta: float = 0.4,
        log_arl: float = 11.5,
        min_length: int = 20,
        bridge_len: int = 12,
        merge_delta: float = 0.25,
        bridge_max: float = 0.4,
        sigma: float | None = None,
        sigma_rs: float = 0.0,
        r_series_alternative: float | None = None,
        mean_window: int = 400,
        sigma_window: int = 200,
        warmup: int = 16,
        **level_options,
    ) -> None:
        if delta <= 0 or log_arl <= 0 or min_length < 1 or bridge_len < 1 or mean_window < 1 or sigma_window < 1:
            raise ValueError("delta, log_arl, min_length, bridge_len and the windows must be positive")
        if not 2 <= warmup <= RING:
            raise ValueError(f"warmup must be between 2 and {RING} samples, got {warmup!r}")
        unknown = set(level_options) - _LEVEL_OPTIONS.keys()
        if unknown:
            raise ValueError(f"unknown level option(s): {', '.join(sorted(unknown))}")
        p = np.zeros(kern.N_PARAMS)
        p[kern.P_DELTA], p[kern.P_LOG_ARL], p[kern.P_MERGE] = delta, log_arl, merge_delta
        # Both levels within tol of one half-quantum are one level; an excursion of
        # bridge_max G0 or more (3 samples or more) ends the plateau (as offline).
        p[kern.P_BRIDGE_MAX] = bridge_max
        p[kern.P_NEAR] = level_options.get("tol", lv.TOLERANCE)
        p[kern.P_SIGMA_ALPHA], p[kern.P_MEAN_WINDOW] = 1.0 / sigma_window, mean_window
        p[kern.P_FIXED_SIGMA] = 1.0 if sigma else 0.0
        p[kern.P_MIN_LENGTH], p[kern.P_BRIDGE_LEN], p[kern.P_WARMUP] = min_length, bridge_len, warmup
        p[kern.P_EXPLICIT_N_EFF] = 1.0 if "n_eff_factor" in level_options else 0.0
        for name, (slot, default) in _LEVEL_OPTIONS.items():
            p[slot] = level_options.get(name, default)
        self._p = p
        self.sigma_rs = float(sigma_rs)
        self.set_series_resistance(r_series, alternative=r_series_alternative)
        self._fs, self._js, self._ring, self._ring_index = kern.new_state(float(sigma) if sigma else 0.0)
        self._n = 0  # all samples seen
        self._ev_int = np.zeros((EVENT_BUFFER, 3), dtype=np.int64)
        self._ev_float = np.zeros((EVENT_BUFFER, 3))

    # ----- configuration -----------------------------------------------------------------
    def set_series_resistance(self, ohms: float, sigma: float | None = None, alternative: float | None = None) -> None:
        """Use a new R_s (ohm) for the samples that follow (from the offline fit or the
        toolbar). ``sigma``: its uncertainty (high levels become unassignable); ``alternative``:
        the rival R_s of an ambiguous fit (levels it would put elsewhere get no quantum)."""
        lv.check_series_resistance(ohms)
        if alternative is not None and alternative == alternative:
            lv.check_series_resistance(alternative)
        self.r_series = float(ohms)
        if sigma is not None:
            self.sigma_rs = float(sigma)
        self._p[kern.P_R_SERIES] = self.r_series
        self._p[kern.P_SIGMA_RS] = self.sigma_rs
        self._p[kern.P_R_ALT] = np.nan if alternative is None else float(alternative)

    @property
    def sigma(self) -> float:
        """Current white-noise scale (G/G0, corrected units)."""
        return float(self._fs[kern.SIGMA])

    @property
    def in_plateau(self) -> bool:
        return bool(self._js[kern.HAS_PLATEAU])

    # ----- feeding -----------------------------------------------------------------------
    def update(self, g_chunk) -> list[Event]:
        """Process measured G/G0 samples; returns the events they decided, in order."""
        g = np.ascontiguousarray(np.atleast_1d(np.asarray(g_chunk, dtype=float)).ravel())
        events: list[Event] = []
        done = 0
        while done < g.size:
            used, n_ev = kern.scan(
                g[done:], self._n + done, self._p, self._fs, self._js, self._ring, self._ring_index,
                self._ev_int, self._ev_float,
            )
            done += used
            if self._js[kern.STATE] != kern.WARMUP and not self._fs[kern.SIGMA]:
                kern.set_sigma(self._fs, kern.warmup_sigma(self._ring[: self._js[kern.K]]))
            if n_ev:
                events += _events(self._ev_int[:n_ev], self._ev_float[:n_ev])
        self._n += g.size
        return events

    def finish(self) -> list[Event]:
        """End of the stream: close an open plateau (plateau_end at the next sample index)."""
        fs, js = self._fs, self._js
        if not js[kern.HAS_PLATEAU]:
            return []
        if js[kern.STATE] == kern.PLATEAU:  # the open segment is part of the plateau
            fs[kern.PL_SUM] += fs[kern.SEG_SUM]
            fs[kern.PL_S2] += fs[kern.SEG_S2]
            js[kern.PL_N] += js[kern.SEG_N]
            end, k_end = self._n, int(js[kern.K])
        else:
            end, k_end = int(js[kern.SUSPENDED_AT]), int(js[kern.SUSPENDED_K])
        n_ev = kern.end_plateau(self._p, fs, js, end, self._n, self._ev_int, self._ev_float, 0, self._ring, k_end)
        js[kern.STATE] = kern.CANDIDATE
        return _events(self._ev_int[:n_ev], self._ev_float[:n_ev])


# Keyword options of labqc.levels.assign_level that the detector passes on: slot, default.
_LEVEL_OPTIONS = {
    "tol": (kern.P_TOL, lv.TOLERANCE),
    "sigma_int": (kern.P_SIGMA_INT, lv.SIGMA_INTRINSIC),
    "prior_on": (kern.P_PRIOR_ON, lv.PRIOR_ON_GRID),
    "n_eff_factor": (kern.P_N_EFF_FACTOR, lv.N_EFF_FACTOR),
    "max_rs_spread": (kern.P_MAX_RS_SPREAD, lv.MAX_RS_SPREAD),
    "max_s": (kern.P_MAX_S, lv.MAX_SIGMA),
    "max_level": (kern.P_MAX_LEVEL, lv.MAX_LEVEL),
}


def warm_up() -> None:
    """Load the compiled detector now (numba compiles it on the first use on a machine, a few
    seconds, and loads it from its cache in ~0.2 s after that), so that a live display does
    not stall at its first update."""
    OnlineDetector().update(np.linspace(1.0, 2.0, 64))


def plateaus_from_events(events: list[Event], n_samples: int) -> list:
    """Pair plateau_start/plateau_end events into Plateau-like records (for scoring and display)."""
    from labqc.plateaus import Plateau

    out = []
    open_ev = None
    for ev in events:
        if ev.kind == "plateau_start":
            open_ev = ev
        elif ev.kind == "plateau_resume" and out and out[-1].start == ev.index:
            open_ev = _new(Event)  # the last plateau is open again, from its own start
            open_ev.__dict__.update(ev.__dict__, kind="plateau_start")
            out.pop()
        elif ev.kind == "plateau_end" and open_ev is not None:
            # The end event carries the verdict over the whole plateau.
            out.append(Plateau(open_ev.index, ev.index, ev.level, ev.quantum, ev.confidence or 0.0))
            open_ev = None
    if open_ev is not None:
        out.append(Plateau(open_ev.index, n_samples, open_ev.level, open_ev.quantum, open_ev.confidence or 0.0))
    return out
