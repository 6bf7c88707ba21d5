"""User mode of the simulated 4200A: DV, DI, TV, TI, and the MP/DS voltage-source mapping.

A mixin of :class:`~labqc.instruments.sim.kxci4200a.K4200AEmulator`; the rules it follows
(reply format, TV numbering, data-ready bit, re-sending DV/DI before measuring the other
quantity) are listed with their sources in docs/keithley4200a.md.
"""
from __future__ import annotations

import re

import numpy as np

from labqc.instruments.sim.kxci_settings import MAX_I, MAX_V
from labqc.instruments.sim.kxci_syntax import KxciError, fmt
from labqc.instruments.sim.kxci_system import source_and_compliance
from labqc.instruments.sim.kxci_timeline import apply_steps, open_circuit

DV_RANGE_MAX = {0: MAX_V, 1: 21.0, 2: MAX_V, 3: MAX_V}  # range code -> |V| it reaches
DI_RANGE = {0: 0.105, 3: 1e-7, 4: 1e-6, 5: 1e-5, 6: 1e-4, 7: 1e-3, 8: 1e-2, 9: 0.105}
_ROLE = re.compile(r"^(VS|VM|SMU)(\d)$")


def tv_target(n: int) -> tuple[str, int]:
    """What ``TVn`` reads: 1-4 SMU1-4, 5-6 VM1-2, 7-10 SMU5-8, 11-16 VM3-8."""
    if n <= 4:
        return "SMU", n
    if n <= 6:
        return "VM", n - 4
    if n <= 10:
        return "SMU", n - 2
    return "VM", n - 8


class UserMode:
    """DV/DI/TV/TI/MP/DS on the ``smu`` dict of the emulator (arguments checked by the
    command table, kxci_commands.py)."""

    def source(self, source: str, ch: int, code: int | None = None, level: float | None = None,
               comp: float | None = None) -> None:
        """``DVch,range,V[,Icomp]`` / ``DIch,range,I[,Vcomp]``; ``DVch`` alone: off."""
        s = self.smu[ch]
        if code is None:
            s.source, s.in_compliance, s.measured = None, False, None
            return
        comp = s.compliance if comp is None else comp
        if source == "V":
            if code in (4, 5):
                raise KxciError(-993, "voltage ranges 4 and 5 need a preamplifier, none is installed.")
            if abs(level) > DV_RANGE_MAX[code]:
                raise KxciError(-993, f"{level:g} V is beyond range {code}.")
        else:
            if code not in DI_RANGE:
                raise KxciError(-993, f"current range {code} needs a preamplifier or a high-power SMU.")
            if abs(level) > DI_RANGE[code] * 1.05:
                raise KxciError(-993, f"{level:g} A is beyond range {code}.")
        comp = source_and_compliance(source, level, comp)
        s.source, s.level, s.compliance, s.range_code, s.measured = source, level, comp, code, None

    def map_smu(self, ch: int, target: str) -> None:
        """``MP ch,VSn`` / ``MP ch,VMn``: use SMU ch as voltage source or voltmeter n."""
        m = _ROLE.match(target.upper())
        if not m or not 1 <= int(m.group(2)) <= 8:
            raise KxciError(-993, f"MP maps to VS1-VS8, VM1-VM8 or SMU{ch}, not {target!r}.")
        role = "" if m.group(1) == "SMU" else m.group(0)
        for other in self.smu.values():
            if role and other.role == role:
                other.role = ""
        s = self.smu[ch]
        s.role = role
        if role.startswith("VM"):  # a voltmeter: 0 A, reading the terminal voltage
            s.source, s.level, s.compliance, s.range_code, s.measured = "I", 0.0, MAX_V, 0, None

    def voltage_source(self, n: int, level: float | None = None) -> None:
        """``DSn,V`` sources V on voltage source n (an SMU mapped by MP); ``DSn`` turns it off."""
        ch = self._mapped(f"VS{n}")
        s = self.smu[ch]
        if level is None:
            s.source, s.in_compliance, s.measured = None, False, None
            return
        source_and_compliance("V", level, MAX_I)
        s.source, s.level, s.compliance, s.range_code, s.measured = "V", level, MAX_I, 0, None

    def _mapped(self, role: str) -> int:
        ch = next((c for c, s in self.smu.items() if s.role == role), None)
        if ch is None:
            raise KxciError(-979, f"{role} is not configured (map an SMU to it with MP ch,{role}).")
        return ch

    def test_voltage(self, n: int) -> str:
        kind, k = tv_target(n)
        ch = self._mapped(f"VM{k}") if kind == "VM" else self._installed(k)
        return self._test(ch, "V", n)

    def test_current(self, ch: int) -> str:
        return self._test(ch, "I", ch)

    def _installed(self, ch: int) -> int:
        if ch > self.n_smus:
            raise KxciError(-979, f"SMU{ch} is not installed.")
        return ch

    def _test(self, ch: int, what: str, sent: int) -> str:
        s = self.smu[ch]
        if s.source is not None and s.measured not in (None, what):
            raise KxciError(-992, f"send D{s.source}{ch} again before T{what}{sent}: the setting has to be "
                                  "applied again when the measured quantity changes.")
        value, comp = self._measure(ch, what)
        s.measured = what if s.source is not None else None
        others = any(self._other_in_compliance(c) for c in self.smu if c != ch)
        letter = "C" if comp else ("T" if others else "N")
        self._b0 = True  # data ready, as after any reading
        return f"{letter}{chr(ord('A') + ch - 1)}{what}{fmt(value, self.digits)}"

    def _measure(self, ch: int, what: str) -> tuple[float, bool]:
        s = self.smu[ch]
        t_read = self.t_read
        if s.source is None:
            self.spend(t_read)
            return 0.0, False
        if ch == 1:
            m = apply_steps(self.device, s.source, [s.level], [t_read], self.t_int, s.compliance)
            self.spend(t_read)
            self.devtime.t = max(self.devtime.t, self.t)
        else:
            m = open_circuit(s.source, np.array([s.level]), s.compliance)
            self.spend(t_read)
        s.in_compliance = bool(m.compliance[0]) and not (s.role.startswith("VM"))
        return float(m.v[0] if what == "V" else m.i[0]), s.in_compliance

    def _other_in_compliance(self, ch: int) -> bool:
        s = self.smu[ch]
        if s.source is None or s.role.startswith("VM"):
            return False
        if ch == 1:
            return s.in_compliance
        return s.source == "I" and s.level != 0
