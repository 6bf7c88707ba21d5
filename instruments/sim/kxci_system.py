"""System mode of the simulated 4200A: the DE/SS/SM pages and the buffered test ME runs.

Pages: ``DE`` defines channels (``CH ch,'Vname','Iname',mode,func``; ``CH ch`` alone
undefines one), ``SS`` sets up sources (VAR1 by ``VR``/``IR`` staircases or ``VL``/``IL``
lists, VAR2 by ``VP``/``IP``, constants by ``VC``/``IC``, ``DT`` delay, ``HT`` hold),
``SM`` the measurement (``DM``, ``LI``, and for sampling ``NR``, ``IN``, ``WT``).
With a VAR1 channel the test is a sweep; with none it is sampling (every channel held
constant, ``NR`` readings every ``IN`` seconds after ``WT``).

Timing of one test (``t_read`` = settle + integration, see kxci4200a.py):
- sweep point: ``DT + t_read``; the first point of each VAR1 sweep adds ``HT``;
- sampling: first reading after ``WT + t_read``, then one every ``max(IN, t_read)``;
- timestamps (``DO 'CHnT'``) are the end of each reading, in seconds from ME1.
Readings of a V-sourced channel report the measured terminal voltage (it drops below the
programmed level when the current limit takes over) and the measured current.
VAR1' (func 4) follows VAR1 with ratio 1 and offset 0 (FS/RT are not simulated).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from labqc.instruments.sim.kxci_syntax import KxciError, integer, name, need, number, number_in
from labqc.instruments.sim.kxci_timeline import Activity, apply_steps, open_circuit

MAX_V = 210.0  # V, 4200-SMU
MAX_I = 0.105  # A, 4200-SMU (medium power)
MIN_COMPLIANCE = 1e-7  # A without a preamplifier: smaller limits are raised to this
DEFAULT_COMPLIANCE = 105e-6  # A, power-on default
VAR1_MAX = 1024
VAR2_MAX = 32
BUFFER = 4096  # readings per channel, lists and NR (1024 in 4145 emulation)
LOG_PER_DECADE = {2: 10, 3: 25, 4: 50}
MODE_V, MODE_I, MODE_COMMON = 1, 2, 3
VAR1, VAR2, CONST, VAR1P = 1, 2, 3, 4


def source_and_compliance(source: str, level: float, compliance: float) -> float:
    """Check a level against the SMU's reach and return the effective compliance
    (a current limit below 100 nA is silently raised, as the instrument does)."""
    comp = abs(compliance)
    if source == "V":
        if abs(level) > MAX_V:
            raise KxciError(-993, f"{level:g} V exceeds the SMU's {MAX_V:g} V.")
        if comp > MAX_I:
            raise KxciError(-993, f"current compliance {comp:g} A exceeds {MAX_I:g} A.")
        return max(comp, MIN_COMPLIANCE)
    if abs(level) > MAX_I:
        raise KxciError(-993, f"{level:g} A exceeds the SMU's {MAX_I:g} A.")
    if comp > MAX_V or comp == 0:
        raise KxciError(-993, f"voltage compliance {comp:g} V is outside (0, {MAX_V:g}] V.")
    return comp


@dataclass
class ChannelDef:
    vname: str
    iname: str
    mode: int
    func: int


@dataclass
class Var1:
    source: str
    levels: np.ndarray
    compliance: float
    channel: int | None = None  # set for VL/IL lists


@dataclass
class Plan:
    """Everything a test needs, resolved at ME1."""

    n: int
    dwell: np.ndarray  # s, per reading
    sources: dict[int, tuple[str, np.ndarray, float]]  # ch -> (V|I, levels, compliance)
    names: dict[str, tuple[int, str]]  # name -> (ch, "V"|"I")
    standby: set[int] = field(default_factory=set)


class SystemSetup:
    """The DE, SS and SM pages."""

    #: The pages each command is accepted on. The vendor's examples send SR on the SM
    #: page and LI on the MD page (docs/keithley4200a.md).
    PAGE_OF = {"CH": ("DE",), "VS": ("DE",), "VM": ("DE",),
               "VR": ("SS",), "IR": ("SS",), "VL": ("SS",), "IL": ("SS",), "VC": ("SS",), "IC": ("SS",),
               "VP": ("SS",), "IP": ("SS",), "DT": ("SS",), "HT": ("SS",), "SR": ("SS", "SM"),
               "DM": ("SM",), "LI": ("SM", "MD"), "NR": ("SM",), "IN": ("SM",), "WT": ("SM",),
               "XN": ("SM",), "XT": ("SM",), "YA": ("SM",), "YB": ("SM",)}

    def __init__(self, smus: int) -> None:
        self.smus = smus
        self.buffer = BUFFER
        self.reset()

    def reset(self) -> None:
        """Power-on defaults: every SMU defined as a 0 V constant (clear them with CH)."""
        self.channels: dict[int, ChannelDef] = {
            ch: ChannelDef(f"V{ch}", f"I{ch}", MODE_V, CONST) for ch in range(1, self.smus + 1)}
        self.var1: Var1 | None = None
        self.var2: tuple[str, float, float, int, float] | None = None
        self.consts: dict[int, tuple[str, float, float]] = {}
        self.delay = 0.0
        self.hold = 0.0
        self.display = 2
        self.listed: list[str] = []
        self.nr = 1
        self.interval = 0.01
        self.wait = 0.0
        self.fixed_range: dict[int, float] = {}  # SR: ch -> fixed current range (A)
        self.axes: dict[str, tuple] = {}  # XN/XT/YA/YB graph set-up (kept, not drawn)

    def channel(self, field_: str) -> int:
        ch = integer(field_, 1, 9, "SMU channel")
        if ch > self.smus:
            raise KxciError(-979, f"SMU{ch} is not installed.")
        return ch

    def handle(self, head: str, args: list[str]) -> None:
        getattr(self, "_" + head)(args)

    # --- DE ---------------------------------------------------------------------------
    def _CH(self, a: list[str]) -> None:
        if len(a) == 1:
            self.channels.pop(self.channel(a[0]), None)
            return
        need(a, 5, 5, "CH")
        ch = self.channel(a[0])
        vname, iname = name(a[1]), name(a[2])
        for nm in (vname, iname):
            if not (1 <= len(nm) <= 6 and nm.isalnum()):
                raise KxciError(-993, f"channel name {nm!r} must be 1-6 letters or digits.")
        mode = integer(a[3], 1, 3, "channel mode")
        func = integer(a[4], 1, 4, "channel function")
        if mode == MODE_COMMON and func != CONST:
            raise KxciError(-993, "a COMMON channel must have function 3 (CONST).")
        taken = {n for c, d in self.channels.items() if c != ch for n in (d.vname, d.iname)}
        if vname == iname or vname in taken or iname in taken:
            raise KxciError(-993, f"channel names {vname!r}/{iname!r} are already used.")
        self.channels[ch] = ChannelDef(vname, iname, mode, func)

    def _VS(self, a: list[str]) -> None:
        raise KxciError(-979, "no voltage source units (VS) are installed.")

    _VM = _VS

    # --- SS ---------------------------------------------------------------------------
    def _VR(self, a: list[str], source: str = "V") -> None:
        need(a, 5, 5, "VR/IR")
        kind = integer(a[0], 1, 4, "sweep type")
        start, stop, step, comp = (number(x) for x in a[1:])
        if kind == 1:
            if step == 0:
                if start != stop:
                    raise KxciError(-993, "a zero step needs start = stop.")
                n = 1
            else:
                span = (stop - start) / step
                if span < -1e-9:
                    raise KxciError(-993, "the step points away from the stop value.")
                n = int(math.floor(span + 1e-9)) + 1
            if n > VAR1_MAX:
                raise KxciError(-993, f"{n} VAR1 points exceed the maximum of {VAR1_MAX}.")
            levels = start + step * np.arange(n) if n > 1 else np.array([start])
        else:
            if start == 0 or stop == 0 or (start > 0) != (stop > 0):
                raise KxciError(-993, "a log sweep needs non-zero start and stop of one sign.")
            n = int(round(LOG_PER_DECADE[kind] * abs(math.log10(stop / start)))) + 1
            if n > VAR1_MAX:
                raise KxciError(-993, f"{n} VAR1 points exceed the maximum of {VAR1_MAX}.")
            levels = np.sign(start) * np.geomspace(abs(start), abs(stop), n)
        comp = self._check_levels(source, levels, comp)
        self.var1 = Var1(source, levels, comp)

    def _IR(self, a: list[str]) -> None:
        self._VR(a, "I")

    def _VL(self, a: list[str], source: str = "V") -> None:
        if len(a) < 4:
            raise KxciError(-993, "VL/IL takes ch,master,compliance,value1[,...].")
        ch = self.channel(a[0])
        integer(a[1], 0, 1, "master/slave")
        comp = number(a[2])
        if len(a) - 3 > self.buffer:
            raise KxciError(-993, f"{len(a) - 3} list points exceed the maximum of {self.buffer}.")
        levels = np.array([number(x) for x in a[3:]])
        comp = self._check_levels(source, levels, comp)
        self.var1 = Var1(source, levels, comp, channel=ch)

    def _IL(self, a: list[str]) -> None:
        self._VL(a, "I")

    def _VC(self, a: list[str], source: str = "V") -> None:
        need(a, 3, 3, "VC/IC")
        ch = self.channel(a[0])
        level, comp = number(a[1]), number(a[2])
        comp = source_and_compliance(source, level, comp)
        self.consts[ch] = (source, level, comp)

    def _IC(self, a: list[str]) -> None:
        self._VC(a, "I")

    def _VP(self, a: list[str], source: str = "V") -> None:
        need(a, 4, 4, "VP/IP")
        start, step = number(a[0]), number(a[1])
        n = integer(a[2], 1, VAR2_MAX, "VAR2 points")
        comp = number(a[3])
        comp = self._check_levels(source, start + step * np.arange(n), comp)
        self.var2 = (source, start, step, n, comp)

    def _IP(self, a: list[str]) -> None:
        self._VP(a, "I")

    def _DT(self, a: list[str]) -> None:
        need(a, 1, 1, "DT")
        self.delay = number_in(a[0], 0, 6.553, "delay time (s)")

    def _HT(self, a: list[str]) -> None:
        need(a, 1, 1, "HT")
        self.hold = number_in(a[0], 0, 655.3, "hold time (s)")

    def _SR(self, a: list[str]) -> None:
        """``SR ch,I``: a fixed current range (0: autorange). A limit above the range's
        full scale acts at the full scale while the range is fixed (LPT rangeX rule)."""
        need(a, 2, 2, "SR")
        ch = self.channel(a[0])
        r = number_in(a[1], 0, MAX_I, "current range (A)")
        if r == 0:
            self.fixed_range.pop(ch, None)
        else:
            self.fixed_range[ch] = r

    @staticmethod
    def _check_levels(source: str, levels: np.ndarray, comp: float) -> float:
        peak = float(np.max(np.abs(levels)))
        return source_and_compliance(source, peak, comp)

    # --- SM ---------------------------------------------------------------------------
    def _DM(self, a: list[str]) -> None:
        need(a, 1, 1, "DM")
        self.display = integer(a[0], 1, 2, "display mode")

    def _LI(self, a: list[str]) -> None:
        if not 1 <= len(a) <= 8:
            raise KxciError(-993, "LI takes 1 to 8 quoted names.")
        self.listed = [name(x) for x in a]

    def _axis(self, key: str, a: list[str]) -> None:
        """``XN``/``YA``/``YB`` ``'name',scale,min,max``: a graph axis (1 linear, 2 log)."""
        need(a, 4, 4, key)
        self.axes[key] = (name(a[0]), integer(a[1], 1, 2, "axis scale"), number(a[2]), number(a[3]))

    def _XN(self, a: list[str]) -> None:
        self._axis("XN", a)

    def _YA(self, a: list[str]) -> None:
        self._axis("YA", a)

    def _YB(self, a: list[str]) -> None:
        self._axis("YB", a)

    def _XT(self, a: list[str]) -> None:
        """``XT min,max``: a time axis (s)."""
        need(a, 2, 2, "XT")
        self.axes["XT"] = tuple(number_in(x, 0, 1e5, "time axis (s)") for x in a)

    def _NR(self, a: list[str]) -> None:
        need(a, 1, 1, "NR")
        self.nr = integer(a[0], 1, self.buffer, "number of readings")

    def _IN(self, a: list[str]) -> None:
        need(a, 1, 1, "IN")
        self.interval = number_in(a[0], 0.01, 10, "sampling interval (s)")

    def _WT(self, a: list[str]) -> None:
        need(a, 1, 1, "WT")
        self.wait = number_in(a[0], 0, 100, "wait time (s)")

    # --- ME ---------------------------------------------------------------------------
    def plan(self, t_read: float, standby: set[int]) -> Plan:
        """Resolve the pages into a test, or raise the error the instrument gives."""
        if not self.channels:
            raise KxciError(-993, "no SMU channel is defined (DE CH).")
        by_func: dict[int, list[int]] = {}
        for ch, d in self.channels.items():
            by_func.setdefault(d.func, []).append(ch)
        if len(by_func.get(VAR1, [])) > 1 or len(by_func.get(VAR2, [])) > 1:
            raise KxciError(-993, "only one channel can be VAR1 and one VAR2.")
        sources: dict[int, tuple[str, np.ndarray, float]] = {}
        var1_ch = by_func.get(VAR1, [None])[0]
        if var1_ch is not None:
            v1 = self._var1_for(var1_ch)
            n1 = len(v1.levels)
            n2 = 1
            var2_ch = by_func.get(VAR2, [None])[0]
            if var2_ch is not None:
                if self.var2 is None:
                    raise KxciError(-993, f"SMU{var2_ch} is VAR2 but no VP/IP is set.")
                src2, start2, step2, n2, comp2 = self.var2
                self._mode_matches(var2_ch, src2)
                sources[var2_ch] = (src2, np.repeat(start2 + step2 * np.arange(n2), n1), comp2)
            n = n1 * n2
            if n > self.buffer:
                raise KxciError(-993, f"{n} readings exceed the buffer of {self.buffer}.")
            sources[var1_ch] = (v1.source, np.tile(v1.levels, n2), v1.compliance)
            for ch in by_func.get(VAR1P, []):
                self._mode_matches(ch, v1.source)
                sources[ch] = (v1.source, np.tile(v1.levels, n2), v1.compliance)
            dwell = np.full(n, self.delay + t_read)
            dwell[::n1] += self.hold
        else:
            if by_func.get(VAR2) or by_func.get(VAR1P):
                raise KxciError(-993, "VAR2 and VAR1' need a VAR1 channel.")
            n = self.nr
            dwell = np.full(n, max(self.interval, t_read))
            dwell[0] = self.wait + t_read
        for ch in by_func.get(CONST, []):
            d = self.channels[ch]
            if d.mode == MODE_COMMON:
                sources[ch] = ("V", np.zeros(n), MAX_I)
                continue
            src, level, comp = self.consts.get(ch, ("V" if d.mode == MODE_V else "I", 0.0,
                                                    DEFAULT_COMPLIANCE if d.mode == MODE_V else 20.0))
            self._mode_matches(ch, src)
            sources[ch] = (src, np.full(n, level), comp)
        for ch, rng in self.fixed_range.items():  # a fixed range below the limit limits at it
            if ch in sources and sources[ch][0] == "V" and rng < sources[ch][2]:
                sources[ch] = (sources[ch][0], sources[ch][1], rng)
        names = {}
        for ch, d in self.channels.items():
            names[d.vname] = (ch, "V")
            names[d.iname] = (ch, "I")
        return Plan(n, dwell, sources, names, standby & set(sources))

    def _var1_for(self, ch: int) -> Var1:
        v1 = self.var1
        if v1 is None:
            raise KxciError(-993, f"SMU{ch} is VAR1 but no VR/IR/VL/IL sweep is set.")
        if v1.channel is not None and v1.channel != ch:
            raise KxciError(-993, f"the list sweep is set on SMU{v1.channel} but SMU{ch} is VAR1.")
        self._mode_matches(ch, v1.source)
        return v1

    def _mode_matches(self, ch: int, source: str) -> None:
        mode = self.channels[ch].mode
        if (mode == MODE_V) != (source == "V"):
            raise KxciError(-993, f"SMU{ch} is defined as a {'V' if mode == MODE_V else 'I'} source "
                                  f"but set up with a {source} source.")


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
