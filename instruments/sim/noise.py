"""Noise sources of the simulated memristor, each vectorised over a run of readings.

- :class:`FlickerNoise`: relative 1/f conductance noise (δG/G), built as a sum of
  Lorentzians (Ornstein–Uhlenbeck processes with log-uniform corner frequencies,
  the McWhorter picture of many two-level fluctuators). Total rms ratio 0.01–1 %.
- :class:`TelegraphNoise`: a few two-level fluctuators (random telegraph noise) with
  amplitudes in G0; larger on thin filaments.
- :func:`read_noise`: white instrument noise σ = a·(range/100 µA) + b·|x| at 1 PLC,
  shrinking as 1/√t_int with longer integration.

Every source keeps its state between calls, so consecutive drives and rests form one
continuous noise record in device time. Each source has a vectorised ``sample`` for
runs of readings and an O(1) scalar ``step`` for the one reading an emulator asks
for at a time: Python floats, coefficients cached per step length, random numbers
taken from blocks drawn in advance (:class:`Draws`), no numpy call per reading.
"""
from __future__ import annotations

import math
from bisect import bisect_left

import numpy as np

#: Integration time at which the read-noise figures are quoted: 1 PLC at 50 Hz.
T_REF = 0.02  # s
#: Shortest effective integration (an "instantaneous" reading still has a bandwidth).
T_MIN = T_REF / 100  # s


def averaging_factor(t_int: float) -> float:
    """How much white noise shrinks (or grows) relative to 1 PLC integration."""
    return math.sqrt(T_REF / max(t_int, T_MIN))


class Draws:
    """Standard-normal and uniform numbers from ``rng`` one at a time, in order, drawn
    a block at a time (a numpy call per value would cost more than the value is worth)."""

    def __init__(self, rng: np.random.Generator, block: int = 256) -> None:
        self.rng = rng
        self.block = block
        self._normal: list[float] = []
        self._uniform: list[float] = []
        self._n_pos = self._u_pos = 0

    def normal(self) -> float:
        k = self._n_pos
        if k >= len(self._normal):
            self._normal, k = self.rng.standard_normal(self.block).tolist(), 0
        self._n_pos = k + 1
        return self._normal[k]

    def normals(self, m: int) -> list[float]:
        """``m`` standard-normal numbers (m <= block)."""
        k = self._n_pos
        if k + m > len(self._normal):
            self._normal, k = self.rng.standard_normal(self.block).tolist(), 0
        self._n_pos = k + m
        return self._normal[k:k + m]

    def uniform(self) -> float:
        k = self._u_pos
        if k >= len(self._uniform):
            self._uniform, k = self.rng.random(self.block).tolist(), 0
        self._u_pos = k + 1
        return self._uniform[k]


def _cached(cache: dict, key, make):
    """``cache[key]``, made on first use; the cache is emptied when it grows large
    (step lengths repeat in practice, but need not)."""
    value = cache.get(key)
    if value is None:
        if len(cache) > 256:
            cache.clear()
        value = cache[key] = make(key)
    return value


class FlickerNoise:
    """Relative conductance noise with a 1/f spectrum between 1/(2π·tau_max) and 1/(2π·tau_min)."""

    def __init__(self, rms: float, rng: np.random.Generator, n_lorentz: int = 7,
                 tau_min: float = 1e-3, tau_max: float = 1e3) -> None:
        self.rms = float(rms)
        self.rng = rng
        # Log-uniform corner times with equal variance each give S(f) ∝ 1/f in between.
        self.tau = np.logspace(np.log10(tau_min), np.log10(tau_max), n_lorentz)
        self.sigma = self.rms / math.sqrt(n_lorentz)
        self._s = (self.sigma * rng.standard_normal(n_lorentz)).tolist()  # each Lorentzian's value
        self._taus = self.tau.tolist()
        self._draws = Draws(rng)
        self._ab: dict = {}  # dt -> (AR(1) coefficients, innovation sigmas)
        self._w: dict = {}  # t_int -> averaging weights

    @property
    def state(self) -> np.ndarray:
        return np.array(self._s)

    @state.setter
    def state(self, value: np.ndarray) -> None:
        self._s = np.asarray(value, dtype=float).tolist()

    def _coefficients(self, dt: float) -> tuple[list, list]:
        a = [math.exp(-dt / tau) for tau in self._taus]
        return a, [self.sigma * math.sqrt(1.0 - x * x) for x in a]

    def _weights(self, t_int: float) -> list:
        return [math.sqrt(tau / (tau + t_int)) for tau in self._taus]

    def step(self, dt: float, t_int: float) -> float:
        """δG/G at the end of one step of ``dt`` seconds (the scalar form of ``sample``)."""
        if self.rms == 0:
            return 0.0
        a, b = _cached(self._ab, dt, self._coefficients)
        w = _cached(self._w, t_int, self._weights)
        z = self._draws.normals(len(a))
        self._s = s = [ak * sk + bk * zk for ak, sk, bk, zk in zip(a, self._s, b, z)]
        return sum([x * wk for x, wk in zip(s, w)])

    def sample(self, dt: np.ndarray, t_int: float) -> np.ndarray:
        """δG/G at the end of each step; ``dt`` is the time since the previous reading."""
        n = dt.size
        out = np.zeros(n)
        if n == 0 or self.rms == 0:
            return out
        weight = np.sqrt(self.tau / (self.tau + t_int))  # averaging over t_int
        if n <= 32:
            # A few readings (an emulator's single measurement): exact step by step,
            # all fluctuators at once.
            a = np.exp(-dt[:, None] / self.tau)
            w = self.sigma * np.sqrt(1 - a * a) * self.rng.standard_normal(a.shape)
            s = self.state
            for r in range(n):
                s = a[r] * s + w[r]
                out[r] = s @ weight
            self.state = s
            return out
        # With unequal steps the AR(1) coefficient uses the mean step: the spectrum is
        # right on average, which is all a noise source needs to be.
        step = float(np.mean(dt))
        # Fluctuators slower than ~40 readings barely move between readings: they run
        # together on one coarser grid (still exact there) and are interpolated once.
        m = int(min(max(self.tau.min() / (20 * step), 1), n))
        slow = self.tau / (20 * step) >= max(m, 2)
        m = int(min(max(self.tau[slow].min() / (20 * step), 1), n)) if slow.any() else 1
        n_coarse = -(-n // m) + 1
        coarse = np.zeros(n_coarse)
        for k, tau in enumerate(self.tau):
            grid, length = (m, n_coarse) if slow[k] else (1, n)
            a = np.exp(-grid * step / tau)
            w = self.sigma * np.sqrt(1 - a * a) * self.rng.standard_normal(length)
            s = ar1_filter(w, a, self._s[k])
            if slow[k]:
                self._s[k] = float(s[-1])  # a little past the last reading: harmless
                coarse += s * weight[k]
            else:
                self._s[k] = float(s[-1])
                out += s * weight[k]
        if slow.any():
            out += np.interp(np.arange(1, n + 1) / m, np.arange(1, n_coarse + 1), coarse)
        return out

    def relax(self, duration: float) -> None:
        """Let the fluctuators evolve, unobserved, for ``duration`` seconds."""
        a, b = _cached(self._ab, float(duration), self._coefficients)
        z = self._draws.normals(len(a))
        self._s = [ak * sk + bk * zk for ak, sk, bk, zk in zip(a, self._s, b, z)]


class TelegraphNoise:
    """Two-level fluctuators, each switching symmetrically with mean dwell ``tau``."""

    def __init__(self, count: int, amplitude: float, tau_min: float, tau_max: float,
                 rng: np.random.Generator) -> None:
        self.rng = rng
        self.amp = amplitude * rng.uniform(0.5, 1.5, count)  # G0
        self.tau = np.exp(rng.uniform(np.log(tau_min), np.log(tau_max), count))  # s
        self._s = rng.integers(0, 2, count).tolist()  # each fluctuator's level, 0 or 1
        self._amps = self.amp.tolist()
        self._taus = self.tau.tolist()
        self._draws = Draws(rng)
        self._p: dict = {}  # dt -> flip probability of each fluctuator

    @property
    def state(self) -> np.ndarray:
        return np.array(self._s, dtype=np.int64)

    @state.setter
    def state(self, value: np.ndarray) -> None:
        self._s = [int(x) for x in np.asarray(value)]

    def _flip_probability(self, dt: float) -> list:
        return [0.5 * (1.0 - math.exp(-2.0 * dt / tau)) for tau in self._taus]

    def step(self, dt: float) -> float:
        """Conductance offset (G0) at the end of one step (the scalar form of ``sample``)."""
        s = self._s
        if not s:
            return 0.0
        p = _cached(self._p, dt, self._flip_probability)
        uniform = self._draws.uniform
        out = 0.0
        for k in range(len(s)):
            if uniform() < p[k]:
                s[k] = 1 - s[k]
            out += self._amps[k] * (s[k] - 0.5)
        return out

    def sample(self, dt: np.ndarray) -> np.ndarray:
        """Conductance offset (G0) at the end of each step, zero-mean per fluctuator."""
        n = dt.size
        out = np.zeros(n)
        if self.amp.size == 0 or n == 0:
            return out
        if n > 64 and np.all(dt == dt[0]):
            # Equal steps: flips are rare, so draw the gaps between them (geometric)
            # and lay the two levels down run by run.
            for k in range(self.amp.size):
                p = 0.5 * (1 - np.exp(-2 * dt[0] / self.tau[k]))
                if p <= 0:
                    out += self.amp[k] * (self._s[k] - 0.5)
                    continue
                gaps = self.rng.geometric(p, size=int(n * p * 1.5) + 16)
                while gaps.sum() < n:
                    gaps = np.concatenate([gaps, self.rng.geometric(p, size=gaps.size)])
                # Step j reads the state after the flips up to j: a flip at step g-1.
                edges = np.cumsum(gaps) - 1
                edges = edges[edges < n]
                runs = np.diff(np.concatenate([[0], edges, [n]]))
                levels = (self._s[k] + np.arange(runs.size)) % 2
                s = np.repeat(levels, runs)
                self._s[k] = int(s[-1])
                out += self.amp[k] * (s - 0.5)
            return out
        p_flip = 0.5 * (1 - np.exp(-2 * dt[:, None] / self.tau))
        flips = self.rng.random(p_flip.shape) < p_flip
        s = (self.state + np.cumsum(flips, axis=0)) % 2
        self.state = s[-1]
        return (s - 0.5) @ self.amp

    def relax(self, duration: float) -> None:
        self.step(float(duration))


_DECADES = 10.0 ** np.arange(-12, 4)


def autorange(x: np.ndarray, floor: float) -> np.ndarray:
    """The decade range an autoranging SMU would pick for each reading (>= floor)."""
    mag = np.maximum(np.abs(x), floor)
    return _DECADES[np.minimum(np.searchsorted(_DECADES, mag * (1 - 1e-12)), _DECADES.size - 1)]


_DECADE_LIST = _DECADES.tolist()


def autorange1(x: float, floor: float) -> float:
    """:func:`autorange` for one reading."""
    k = bisect_left(_DECADE_LIST, max(abs(x), floor) * (1 - 1e-12))
    return _DECADE_LIST[min(k, len(_DECADE_LIST) - 1)]


def read_noise(x: np.ndarray, a: float, b: float, rng: np.random.Generator, t_int: float,
               rng_range: float | np.ndarray) -> np.ndarray:
    """White reading noise: σ = (a·range/ref_range + b·|x|)·√(T_REF/t_int); ``a`` is
    the floor on the reference range (100 µA for current, 1 V for voltage)."""
    sigma = (a * rng_range + b * np.abs(x)) * averaging_factor(t_int)
    return sigma * rng.standard_normal(x.shape)


def ar1_filter(w: np.ndarray, a: float, s0: float) -> np.ndarray:
    """s[i] = a*s[i-1] + w[i] with s[-1] = s0, for 0 < a < 1, vectorised.

    This is scipy.signal.lfilter([1], [1, -a], w, zi=[a*s0]) in numpy alone: importing
    scipy.signal costs ~40 MB and ~1.5 s, which an overnight run should not pay for one
    recursion. Within a block, s[j] = a^j (a*s_prev + sum_{k<=j} w[k] a^-k); blocks are
    short enough that a^-k stays finite, and the rounding error stays relative to |w|.
    """
    n = w.size
    if n == 0:
        return np.asarray(w, dtype=float).copy()
    if a <= 0.2:  # a^k falls below float precision within ~25 terms: sum them directly
        s = np.array(w, dtype=float)
        p = 1.0
        for k in range(1, n):
            p *= a
            if p < 1e-17:
                break
            s[k:] += p * w[:-k]
        head = min(n, 30)
        s[:head] += s0 * a ** np.arange(1, head + 1)
        return s
    rate = -math.log(a)
    block = max(1, int(600.0 / rate))
    out = np.empty(n)
    prev = float(s0)
    for b0 in range(0, n, block):
        seg = w[b0:b0 + block]
        j = np.arange(seg.size)
        up = np.exp(j * rate)
        out[b0:b0 + seg.size] = (a * prev + np.cumsum(seg * up)) / up
        prev = float(out[b0 + seg.size - 1])
    return out
