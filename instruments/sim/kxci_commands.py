"""The command table of the simulated 4200A: every KXCI command it knows, in one place.

Each :class:`Command` row names the command word (``DV``, ``:PMU:INIT``, ``*IDN?``),
where it is valid (a user-mode command, a system-mode page, modeless, or a PMU mode), whether
it may run while a test runs, its arguments (type, range, count), and the handler that
carries it out with the arguments already checked and converted. :func:`dispatch` does
the checking, in this order, with the error numbers of kxci_syntax.MESSAGES:

1. unknown word: -992;
2. a test running and the command not allowed then: -980;
3. the wrong place: a user-mode command outside ``US`` -974; a page command in ``US``
   -975, on another page -989; a PMU command with no PMU, before ``:PMU:INIT`` or in
   the other PMU mode: -969;
4. the wrong number of arguments: -993;
5. each argument in turn: not a number (or longer than 12 characters) -993; out of its
   range -993 (-969 for the PMU's); an SMU that is not installed -979.

What the simulator answers, and which source confirms it, is in docs/keithley4200a.md.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from labqc.instruments.sim.kxci_settings import EMULATOR, MAX_I, MAX_V, PMU, PMU_CHANNEL, SYSTEM
from labqc.instruments.sim.kxci_syntax import KxciError, integer, name, number, number_in

INF = math.inf
SYSTEM_PAGES = ("DE", "SS", "SM", "MD")


@dataclass(frozen=True)
class Arg:
    """One argument: ``kind`` "num" (a float in lo..hi), "int" (a whole number in lo..hi),
    "name" (a quoted name), "word" (text as sent), "smu" (an installed SMU, 1-8),
    "pmu" (PMU channel 1-2); ``code``: the error number of a value out of range."""

    kind: str
    what: str = "value"
    lo: float = -INF
    hi: float = INF
    code: int = -993

    def read(self, emu, text: str):
        if self.kind == "num":
            return number(text, self.what) if (self.lo, self.hi) == (-INF, INF) else \
                number_in(text, self.lo, self.hi, self.what, self.code)
        if self.kind == "int":
            hi = self.hi(emu) if callable(self.hi) else self.hi
            return integer(text, int(self.lo), int(hi), self.what, self.code)
        if self.kind == "name":
            return name(text)
        if self.kind == "word":
            return text.strip()
        if self.kind == "smu":
            ch = integer(text, 1, 8, "SMU channel")
            if ch > emu.n_smus:
                raise KxciError(-979, f"SMU{ch} is not installed.")
            return ch
        if self.kind == "pmu":
            return integer(text, 1, 2, "PMU channel", code=-969)
        raise ValueError(f"no argument kind {self.kind!r}")


def num(what: str = "value", lo: float = -INF, hi: float = INF, code: int = -993) -> Arg:
    return Arg("num", what, lo, hi, code)


def whole(what: str, lo: float, hi, code: int = -993) -> Arg:
    return Arg("int", what, lo, hi, code)


def ranged(setting, code: int = -993) -> Arg:
    """A number whose range is the one its setting declares (kxci_settings)."""
    return Arg("int" if setting.kind == "int" else "num", setting.what, setting.lo, setting.hi, code)


SMU, PCH, NAME, WORD = Arg("smu"), Arg("pmu"), Arg("name"), Arg("word")
FLAG = whole("switch", 0, 1)
PFLAG = whole("switch", 0, 1, -969)


def _buffer(emu) -> int:
    return emu.system.buffer


@dataclass(frozen=True)
class Command:
    """One row of the table. ``where``: "any" (modeless), "user" (page US), a tuple of
    system pages, or "pmu", "pmu-init", "pmu-0", "pmu-1" (a PMU present; after INIT; in
    standard pulse or Segment Arb). ``counts``: the argument counts accepted (None: at
    least ``least``, the last argument repeated; ``count_code`` the error otherwise);
    ``target``: whose method ``handler`` is ("emu", "system", "pmu"); ``busy``: allowed
    while a test runs; ``fixed``: leading arguments the handler gets from the row."""

    word: str
    where: object
    args: tuple[Arg, ...] = ()
    counts: tuple[int, ...] | None = ()
    handler: str = ""
    target: str = "emu"
    busy: bool = False
    fixed: tuple = field(default=())
    least: int | None = None
    count_code: int = -993
    repeat: int = 1  # how many of the last arguments repeat past the end

    def accepts(self, n: int) -> bool:
        if self.counts is None:
            return n >= (len(self.args) if self.least is None else self.least)
        return n in (self.counts or (len(self.args),))


def _page(word: str) -> Command:
    return Command(word, "any", handler="select_page", fixed=(word,), busy=word in ("US",) + SYSTEM_PAGES)


_SARB = {"STARTV": "V", "STOPV": "V", "TIME": "s", "MEAS:TYPE": "type", "MEAS:START": "s", "MEAS:STOP": "s"}

TABLE: tuple[Command, ...] = (
    # --- identity, errors, status (modeless) -----------------------------------------------
    Command("*IDN?", "any", handler="identify", busy=True),
    Command("ID", "any", handler="short_id", busy=True),
    Command("*OPT?", "any", handler="options", busy=True),
    Command("*RST", "any", handler="power_on_reset", busy=True),
    Command("EM", "any", (FLAG, FLAG), handler="command_set"),
    Command(":ERROR:LAST:GET", "any", handler="error_get", busy=True),
    Command(":ERROR:LAST:CLEAR", "any", handler="error_clear", busy=True),
    Command("SP", "any", handler="status_poll", busy=True),
    Command("BC", "any", handler="buffer_clear"),
    Command("DR", "any", (FLAG,), handler="set_srq"),
    *(_page(p) for p in ("US",) + SYSTEM_PAGES + ("UL",)),
    Command("EX", "any", (WORD,), None, "user_library", least=0),
    # --- modeless SMU settings ---------------------------------------------------------------
    Command("IT", "any", (whole("integration mode", 1, 4), ranged(EMULATOR["delay_factor"]),
                          num("filter factor", 0, 100), ranged(EMULATOR["nplc"])), (1, 2, 3, 4), "integration"),
    Command("RG", "any", (SMU, num("lowest autorange current (A)", 1e-12, MAX_I)), handler="range_floor"),
    Command("RI", "any", (SMU, num("current range (A)", 0, MAX_I), num("compliance")), handler="current_range"),
    Command("RV", "any", (SMU, num("voltage range (V)", 0, MAX_V), num("compliance")), handler="voltage_range"),
    Command("RS", "any", (ranged(EMULATOR["digits"]),), handler="resolution"),
    Command("EC", "any", (FLAG,), handler="set_exit_on_compliance"),
    Command("ST", "any", (SMU, FLAG), handler="standby"),
    # --- user mode -------------------------------------------------------------------------------
    Command("DV", "user", (SMU, whole("voltage range", 0, 5), num("level"), num("compliance")), (1, 3, 4),
            "source", fixed=("V",)),
    Command("DI", "user", (SMU, whole("current range", 0, 13), num("level"), num("compliance")), (1, 3, 4),
            "source", fixed=("I",)),
    Command("MP", "user", (SMU, WORD), handler="map_smu"),
    Command("DS", "user", (whole("voltage source", 1, 8), num("level")), (1, 2), "voltage_source"),
    Command("TV", "user", (whole("TV channel", 1, 16),), handler="test_voltage"),
    Command("TI", "user", (SMU,), handler="test_current"),
    # --- DE page ---------------------------------------------------------------------------------
    Command("CH", ("DE",), (SMU, NAME, NAME, whole("channel mode", 1, 3), whole("channel function", 1, 4)),
            (1, 5), "define_channel"),
    Command("VS", ("DE",), (WORD,), None, "no_units", "system", least=0),
    Command("VM", ("DE",), (WORD,), None, "no_units", "system", least=0),
    # --- SS page ---------------------------------------------------------------------------------
    *(Command(w, ("SS",), (whole("sweep type", 1, 4), num("start"), num("stop"), num("step"), num("compliance")),
              handler="staircase", target="system", fixed=(w[0],)) for w in ("VR", "IR")),
    *(Command(w, ("SS",), (SMU, whole("master/slave", 0, 1), num("compliance"), num("level")), None,
              "list_sweep", "system", fixed=(w[0],)) for w in ("VL", "IL")),
    *(Command(w, ("SS",), (SMU, num("level"), num("compliance")), handler="constant", target="system",
              fixed=(w[0],)) for w in ("VC", "IC")),
    *(Command(w, ("SS",), (num("start"), num("step"), whole("VAR2 points", 1, 32), num("compliance")),
              handler="set_var2", target="system", fixed=(w[0],)) for w in ("VP", "IP")),
    Command("DT", ("SS",), (ranged(SYSTEM["delay"]),), handler="set", target="system", fixed=("delay",)),
    Command("HT", ("SS",), (ranged(SYSTEM["hold"]),), handler="set", target="system", fixed=("hold",)),
    Command("SR", ("SS", "SM"), (SMU, num("current range (A)", 0, MAX_I)), handler="set_fixed_range", target="system"),
    # --- SM page ---------------------------------------------------------------------------------
    Command("DM", ("SM",), (ranged(SYSTEM["display"]),), handler="set", target="system", fixed=("display",)),
    Command("LI", ("SM", "MD"), (NAME,), (1, 2, 3, 4, 5, 6, 7, 8), "list_names", "system"),
    Command("NR", ("SM",), (whole("number of readings", 1, _buffer),), handler="set", target="system",
            fixed=("nr",)),
    Command("IN", ("SM",), (ranged(SYSTEM["interval"]),), handler="set", target="system", fixed=("interval",)),
    Command("WT", ("SM",), (ranged(SYSTEM["wait"]),), handler="set", target="system", fixed=("wait",)),
    *(Command(w, ("SM",), (NAME, whole("axis scale", 1, 2), num("axis minimum"), num("axis maximum")),
              handler="axis", target="system", fixed=(w,)) for w in ("XN", "YA", "YB")),
    Command("XT", ("SM",), (num("time axis (s)", 0, 1e5), num("time axis (s)", 0, 1e5)), handler="time_axis",
            target="system"),
    # --- MD page and readback (ME checks its page itself: ME4 aborts from anywhere) ---------
    Command("ME", "any", (whole("ME", 1, 4),), handler="measure", busy=True),
    Command("DO", "any", (NAME,), handler="data_out", busy=True),
    Command("RD", "any", (NAME, whole("reading index", 1, _buffer)), handler="read_one", busy=True),
    # --- PMU ---------------------------------------------------------------------------------------
    Command(":PMU:INIT", "pmu", (whole("PMU mode", 0, 1, -969),), handler="init", target="pmu"),
    Command(":PMU:RPM:CONFIGURE", "pmu", (WORD, whole("RPM mode", 0, 3, -969)), handler="rpm_configure",
            target="pmu"),
    Command(":PMU:SOURCE:RANGE", "pmu-init", (PCH, num("source range")), handler="source_range", target="pmu"),
    Command(":PMU:MEASURE:RANGE", "pmu-init", (PCH, whole("range type", 0, 2, -969), num("current range")),
            handler="measure_range", target="pmu"),
    Command(":PMU:LOAD", "pmu-init", (PCH, ranged(PMU_CHANNEL["load"], -969)), handler="set_channel",
            target="pmu", fixed=("load",)),
    Command(":PMU:LLEC:CONFIGURE", "pmu-init", (PCH, PFLAG), handler="llec", target="pmu"),
    Command(":PMU:MEASURE:MODE", "pmu-init", (whole("measure mode", 0, 4, -969),), handler="set_measure_mode",
            target="pmu"),
    Command(":PMU:MEASURE:PIV", "pmu-init", (PCH, PFLAG, PFLAG), handler="measure_piv", target="pmu"),
    Command(":PMU:TIMES:PIV", "pmu-init", (PCH, num("window start"), num("window stop")), handler="times_piv",
            target="pmu"),
    Command(":PMU:PULSE:TRAIN", "pmu-0", (PCH, num("base"), num("amplitude")), handler="train", target="pmu"),
    Command(":PMU:PULSE:TIMES", "pmu-0", (PCH, num("period"), num("width"), num("rise"), num("fall"),
                                          num("delay")), (5, 6), "times", "pmu"),
    Command(":PMU:PULSE:BURST:COUNT", "pmu-0", (whole("burst count", 1, 10000, -969),), handler="set_pmu",
            target="pmu", fixed=("burst",)),
    Command(":PMU:SWEEP:PULSE:AMPLITUDE", "pmu-0", (PCH, num("start"), num("stop"), num("step"), num("base"),
                                                    PFLAG), (4, 5, 6), "sweep", "pmu"),
    Command(":PMU:STEP:PULSE:AMPLITUDE", "pmu-0", (PCH, num("start"), num("stop"), num("step"), num("base")),
            (4, 5), "step", "pmu"),
    Command(":PMU:SAMPLE:RATE", "pmu-init", (ranged(PMU["rate"], -969),), handler="set_pmu", target="pmu",
            fixed=("rate",)),
    Command(":PMU:RETAIN:CONFIG", "pmu", (PCH, PFLAG), handler="set_channel", target="pmu", fixed=("retain",)),
    *(Command(f":PMU:SARB:SEQ:{w}{add}", "pmu-1", (PCH, whole("sequence number", 1, 512, -969), num(_SARB[w])),
              None, "sequence_values", "pmu", fixed=(w, bool(add)), count_code=-969)
      for w in _SARB for add in ("", ":ADD")),
    # (sequence, loops) pairs: the two kinds alternate
    Command(":PMU:SARB:WFM:SEQ:LIST", "pmu-1", (PCH, whole("sequence number", 1, 512, -969),
                                                whole("loop count", 1, 10 ** 12, -969)), None, "sequence_list", "pmu",
            count_code=-969, repeat=2),
    Command(":PMU:OUTPUT:STATE", "pmu", (PCH, PFLAG), handler="pmu_output", busy=True),
    Command(":PMU:EXECUTE", "pmu", handler="pmu_execute"),
    Command(":PMU:ABORT", "any", handler="pmu_abort", busy=True),
    Command(":PMU:TEST:STATUS?", "any", handler="pmu_status", busy=True),
    Command(":PMU:DATA:COUNT?", "pmu", (whole("PMU channel", 1, 2, -969),), handler="data_count", target="pmu",
            busy=True),
    Command(":PMU:DATA:GET", "pmu", (whole("PMU channel", 1, 2, -969), whole("start index", 0, 10 ** 9, -969),
                                     whole("point count", 1, 10 ** 9, -969)), (1, 2, 3), "data_get", "pmu", True),
)

#: word -> row
COMMANDS: dict[str, Command] = {c.word: c for c in TABLE}
#: The two-letter words, which the grammar recognises as the start of a command
#: (``SM DM2 LI 'I1'`` is three commands).
MNEMONICS = frozenset(w for w in COMMANDS if len(w) == 2 and w.isalpha())


def dispatch(emu, head: str, fields: list[str]):
    """Check ``head`` with its argument ``fields`` against the table and run its handler;
    returns the reply data (or None). Raises KxciError with its code."""
    word = head.upper() if head[0] in ":*" else head
    cmd = COMMANDS.get(word)
    if cmd is None:
        if word.startswith(":PMU:SARB:SEQ:"):
            raise KxciError(-992, f"unknown Segment Arb command {word}.")
        raise KxciError(-992, f"unknown command {head!r}.")
    if not cmd.busy and emu.running() is not None:
        raise KxciError(-980, f"{head} cannot run while a test is running (ME4 or :PMU:ABORT stop it).")
    _check_place(emu, cmd)
    if not cmd.accepts(len(fields)):
        want = (", ".join(map(str, cmd.counts or (len(cmd.args),))) if cmd.counts is not None
                else f"at least {len(cmd.args) if cmd.least is None else cmd.least}")
        raise KxciError(cmd.count_code, f"{word} takes {want} arguments, got {len(fields)}.")
    values = [_arg(cmd, k).read(emu, text) for k, text in enumerate(fields)]
    target = emu if cmd.target == "emu" else getattr(emu, cmd.target)
    handler: Callable = getattr(target, cmd.handler)
    return handler(*cmd.fixed, *values)


def _arg(cmd: Command, k: int) -> Arg:
    """The spec of argument ``k``; past the last, the last ``repeat`` ones repeat (a list of
    levels; (sequence, loops) pairs)."""
    n = len(cmd.args)
    return cmd.args[k] if k < n else cmd.args[n - cmd.repeat + (k - n) % cmd.repeat]


def _check_place(emu, cmd: Command) -> None:
    where = cmd.where
    if where == "any":
        return
    if where == "user":
        if emu.page != "US":
            raise KxciError(-974, "send US before user-mode commands.")
        return
    if isinstance(where, tuple):
        emu.page_check(*where)
        return
    pmu = emu.pmu
    if not pmu.present:
        raise KxciError(-969, "no PMU is installed.")
    if where != "pmu":
        pmu.initialised(None if where == "pmu-init" else int(where[-1]))
