"""User mode of the simulated 4200A: DV, DI, TV, TI, and the MP/DS voltage-source mapping.

A mixin of :class:`~labqc.instruments.sim.kxci4200a.K4200AEmulator`; the rules it follows
(reply format, TV numbering, data-ready bit, re-sending DV/DI before measuring the other
quantity) are listed with their sources in docs/keithley4200a.md.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from labqc.instruments.sim.kxci_syntax import KxciError, fmt, integer, need, number
from labqc.instruments.sim.kxci_system import DEFAULT_COMPLIANCE, MAX_I, MAX_V, source_and_compliance
from labqc.instruments.sim.kxci_timeline import apply_steps, open_circuit

DV_RANGE_MAX = {0: MAX_V, 1: 21.0, 2: MAX_V, 3: MAX_V}  # range code -> |V| it reaches
DI_RANGE = {0: 0.105, 3: 1e-7, 4: 1e-6, 5: 1e-5, 6: 1e-4, 7: 1e-3, 8: 1e-2, 9: 0.105}
_ROLE = re.compile(r"^(VS|VM|SMU)(\d)$")


@dataclass
class Smu:
    """User-mode state of one SMU."""

    source: str | None = None  # None: output off
    level: float = 0.0
    compliance: float = DEFAULT_COMPLIANCE
    range_code: int = 0
    in_compliance: bool = False
    standby: bool = False  # ST ch,1
    role: str = ""  # "VS1", "VM2" after MP; "" as an SMU
    measured: str | None = None  # V or I: what TV/TI read since the last DV/DI/DS


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
    """DV/DI/TV/TI/MP/DS on the ``smu`` dict of the emulator."""

    def _user(self) -> None:
        if self.page != "US":
            raise KxciError(-974, "send US before user-mode commands.")

    def _c_DV(self, a, source: str = "V"):
        self._user()
        if not a:
            raise KxciError(-993, f"D{source} needs a channel.")
        ch = self._smu_channel(a[0])
        s = self.smu[ch]
        if len(a) == 1:
            s.source, s.in_compliance, s.measured = None, False, None
            return
        need(a, 3, 4, f"D{source}")
        level = number(a[2])
        comp = number(a[3]) if len(a) > 3 else s.compliance
        if source == "V":
            code = integer(a[1], 0, 5, "voltage range")
            if code in (4, 5):
                raise KxciError(-993, "voltage ranges 4 and 5 need a preamplifier, none is installed.")
            if abs(level) > DV_RANGE_MAX[code]:
                raise KxciError(-993, f"{level:g} V is beyond range {code}.")
        else:
            code = integer(a[1], 0, 13, "current range")
            if code not in DI_RANGE:
                raise KxciError(-993, f"current range {code} needs a preamplifier or a high-power SMU.")
            if abs(level) > DI_RANGE[code] * 1.05:
                raise KxciError(-993, f"{level:g} A is beyond range {code}.")
        comp = source_and_compliance(source, level, comp)
        s.source, s.level, s.compliance, s.range_code, s.measured = source, level, comp, code, None

    def _c_DI(self, a):
        self._c_DV(a, "I")

    def _c_MP(self, a):
        """``MP ch,VSn`` / ``MP ch,VMn``: use SMU ch as voltage source or voltmeter n."""
        self._user()
        need(a, 2, 2, "MP")
        ch = self._smu_channel(a[0])
        m = _ROLE.match(a[1].strip().upper())
        if not m or not 1 <= int(m.group(2)) <= 8:
            raise KxciError(-993, f"MP maps to VS1-VS8, VM1-VM8 or SMU{ch}, not {a[1]!r}.")
        role = "" if m.group(1) == "SMU" else m.group(0)
        for other in self.smu.values():
            if role and other.role == role:
                other.role = ""
        s = self.smu[ch]
        s.role = role
        if role.startswith("VM"):  # a voltmeter: 0 A, reading the terminal voltage
            s.source, s.level, s.compliance, s.range_code, s.measured = "I", 0.0, MAX_V, 0, None

    def _c_DS(self, a):
        """``DSn,V`` sources V on voltage source n (an SMU mapped by MP); ``DSn`` turns it off."""
        self._user()
        if not a:
            raise KxciError(-993, "DS needs a voltage source number.")
        n = integer(a[0], 1, 8, "voltage source")
        ch = self._mapped(f"VS{n}")
        s = self.smu[ch]
        if len(a) == 1:
            s.source, s.in_compliance, s.measured = None, False, None
            return
        need(a, 2, 2, "DS")
        level = number(a[1])
        source_and_compliance("V", level, MAX_I)
        s.source, s.level, s.compliance, s.range_code, s.measured = "V", level, MAX_I, 0, None

    def _mapped(self, role: str) -> int:
        ch = next((c for c, s in self.smu.items() if s.role == role), None)
        if ch is None:
            raise KxciError(-979, f"{role} is not configured (map an SMU to it with MP ch,{role}).")
        return ch

    def _c_TV(self, a, what: str = "V"):
        self._user()
        need(a, 1, 1, f"T{what}")
        if what == "V":
            kind, n = tv_target(integer(a[0], 1, 16, "TV channel"))
            ch = self._mapped(f"VM{n}") if kind == "VM" else self._smu_channel(str(n))
        else:
            ch = self._smu_channel(a[0])
        s = self.smu[ch]
        if s.source is not None and s.measured not in (None, what):
            raise KxciError(-992, f"send D{s.source}{ch} again before T{what}{a[0]}: the setting has to be "
                                  "applied again when the measured quantity changes.")
        value, comp = self._measure(ch, what)
        s.measured = what if s.source is not None else None
        others = any(self._other_in_compliance(c) for c in self.smu if c != ch)
        letter = "C" if comp else ("T" if others else "N")
        self._b0 = True  # data ready, as after any reading
        return f"{letter}{chr(ord('A') + ch - 1)}{what}{fmt(value, self.digits)}"

    def _c_TI(self, a):
        return self._c_TV(a, "I")

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
