"""System-mode tests of the simulated 4200A: ME starts one, DO and RD read it back.

A mixin of :class:`~labqc.instruments.sim.kxci4200a.K4200AEmulator`. Names are the V and I
names of the channels (``CH ch,'V1','I1',...``) and ``'CHnT'``, the timestamps of
channel n (a fixed label). ``DO`` answers every reading so far as ``N+1.000000E-04,...``;
``RD 'name',k`` answers reading k as a bare number, or ``0`` past the last one.
"""
from __future__ import annotations

import re

import numpy as np

from labqc.instruments.sim.kxci_syntax import KxciError, fmt
from labqc.instruments.sim.kxci_sweep import SweepTest

_STAMPS = re.compile(r"^CH(\d)T$")


class Readback:
    """ME/DO/RD on ``system``, ``sys_run`` and ``sys_last`` of the emulator."""

    def measure(self, kind: int) -> None:
        """``ME1`` run, ``ME2`` repeat, ``ME3`` append, ``ME4`` abort (from any page)."""
        if kind == 4:
            if self.sys_run is not None:
                self._abort_tests(self.t)
            return None
        if self.running() is not None:
            raise KxciError(-980, "a test is already running.")
        self.page_check("MD")
        standby = {ch for ch, s in self.smu.items() if s.standby}
        plan = self.system.plan(self.t_read, standby)
        if kind == 3 and self.sys_last is not None:
            if self.sys_last.done + plan.n > self.system.buffer:
                raise KxciError(-993, f"appending {plan.n} readings overflows the buffer of {self.system.buffer}.")
        previous = self.sys_last if kind == 3 else None
        test = SweepTest(plan, self.t, self.device, self.t_int, self.exit_on_compliance)
        test.previous = previous
        self.sys_run = self.sys_last = test
        self._b0 = False
        return None

    def _series(self, nm: str) -> tuple[np.ndarray, np.ndarray]:
        """(values, compliance flags) of a DO/RD name over the last test (and the tests ME3
        appended it to); timestamps for ``'CHnT'``, whose flags are all False."""
        test = self.sys_last
        if test is not None:
            names, channels = test.plan.names, set(test.plan.sources)
        else:
            names = {n: (ch, q) for ch, d in self.system.channels.items()
                     for n, q in ((d.vname, "V"), (d.iname, "I"))}
            channels = set(self.system.channels)
        stamps = _STAMPS.match(nm)
        if nm not in names and not (stamps and int(stamps.group(1)) in channels):
            raise KxciError(-993, f"no data named {nm!r}.")
        if test is None:
            return np.zeros(0), np.zeros(0, bool)
        chain = []
        while test is not None:  # ME3 appends to the tests before it
            chain.append(test)
            test = test.previous
        vals, comps = [], []
        for tst in reversed(chain):
            if stamps:
                v, c = tst.timestamps(), np.zeros(tst.done, bool)
            elif nm in tst.plan.names:
                v, c = tst.series(nm)
            else:
                v, c = np.zeros(tst.done), np.zeros(tst.done, bool)
            vals.append(v)
            comps.append(c)
        return np.concatenate(vals), np.concatenate(comps)

    def data_out(self, nm: str) -> str:
        values, comp = self._series(nm)
        self._b0 = False
        return ",".join(("C" if c else "N") + fmt(float(v), self.digits) for v, c in zip(values, comp))

    def read_one(self, nm: str, k: int) -> str:
        values, _ = self._series(nm)
        self._b0 = False
        if k > len(values):
            return "0"
        return fmt(float(values[k - 1]), self.digits)
