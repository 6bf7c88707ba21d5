"""System mode of the simulated 4200A: the DE/SS/SM pages, and the plan of the test ME
runs (kxci_sweep.py runs it).

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

from labqc.instruments.sim.kxci_settings import BUFFER, DEFAULT_COMPLIANCE, MAX_I, MAX_V, SYSTEM
from labqc.instruments.sim.kxci_syntax import KxciError, linear_levels

MIN_COMPLIANCE = 1e-7  # A without a preamplifier: smaller limits are raised to this
VAR1_MAX = 1024
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
    """The DE, SS and SM pages (the command table, kxci_commands.py, says which command
    belongs to which page and checks the arguments)."""

    def __init__(self, smus: int) -> None:
        self.smus = smus
        self.buffer = BUFFER
        self.reset()

    def reset(self) -> None:
        """Power-on defaults: every SMU defined as a 0 V constant (clear them with CH)."""
        self.channels: dict[int, ChannelDef] = {
            ch: ChannelDef(f"V{ch}", f"I{ch}", MODE_V, CONST) for ch in range(1, self.smus + 1)}
        SYSTEM.reset(self)

    def set(self, attr: str, value) -> None:
        """A setting that is just stored (DT, HT, DM, NR, IN, WT)."""
        setattr(self, attr, value)

    # --- DE ---------------------------------------------------------------------------
    def define(self, ch: int, vname: str | None = None, iname: str | None = None, mode: int = MODE_V,
               func: int = CONST) -> None:
        """``CH ch,'Vname','Iname',mode,func``; ``CH ch`` alone undefines the channel."""
        if vname is None:
            self.channels.pop(ch, None)
            return
        for nm in (vname, iname):
            if not (1 <= len(nm) <= 6 and nm.isalnum()):
                raise KxciError(-993, f"channel name {nm!r} must be 1-6 letters or digits.")
        if mode == MODE_COMMON and func != CONST:
            raise KxciError(-993, "a COMMON channel must have function 3 (CONST).")
        taken = {n for c, d in self.channels.items() if c != ch for n in (d.vname, d.iname)}
        if vname == iname or vname in taken or iname in taken:
            raise KxciError(-993, f"channel names {vname!r}/{iname!r} are already used.")
        self.channels[ch] = ChannelDef(vname, iname, mode, func)

    def no_units(self, *_a) -> None:
        raise KxciError(-979, "no voltage source units (VS) are installed.")

    # --- SS ---------------------------------------------------------------------------
    def staircase(self, source: str, kind: int, start: float, stop: float, step: float, comp: float) -> None:
        """``VR``/``IR`` type,start,stop,step,compliance: 1 linear, 2-4 log (10, 25, 50 per decade)."""
        if kind == 1:
            levels = linear_levels(start, stop, step, VAR1_MAX, counted="VAR1 points")
        else:
            if start == 0 or stop == 0 or (start > 0) != (stop > 0):
                raise KxciError(-993, "a log sweep needs non-zero start and stop of one sign.")
            n = int(round(LOG_PER_DECADE[kind] * abs(math.log10(stop / start)))) + 1
            if n > VAR1_MAX:
                raise KxciError(-993, f"{n} VAR1 points exceed the maximum of {VAR1_MAX}.")
            levels = np.sign(start) * np.geomspace(abs(start), abs(stop), n)
        comp = self._check_levels(source, levels, comp)
        self.var1 = Var1(source, levels, comp)

    def list_sweep(self, source: str, ch: int, _master: int, comp: float, *levels: float) -> None:
        """``VL``/``IL`` ch,master,compliance,level1[,...]."""
        if len(levels) > self.buffer:
            raise KxciError(-993, f"{len(levels)} list points exceed the maximum of {self.buffer}.")
        arr = np.array(levels)
        comp = self._check_levels(source, arr, comp)
        self.var1 = Var1(source, arr, comp, channel=ch)

    def constant(self, source: str, ch: int, level: float, comp: float) -> None:
        """``VC``/``IC`` ch,level,compliance."""
        self.consts[ch] = (source, level, source_and_compliance(source, level, comp))

    def set_var2(self, source: str, start: float, step: float, n: int, comp: float) -> None:
        """``VP``/``IP`` start,step,points,compliance."""
        comp = self._check_levels(source, start + step * np.arange(n), comp)
        self.var2 = (source, start, step, n, comp)

    def set_fixed_range(self, ch: int, r: float) -> None:
        """``SR ch,I``: a fixed current range (0: autorange). A limit above the range's
        full scale acts at the full scale while the range is fixed (docs/keithley4200a.md, SM page)."""
        if r == 0:
            self.fixed_range.pop(ch, None)
        else:
            self.fixed_range[ch] = r
    @staticmethod
    def _check_levels(source: str, levels: np.ndarray, comp: float) -> float:
        peak = float(np.max(np.abs(levels)))
        return source_and_compliance(source, peak, comp)

    # --- SM ---------------------------------------------------------------------------
    def list_names(self, *names: str) -> None:
        self.listed = list(names)

    def axis(self, key: str, nm: str, scale: int, lo: float, hi: float) -> None:
        """``XN``/``YA``/``YB`` ``'name',scale,min,max``: a graph axis (1 linear, 2 log)."""
        self.axes[key] = (nm, scale, lo, hi)

    def time_axis(self, lo: float, hi: float) -> None:
        """``XT min,max``: a time axis (s)."""
        self.axes["XT"] = (lo, hi)

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
