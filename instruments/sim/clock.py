"""Virtual time for the simulated lab.

Simulated time advances exactly as the instrument spends it: integration, delays,
sweep steps, pulse widths, waits and VISA timeouts all call :meth:`VirtualClock.advance`.
The time scale maps it to wall time: 0 runs as fast as possible (order kept), 1 is real
time, 0.1 is ten times faster than real. With a scale above 0 the clock also follows the
wall clock while nobody advances it, so an idle instrument ages as a real one would.
"""
from __future__ import annotations

import math
import threading
import time


class VirtualClock:
    """Monotonic simulated seconds since the clock was made (or last reset)."""

    def __init__(self, time_scale: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._t = 0.0
        self.time_scale = time_scale  # validates, and anchors the wall clock

    @property
    def time_scale(self) -> float:
        return self._scale

    @time_scale.setter
    def time_scale(self, scale: float) -> None:
        if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale >= 0):
            raise ValueError(f"time_scale must be a finite number >= 0, got {scale!r}")
        with self._lock:  # made in __init__ before the first assignment
            if hasattr(self, "_scale"):
                self._t = self._now_locked()
            self._scale = float(scale)
            self._wall0 = time.monotonic()
            self._t0 = self._t

    def _now_locked(self) -> float:
        if self._scale > 0:
            synced = self._t0 + (time.monotonic() - self._wall0) / self._scale
            if synced > self._t:
                self._t = synced
        return self._t

    @property
    def now(self) -> float:
        """Current simulated time in seconds."""
        with self._lock:
            return self._now_locked()

    def advance(self, dt: float) -> float:
        """Spend ``dt`` simulated seconds; sleep ``dt * time_scale`` of wall time. Returns now."""
        if not math.isfinite(dt) or dt < 0:
            raise ValueError(f"time cannot go backwards or be undefined: dt={dt!r} s")
        return self.advance_to(self.now + dt)

    def advance_to(self, t: float) -> float:
        """Move simulated time forward to ``t`` (no-op if already past). Returns now."""
        if not math.isfinite(t):
            raise ValueError(f"simulated time must be finite, got {t!r} s")
        with self._lock:
            now = self._now_locked()
            if t <= now:
                return now
            if self._scale > 0:
                # Wall time follows: sleep until the wall clock reaches t's wall equivalent.
                wall_target = self._wall0 + (t - self._t0) * self._scale
                delay = wall_target - time.monotonic()
            else:
                delay = 0.0
            self._t = t
        if delay > 0:
            time.sleep(delay)
        return t

    def reset(self) -> None:
        """Back to t = 0 (tests and a fresh simulated lab)."""
        with self._lock:
            self._t = 0.0
            self._t0 = 0.0
            self._wall0 = time.monotonic()
