"""Online plateau detection for the live dashboard: two-sided Page CUSUM (reference §4.1).

Each sample is series-corrected (G_corr = G/(1 - R_s·G0·G)) and compared with the running
mean mu of the current segment:

    S+ = max(0, S+ + x - mu - delta/2),   S- = max(0, S- - x + mu - delta/2)

and an alarm fires when S+ or S- exceeds h = ln(ARL0)·sigma²/delta, sigma being a robust
running scale of the white noise (EWMA of clipped |Δx|). The change time is the sample after
the last zero of the alarming sum; the new segment's mean starts from the samples since
then (kept in a 512-sample ring buffer). Work and memory per sample are O(1).

Speed: the recursions are evaluated for a window of samples at once with numpy (the
running mean by cumulative sums, the CUSUM as a Lindley recursion C_t - min(C_s)); a
window stops at the first alarm, and deadlines inside it (plateau confirmation, end of a
telegraph excursion) are handled in Python from the per-sample arrays. Windows double
while no alarm fires; the short ones (just after a change, or samples fed one at a time)
run the same recursions in scalar Python on the chunk as a list, where numpy's per-call
overhead would dominate; the ring buffer is a pair of Python lists for the same reason.
A pulse train (a change every ~20 samples) is bound by this per-change Python work.

Events (indices count every sample fed, including NaN ones):
- ``change``: a change point, with the provisional level of the new segment;
- ``plateau_start``: a segment has lasted ``min_length`` samples; level, quantum (None when
  off the grid) and confidence from labqc.levels, shared with the offline detector;
- ``plateau_end``: emitted ``bridge_len`` samples after the change that ended the plateau
  (the wait tells a telegraph excursion from a real step);
- ``telegraph``: a short excursion that returned to the plateau level; level = its amplitude.
"""
from __future__ import annotations

from dataclasses import dataclass
from operator import mul, sub

import numpy as np

from labqc import levels as lv
from labqc.units import G0

RING = 512
_COUNTS = np.arange(1, 1 << 13, dtype=float)  # 1, 2, ... for running means over a window
_INVERSES = [0.0] + [1.0 / k for k in range(1, 1 << 13)]  # 1/n for the scalar running means
_sum = np.add.reduce  # np.mean's bookkeeping costs more than the sum on short windows
FIRST_WINDOW = 64  # samples in the first window after a change (run in scalar arithmetic)
SCALAR_WINDOW = 128  # windows up to this many samples skip numpy: its per-call overhead dominates
OLD_WINDOW = 1024  # samples over which a long plateau's mean is held before its EWMA update


@dataclass(frozen=True)
class Event:
    kind: str  # "change", "plateau_start", "plateau_end", "telegraph"
    index: int  # sample index the event refers to (change time, plateau start/end, excursion start)
    level: float | None = None  # series-corrected G/G0 (telegraph: excursion amplitude)
    quantum: float | None = None
    confidence: float | None = None
    alarm: int | None = None  # sample index at which the event was decided


_new = object.__new__


def _event(kind: str, index: int, level, quantum, confidence, alarm: int) -> Event:
    """An Event without the frozen dataclass __init__ (one setattr call per field costs
    more than the detector spends on a sample; the instance is the same, still frozen)."""
    ev = _new(Event)
    ev.__dict__.update(kind=kind, index=index, level=level, quantum=quantum, confidence=confidence, alarm=alarm)
    return ev


class OnlineDetector:
    """Causal plateau detector; feed it with :meth:`update` (a scalar or an array chunk)."""

    def __init__(
        self,
        r_series: float = 0.0,
        *,
        delta: float = 0.25,
        log_arl: float = 11.5,
        min_length: int = 20,
        bridge_len: int = 12,
        merge_delta: float = 0.3,
        sigma: float | None = None,
        sigma_rs: float = 0.0,
        mean_window: int = 400,
        sigma_window: int = 200,
        warmup: int = 16,
        window: int = 4096,
        **level_options,
    ) -> None:
        if delta <= 0 or log_arl <= 0 or min_length < 1 or bridge_len < 1:
            raise ValueError("delta, log_arl, min_length and bridge_len must be positive")
        self.delta = float(delta)
        self.log_arl = float(log_arl)
        self.min_length = int(min_length)
        self.bridge_len = int(bridge_len)
        self.merge_delta = float(merge_delta)
        self.mean_window = int(mean_window)
        self.sigma_alpha = 1.0 / sigma_window
        self.warmup = int(warmup)
        self.window = int(window)
        self.sigma_rs = float(sigma_rs)
        self.level_options = level_options
        self._explicit_n_eff = "n_eff_factor" in level_options
        self.set_series_resistance(r_series)
        self._fixed_sigma = sigma
        self._sigma = float(sigma) if sigma else 0.0
        self._abs_dx = self._sigma / 0.886
        # Python lists: most windows store a few dozen samples, where a list slice
        # assignment costs a fraction of numpy's per-call overhead.
        self._ring = [0.0] * RING
        self._ring_index = [0] * RING
        self._k = 0  # valid samples seen (position in the ring)
        self._n = 0  # all samples seen
        self._last_x = np.nan
        self._mu = 0.0
        self._seg_n = 0
        self._seg_start = 0  # sample index of the current segment's first sample
        self._sp = self._sm = 0.0
        self._zp = self._zm = -1  # valid-sample position of the last zero of S+ and S-
        self._state = "warmup"
        self._plateau: tuple[int, float, float | None] | None = None  # (start, level, quantum)
        self._suspended_at = -1  # sample index where a plateau was interrupted
        self._suspended_k = -1
        # Sum, sum of squares and count of the open plateau's finished segments.
        self._pl_sum, self._pl_s2, self._pl_n = 0.0, 0.0, 0
        self._seg_s2 = 0.0  # sum of squares of the current segment
        self._win = FIRST_WINDOW  # samples per numpy window; doubles while no alarm fires

    # ----- configuration -----------------------------------------------------------------
    def set_series_resistance(self, ohms: float, sigma: float | None = None) -> None:
        """Use a new R_s (ohm) for the samples that follow (e.g. after a per-cycle comb fit)."""
        lv.check_series_resistance(ohms)
        self.r_series = float(ohms)
        self._rg = self.r_series * G0
        if sigma is not None:
            self.sigma_rs = float(sigma)

    @property
    def sigma(self) -> float:
        """Current white-noise scale (G/G0, corrected units)."""
        return self._sigma

    @property
    def in_plateau(self) -> bool:
        return self._plateau is not None

    # ----- feeding -----------------------------------------------------------------------
    def update(self, g_chunk) -> list[Event]:
        """Process measured G/G0 samples; returns the events they decided, in order."""
        g = np.atleast_1d(np.asarray(g_chunk, dtype=float)).ravel()
        idx = self._n + np.arange(g.size)
        self._n += g.size
        if self._rg:
            with np.errstate(divide="ignore", invalid="ignore"):
                den = 1.0 - self._rg * g
                x = np.where(den > 0, g / den, np.nan)
        else:
            x = g
        ok = np.isfinite(x)
        if not ok.all():
            x, idx = x[ok], idx[ok]
        events: list[Event] = []
        self._lists = None  # the chunk as Python lists, made on the first scalar window
        pos = 0
        if self._state == "warmup":
            pos = self._warm(x, idx)
        while pos < x.size:
            pos = self._run(x, idx, pos, events)
        self._lists = None  # memory stays bounded by the ring, not by the caller's chunk
        return events

    def _warm(self, x: np.ndarray, idx: np.ndarray) -> int:
        """Collect the first samples: noise scale and the first segment's mean."""
        take = min(x.size, self.warmup - self._k)
        self._store_array(x[:take], idx[:take])
        if self._k < self.warmup:
            return x.size
        ring = np.array(self._ring[: self._k] if self._k <= RING else self._ring)
        if not self._fixed_sigma:
            dx = np.diff(ring)
            self._sigma = max(1.4826 * float(np.median(np.abs(dx - np.median(dx)))) / np.sqrt(2), 1e-3)
            self._abs_dx = self._sigma / 0.886
        self._mu = float(np.mean(ring))
        self._seg_s2 = float(np.dot(ring, ring))
        self._seg_n = self._k
        self._seg_start = int(self._ring_index[0])
        self._zp = self._zm = self._k - 1
        self._last_x = float(ring[-1])
        self._state = "candidate"
        return take

    def _store_array(self, x: np.ndarray, idx: np.ndarray) -> None:
        """Append a numpy window to the ring buffer (only its last RING samples are kept)."""
        if x.size > RING:
            self._k += x.size - RING
            x, idx = x[-RING:], idx[-RING:]
        self._store(x.tolist(), idx.tolist())

    def _store(self, x: list, idx: list) -> None:
        """Append at most RING samples (lists) to the ring buffer (two slice copies at most)."""
        n = len(x)
        a = self._k % RING
        first = min(n, RING - a)
        self._ring[a : a + first] = x[:first]
        self._ring_index[a : a + first] = idx[:first]
        if first < n:
            self._ring[: n - first] = x[first:]
            self._ring_index[: n - first] = idx[first:]
        self._k += n

    def _deadline_offset(self, seg_n0: int, k0: int) -> int:
        """Window offset of the sample after which the state must be re-examined.

        ``seg_n0`` and ``k0`` are the segment length and valid-sample count at the window
        start. A candidate is confirmed once its segment holds min_length samples; a
        suspended plateau is decided bridge_len samples after the interruption.
        """
        if self._state == "candidate":
            return max(self.min_length - seg_n0 - 1, 0)
        if self._state == "suspended":
            return max(self._suspended_k + self.bridge_len - k0 - 1, 0)
        return 1 << 62

    def _run(self, x: np.ndarray, idx: np.ndarray, pos: int, events: list[Event]) -> int:
        """Process x[pos:...] up to the first alarm or the window end; return the new pos.

        Deadlines inside the window only change the event state, not the recursions, so
        they are handled in place from the per-sample arrays. Short windows (a young
        segment, or samples fed one by one) run in scalar arithmetic: there, numpy's
        per-call overhead would cost more than the samples.
        """
        seg_n0, k0, mu0 = self._seg_n, self._k, self._mu
        young = self._seg_n < self.mean_window
        m = min(self._win, x.size - pos, self.mean_window - seg_n0 if young else OLD_WINDOW, _COUNTS.size)
        if m <= SCALAR_WINDOW:
            return self._run_scalar(x, idx, pos, m, events, seg_n0, k0, mu0, young)
        xw = x[pos : pos + m]
        if young:  # exact running mean of the segment so far
            mu_after = np.cumsum(xw)
            mu_after += mu0 * seg_n0
            mu_after /= seg_n0 + _COUNTS[:m]
            resid = xw - np.concatenate(((mu0,), mu_after[:-1]))
        else:  # a long plateau: mean held over the window, updated as an EWMA after it
            resid = xw - mu0
        h = self.log_arl * self._sigma**2 / self.delta
        # Two Lindley recursions S_t = max(0, S_{t-1} + y_t) at once, time-major (m, 2) so
        # that the first alarm of either side is one argmax. With the start value folded
        # into the first step, C_t = S_0 + y_0 + ... + y_t and S_t = C_t - min(0, min C_s).
        half = 0.5 * self.delta
        y = np.empty((m, 2))
        np.subtract(resid, half, out=y[:, 0])
        np.subtract(-half, resid, out=y[:, 1])
        y[0, 0] += self._sp
        y[0, 1] += self._sm
        c = np.cumsum(y, axis=0)
        floor = np.minimum.accumulate(c, axis=0)
        np.minimum(floor, 0.0, out=floor)
        sums = c - floor
        over = sums > h
        first = int(over.argmax())
        has_alarm = bool(over.flat[first])
        stop = first // 2 if has_alarm else m - 1
        # Deadlines up to the stop (an alarm at the deadline sample takes precedence).
        while True:
            j = self._deadline_offset(seg_n0, k0)
            if j > stop or (has_alarm and j == stop):
                break
            mu_j = float(mu_after[j]) if young else mu0
            s2_j = self._seg_s2 + float(np.dot(xw[: j + 1], xw[: j + 1]))
            self._on_deadline(mu_j, seg_n0 + j + 1, s2_j, int(idx[pos + j]), events)
        # Commit the state up to and including sample `stop`.
        n_used = stop + 1
        self._store_array(xw[:n_used], idx[pos : pos + n_used])
        if not self._fixed_sigma:
            # Robust noise scale: mean |Δx| clipped at 5 expected values (a step must not
            # inflate it), folded into an EWMA over sigma_window samples.
            if n_used > 1:
                adx = np.abs(xw[1:n_used] - xw[: n_used - 1])
                np.minimum(adx, 5.0 * self._abs_dx, out=adx)
                keep = (1.0 - self.sigma_alpha) ** (n_used - 1)
                self._abs_dx = keep * self._abs_dx + (1.0 - keep) * float(_sum(adx)) / adx.size
            self._sigma = max(0.886 * self._abs_dx, 1e-4)
        self._last_x = float(xw[stop])
        if has_alarm:
            side = first % 2
            zeros = np.flatnonzero(sums[:n_used, side] <= 0.0)
            last_zero = k0 + int(zeros[-1]) if zeros.size else (self._zp if side == 0 else self._zm)
            used = xw[:n_used]
            totals = (mu0 * seg_n0 + float(_sum(used)), self._seg_s2 + float(np.dot(used, used)), seg_n0 + n_used)
            self._change(self._k - 1, int(idx[pos + stop]), last_zero + 1, totals, events)
            self._win = FIRST_WINDOW
        else:
            if young:
                self._mu = float(mu_after[stop])
            else:
                keep = (1.0 - 1.0 / self.mean_window) ** n_used
                self._mu = keep * mu0 + (1.0 - keep) * float(_sum(xw)) / m
            self._seg_n += n_used
            self._seg_s2 += float(np.dot(xw, xw))
            self._sp, self._sm = float(sums[stop, 0]), float(sums[stop, 1])
            self._zp = self._last_zero(sums[:, 0], k0, self._zp)
            self._zm = self._last_zero(sums[:, 1], k0, self._zm)
            self._win = min(self._win * 2, self.window)
        return pos + stop + 1

    def _run_scalar(
        self, x: np.ndarray, idx: np.ndarray, pos: int, m: int, events: list[Event],
        seg_n0: int, k0: int, mu0: float, young: bool,
    ) -> int:
        """The same window as :meth:`_run` (same recursions, same commit), sample by sample.

        The samples are read from the chunk as Python lists; the running mean and the two
        Lindley recursions run as Python statements, stopping at the first alarm; the
        window sums use C-level iterators (map/sum) over the samples used.
        """
        h = self.log_arl * self._sigma**2 / self.delta
        half = 0.5 * self.delta
        if self._lists is None:
            self._lists = (x.tolist(), idx.tolist())
        xl, il = self._lists
        values = xl[pos : pos + m]
        sp, sm = self._sp, self._sm
        zp = zm = -1  # window offset of the last zero of S+ / S- (-1: none in this window)
        j = self._deadline_offset(seg_n0, k0)
        side = -1
        i = 0
        # Young segment: r = x_i minus the exact mean of the segment before sample i, the
        # running total kept inline (cheaper than building the means for the whole window,
        # which usually ends at an alarm a few samples in). Old segment: tot stays unused.
        tot = mu0 * seg_n0
        inverses = _INVERSES[seg_n0 : seg_n0 + m + 1]  # 1/n for the running means
        if len(inverses) <= m:  # a mean_window beyond the table (not the default)
            inverses = [1.0 / k if k else 0.0 for k in range(seg_n0, seg_n0 + m + 1)]
        for i, v in enumerate(values):
            if young:
                r = v - tot * inverses[i]
                tot += v
            else:
                r = v - mu0
            # S+ is tested first: on a tie the numpy path also reports the upward side.
            sp += r - half
            if sp <= 0.0:
                sp = 0.0
                zp = i
            elif sp > h:
                side = 0
                break
            sm -= r + half
            if sm <= 0.0:
                sm = 0.0
                zm = i
            elif sm > h:
                side = 1
                break
            while j <= i:  # a deadline at this sample (an alarm at it would take precedence)
                used = values[: i + 1]
                s2_j = self._seg_s2 + sum(map(mul, used, used))
                mu_j = tot * inverses[i + 1] if young else mu0
                self._on_deadline(mu_j, seg_n0 + i + 1, s2_j, il[pos + i], events)
                j = self._deadline_offset(seg_n0, k0)
        stop = i
        n_used = stop + 1
        used = values[:n_used] if n_used < m else values
        wsum = sum(used)
        s2w = sum(map(mul, used, used))
        self._store(values[:n_used] if n_used < m else values, il[pos : pos + n_used])
        if not self._fixed_sigma:
            if n_used > 1:
                steps = list(map(abs, map(sub, used[1:], used)))
                cap = 5.0 * self._abs_dx
                adx = sum(steps)
                if max(steps) > cap:  # clip the few large |Δx| (a step must not inflate sigma)
                    adx -= sum([d - cap for d in steps if d > cap])
                keep = (1.0 - self.sigma_alpha) ** (n_used - 1)
                self._abs_dx = keep * self._abs_dx + (1.0 - keep) * adx / (n_used - 1)
            self._sigma = max(0.886 * self._abs_dx, 1e-4)
        self._last_x = values[stop]
        if side >= 0:
            z = zp if side == 0 else zm
            last_zero = k0 + z if z >= 0 else (self._zp if side == 0 else self._zm)
            totals = (mu0 * seg_n0 + wsum, self._seg_s2 + s2w, seg_n0 + n_used)
            seg = None
            if last_zero + 1 >= k0:  # the new segment lies in this window: sum it here
                tail = values[last_zero + 1 - k0 : n_used]
                seg = (sum(tail) / len(tail), len(tail), il[pos + last_zero + 1 - k0], sum(map(mul, tail, tail)))
            self._change(self._k - 1, il[pos + stop], last_zero + 1, totals, events, seg)
            self._win = FIRST_WINDOW
        else:
            if young:
                self._mu = tot * inverses[m]
            else:
                keep = (1.0 - 1.0 / self.mean_window) ** n_used
                self._mu = keep * mu0 + (1.0 - keep) * wsum / m
            self._seg_n += n_used
            self._seg_s2 += s2w
            self._sp, self._sm = sp, sm
            if zp >= 0:
                self._zp = k0 + zp
            if zm >= 0:
                self._zm = k0 + zm
            self._win = min(self._win * 2, self.window)
        return pos + stop + 1

    @staticmethod
    def _last_zero(s: np.ndarray, k0: int, previous: int) -> int:
        """Valid-sample position of the last zero of a CUSUM window (often the last sample)."""
        if s[-1] <= 0.0:
            return k0 + s.size - 1
        zeros = np.flatnonzero(s <= 0.0)
        return k0 + int(zeros[-1]) if zeros.size else previous

    # ----- decisions -------------------------------------------------------------------------
    def _segment_since(self, tau_k: int, t_k: int) -> tuple[float, int, int, float]:
        """Mean, count, first sample index and sum of squares of the samples at valid
        positions tau_k..t_k (from the ring buffer)."""
        tau_k = max(tau_k, t_k - RING + 1, 0)
        n = t_k - tau_k + 1
        a = tau_k % RING
        seg = self._ring[a : a + n] if a + n <= RING else self._ring[a:] + self._ring[: a + n - RING]
        seg = np.array(seg)  # numpy's pairwise sums, as the window paths use
        return float(_sum(seg)) / n, n, self._ring_index[a], float(np.dot(seg, seg))

    def _same_level(self, a: float, b: float) -> bool:
        return abs(a - b) < self.merge_delta or round(2 * a) == round(2 * b)

    def _change(self, t_k: int, t: int, tau_k: int, totals: tuple, events: list[Event], seg=None) -> None:
        """An alarm at valid position t_k (sample t); the change happened at tau_k.

        ``totals`` = (sum, sum of squares, count) of the ending segment including the samples
        up to the alarm; the new segment's share is taken back out. ``seg`` = (mean, count,
        first sample index, sum of squares) of the new segment when the caller has it.
        """
        mu, n, tau, s2 = seg if seg is not None else self._segment_since(tau_k, t_k)
        events.append(_event("change", tau, mu, None, None, t))
        if self._state == "plateau":
            # The ending segment belongs to the plateau: its samples refine the plateau level.
            self._pl_sum += totals[0] - mu * n
            self._pl_s2 += totals[1] - s2
            self._pl_n += totals[2] - n
        self._mu, self._seg_n, self._seg_start, self._seg_s2 = mu, n, tau, s2
        self._sp = self._sm = 0.0
        self._zp = self._zm = t_k
        if self._state == "plateau":
            self._state = "suspended"
            self._suspended_at, self._suspended_k = tau, t_k - n + 1
        elif self._state == "suspended":
            level = self._plateau_level()
            if self._same_level(mu, level):
                amp = self._excursion_mean(t_k - n) - level
                events.append(_event("telegraph", self._suspended_at, amp, None, None, t))
                self._state = "plateau"
        # In "candidate" the new segment simply replaces the old one.

    def _plateau_level(self) -> float:
        """Current estimate of the open plateau's level (all its finished segments, or the
        level at confirmation while none has finished)."""
        if self._pl_n >= self.min_length:
            return self._pl_sum / self._pl_n
        return self._plateau[1]

    def _assign(self, mu: float, n: int, s2: float) -> tuple[float | None, float, float]:
        """Shared level rules (labqc.levels) for n corrected samples of mean mu and sum of
        squares s2.

        The within-plateau scatter is the sigma of the rules; correlated noise (1/f, RTN,
        drift) shows as scatter above the white-noise level and shrinks the effective
        number of independent samples, N_eff = N·sigma_white²/scatter² (at most N).
        """
        var = max(s2 / n - mu * mu, 0.0) if n > 0 else 0.0
        white = self._sigma**2
        n_eff = n * min(1.0, white / var) if var > 0 else float(n)
        if self._explicit_n_eff:  # an explicit rule from the caller wins
            n_eff = None
        sigma = var**0.5
        if self.sigma_rs > 0:
            # Score the level as measured, so that the R_s uncertainty is propagated.
            slope = (1.0 + self.r_series * G0 * mu) ** 2  # dG_corr/dG at this level
            return lv.assign_level(
                float(lv.uncorrect_g0(mu, self.r_series)), n, sigma / slope, n_eff=n_eff,
                r_series=self.r_series, sigma_rs=self.sigma_rs, **self.level_options,
            )
        return lv.assign_level(mu, n, sigma, n_eff=n_eff, **self.level_options)

    def finish(self) -> list[Event]:
        """End of the stream: close an open plateau (plateau_end at the next sample index)."""
        if self._plateau is None:
            return []
        if self._state == "plateau":
            self._pl_sum += self._mu * self._seg_n
            self._pl_s2 += self._seg_s2
            self._pl_n += self._seg_n
            end = self._n
        else:
            end = self._suspended_at
        return [self._end_plateau(end, self._n)]

    def _end_plateau(self, index: int, t: int) -> Event:
        """The plateau is over: its final level and verdict from all of its samples."""
        start, level, quantum = self._plateau
        conf = None
        if self._pl_n > 0:
            quantum, level, conf = self._assign(self._pl_sum / self._pl_n, self._pl_n, self._pl_s2)
        self._plateau = None
        return _event("plateau_end", index, level, quantum, conf, t)

    def _excursion_mean(self, end_k: int) -> float:
        """Mean of the excursion samples (from the suspension to valid position end_k)."""
        if end_k < self._suspended_k:
            return float("nan")
        return self._segment_since(self._suspended_k, end_k)[0]

    def _on_deadline(self, mu: float, seg_n: int, s2: float, t: int, events: list[Event]) -> None:
        """Confirm a candidate plateau, or decide whether an interrupted plateau has ended.

        mu, seg_n and s2 describe the current segment up to the deadline sample t.
        """
        if self._state == "candidate":
            quantum, level, conf = self._assign(mu, seg_n, s2)
            self._plateau = (self._seg_start, level, quantum)
            self._pl_sum, self._pl_s2, self._pl_n = 0.0, 0.0, 0
            self._state = "plateau"
            events.append(
                _event("plateau_start", self._seg_start, level, quantum, conf, t)
            )
        elif self._state == "suspended":
            level = self._plateau_level()
            if self._same_level(mu, level):
                self._state = "plateau"  # a sub-quantum shift (drift, 1/f): same plateau
                return
            events.append(self._end_plateau(self._suspended_at, t))
            self._state = "candidate"
            if seg_n >= self.min_length:
                self._on_deadline(mu, seg_n, s2, t, events)


def plateaus_from_events(events: list[Event], n_samples: int) -> list:
    """Pair plateau_start/plateau_end events into Plateau-like records (for scoring and display)."""
    from labqc.plateaus import Plateau

    out = []
    open_ev = None
    for ev in events:
        if ev.kind == "plateau_start":
            open_ev = ev
        elif ev.kind == "plateau_end" and open_ev is not None:
            # The end event carries the verdict over the whole plateau.
            out.append(Plateau(open_ev.index, ev.index, ev.level, ev.quantum, ev.confidence or 0.0))
            open_ev = None
    if open_ev is not None:
        out.append(Plateau(open_ev.index, n_samples, open_ev.level, open_ev.quantum, open_ev.confidence or 0.0))
    return out
