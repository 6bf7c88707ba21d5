"""A running system-mode test of the simulated 4200A (what ME1 starts): one reading per
point, evaluated lazily on the device timeline (kxci_timeline.py). The pages that plan it
are in kxci_system.py; DO and RD read it back (kxci_readback.py).
"""
from __future__ import annotations

import numpy as np

from labqc.instruments.sim.kxci_system import Plan
from labqc.instruments.sim.kxci_timeline import Activity, apply_steps, open_circuit


class SweepTest(Activity):
    """A running system-mode test: one reading per point, evaluated lazily.

    SMU1 drives the device; other SMUs are open circuit. With exit-on-compliance the test
    ends at the first reading in compliance (evaluated point by point, since whether the
    next step happens at all depends on it).
    """

    def __init__(self, plan: Plan, start: float, device, t_int: float, exit_on_compliance: bool):
        self.plan = plan
        self.start = start
        self.device = device
        self.t_int = t_int
        self.ec = exit_on_compliance
        self.ends = start + np.cumsum(plan.dwell)
        self.end = float(self.ends[-1])
        n = plan.n
        self.v = {ch: np.zeros(n) for ch in plan.sources}
        self.i = {ch: np.zeros(n) for ch in plan.sources}
        self.comp = {ch: np.zeros(n, bool) for ch in plan.sources}
        self.done = 0
        self.stopped = False
        self.previous: SweepTest | None = None  # the test ME3 appended this one to

    def _reached(self) -> float:
        return float(self.ends[self.done - 1]) if self.done else self.start

    def advance(self, t: float) -> float:
        if not self.stopped:
            k1 = int(np.searchsorted(self.ends, t + 1e-15, side="right"))
            if k1 > self.done:
                self._evaluate(self.done, k1)
        return self._reached()

    def _evaluate(self, k0: int, k1: int) -> None:
        others = [ch for ch in self.plan.sources if ch != 1]
        for ch in others:
            src, levels, comp = self.plan.sources[ch]
            m = open_circuit(src, levels[k0:k1], comp)
            self.v[ch][k0:k1], self.i[ch][k0:k1], self.comp[ch][k0:k1] = m.v, m.i, m.compliance
        last = k1
        if self.ec and others:
            hit = np.any([self.comp[ch][k0:k1] for ch in others], axis=0)
            if hit.any():
                last = k0 + int(np.argmax(hit)) + 1
        if 1 in self.plan.sources:
            src, levels, comp = self.plan.sources[1]
            dwell = self.plan.dwell
            if not self.ec:
                m = apply_steps(self.device, src, levels[k0:last], dwell[k0:last], self.t_int, comp)
                self.v[1][k0:last], self.i[1][k0:last], self.comp[1][k0:last] = m.v, m.i, m.compliance
            else:
                for k in range(k0, last):
                    m = apply_steps(self.device, src, levels[k:k + 1], dwell[k:k + 1], self.t_int, comp)
                    self.v[1][k], self.i[1][k], self.comp[1][k] = m.v[0], m.i[0], m.compliance[0]
                    if m.compliance[0]:
                        last = k + 1
                        break
        else:
            self.device.rest(float(np.sum(self.plan.dwell[k0:last])))
        self.done = last
        if self.ec and last > k0 and self._any_comp(last - 1):
            self.stopped = True
            self.end = self._reached()

    def _any_comp(self, k: int) -> bool:
        return k >= 0 and any(bool(self.comp[ch][k]) for ch in self.plan.sources)

    def stop(self, t: float) -> float:
        reached = self.advance(t)
        if not self.stopped and self.done < self.plan.n and t > reached:
            if 1 in self.plan.sources:  # the step cut short: applied, not read
                src, levels, comp = self.plan.sources[1]
                apply_steps(self.device, src, levels[self.done:self.done + 1], [t - reached], 0.0, comp)
            else:
                self.device.rest(t - reached)
            reached = t
        self.stopped = True
        self.end = min(self.end, reached)
        return reached

    # --- readback ---------------------------------------------------------------------
    def series(self, nm: str) -> tuple[np.ndarray, np.ndarray]:
        """(values, compliance flags) of the readings taken so far for one name."""
        ch, what = self.plan.names[nm]
        k = self.done
        if ch not in self.v:
            return np.zeros(k), np.zeros(k, bool)
        values = self.v[ch] if what == "V" else self.i[ch]
        return values[:k], self.comp[ch][:k]

    def timestamps(self) -> np.ndarray:
        return self.ends[: self.done] - self.start
