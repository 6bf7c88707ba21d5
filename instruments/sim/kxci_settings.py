"""The settings of the simulated 4200A, declared as tables: name, power-on default, range
and the command that sets it.

Each table builds the state it describes (:meth:`Settings.reset` sets an object's
attributes to the defaults; :meth:`Settings.holder` makes a dataclass of them), and the
command table (kxci_commands.py) takes its argument ranges from here, so a range is
written once. Which values a source confirms and which are the simulator's choice is in
docs/keithley4200a.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field, make_dataclass
from typing import Any, Callable

MAX_V = 210.0  # V, 4200-SMU
MAX_I = 0.105  # A, 4200-SMU (medium power)
DEFAULT_COMPLIANCE = 105e-6  # A, power-on default
BUFFER = 4096  # readings per channel, lists and NR (1024 in 4145 emulation)


@dataclass(frozen=True)
class Setting:
    """One setting. ``default``: its power-on value, or a factory for a fresh list or dict.
    ``kind``: "num", "int", "flag" (set by 0/1) or "state" (set by the simulator);
    ``lo``..``hi``: the range a command may set; ``set_by``: that command."""

    name: str
    default: Any
    what: str = ""
    lo: float | None = None
    hi: float | None = None
    kind: str = "num"
    set_by: str = ""

    def fresh(self) -> Any:
        return self.default() if callable(self.default) else self.default

    def cast(self, value: Any) -> Any:
        return bool(value) if self.kind == "flag" else value


class Settings(dict):
    """A table of :class:`Setting` rows, by name."""

    def __init__(self, *rows: Setting) -> None:
        super().__init__((r.name, r) for r in rows)

    def reset(self, obj: object) -> None:
        """Set every setting of the table on ``obj`` to its power-on default."""
        for s in self.values():
            setattr(obj, s.name, s.fresh())

    def holder(self, cls_name: str) -> type:
        """A dataclass with one field per setting, defaulting to the power-on values."""
        fields = [(s.name, Any, field(default_factory=_factory(s))) for s in self.values()]
        return make_dataclass(cls_name, fields)


def _factory(s: Setting) -> Callable[[], Any]:
    return s.fresh


#: The emulator's own state at power on (and after *RST).
EMULATOR = Settings(
    Setting("page", "DE", "page", kind="state", set_by="US DE SS SM MD UL"),
    Setting("nplc", 0.01, "NPLC", 0.01, 10, set_by="IT"),  # IT1: short integration
    Setting("delay_factor", 1.0, "delay factor", 0, 100, set_by="IT4"),
    Setting("digits", 7, "resolution digits", 3, 7, "int", "RS"),
    Setting("exit_on_compliance", False, kind="flag", set_by="EC"),
    Setting("full_set", True, kind="flag", set_by="EM"),  # EM 1,0: the 4200A command set
    Setting("srq_on_data", False, kind="flag", set_by="DR"),
)

#: One SMU in user mode.
SMU = Settings(
    Setting("source", None, "V, I or None (off)", kind="state", set_by="DV DI DS MP"),
    Setting("level", 0.0, "level", set_by="DV DI DS"),
    Setting("compliance", DEFAULT_COMPLIANCE, "compliance", set_by="DV DI RI RV"),
    Setting("range_code", 0, "range code", 0, 13, "int", "DV DI"),
    Setting("in_compliance", False, kind="state"),
    Setting("standby", False, kind="flag", set_by="ST"),  # standby when a test ends
    Setting("role", "", "VSn, VMn or '' (an SMU)", kind="state", set_by="MP"),
    Setting("measured", None, "V or I: what TV/TI read since the last DV/DI/DS", kind="state"),
)

#: The DE, SS and SM pages (the channel definitions are reset by SystemSetup itself).
SYSTEM = Settings(
    Setting("var1", None, "VAR1 sweep", kind="state", set_by="VR IR VL IL"),
    Setting("var2", None, "VAR2 (source, start, step, points, compliance)", kind="state", set_by="VP IP"),
    Setting("consts", dict, "constant sources by channel", kind="state", set_by="VC IC"),
    Setting("delay", 0.0, "delay time (s)", 0, 6.553, set_by="DT"),
    Setting("hold", 0.0, "hold time (s)", 0, 655.3, set_by="HT"),
    Setting("display", 2, "display mode", 1, 2, "int", "DM"),
    Setting("listed", list, "listed names", kind="state", set_by="LI"),
    Setting("nr", 1, "number of readings", 1, BUFFER, "int", "NR"),
    Setting("interval", 0.01, "sampling interval (s)", 0.01, 10, set_by="IN"),
    Setting("wait", 0.0, "wait time (s)", 0, 100, set_by="WT"),
    Setting("fixed_range", dict, "fixed current range (A) by channel", kind="state", set_by="SR"),
    Setting("axes", dict, "graph axes (kept, not drawn)", kind="state", set_by="XN XT YA YB"),
)

#: The PMU card.
PMU = Settings(
    Setting("mode", None, "0 standard pulse, 1 Segment Arb, None before INIT", kind="state", set_by=":PMU:INIT"),
    Setting("measure_mode", 1, "measure mode", 0, 4, "int", ":PMU:MEASURE:MODE"),
    Setting("burst", 1, "burst count", 1, 10000, "int", ":PMU:PULSE:BURST:COUNT"),
    Setting("rate", 200e6, "sample rate (/s)", 1e3, 200e6, set_by=":PMU:SAMPLE:RATE"),
)

#: One PMU channel (reset by :PMU:INIT unless retained).
PMU_CHANNEL = Settings(
    Setting("source_range", 10.0, "source range (V)", 10.0, 40.0, set_by=":PMU:SOURCE:RANGE"),
    Setting("meas_type", 0, "0 auto, 1 limited auto, 2 fixed", 0, 2, "int", ":PMU:MEASURE:RANGE"),
    Setting("meas_range", 0.2, "current range (A)", set_by=":PMU:MEASURE:RANGE"),
    Setting("load", 1e6, "load (ohm)", 1, 1e7, set_by=":PMU:LOAD"),
    Setting("llec", False, kind="flag", set_by=":PMU:LLEC:CONFIGURE"),
    Setting("rpm_pulse", False, "RPM switched to the PMU", kind="flag", set_by=":PMU:RPM:CONFIGURE"),
    Setting("output_req", False, "output on at EXECUTE", kind="flag", set_by=":PMU:OUTPUT:STATE"),
    Setting("energized", False, kind="state"),
    Setting("vbase", 0.0, "base (V)", set_by=":PMU:PULSE:TRAIN"),
    Setting("vampl", 0.0, "amplitude (V)", set_by=":PMU:PULSE:TRAIN"),
    Setting("period", 10e-6, "period (s)", set_by=":PMU:PULSE:TIMES"),
    Setting("width", 5e-6, "width (s)", set_by=":PMU:PULSE:TIMES"),
    Setting("rise", 100e-9, "rise time (s)", set_by=":PMU:PULSE:TIMES"),
    Setting("fall", 100e-9, "fall time (s)", set_by=":PMU:PULSE:TIMES"),
    Setting("delay", 0.0, "delay (s)", set_by=":PMU:PULSE:TIMES"),
    Setting("piv", (0.75, 0.9), "spot mean window (fractions)", 0, 1, set_by=":PMU:TIMES:PIV"),
    Setting("meas_hi", True, kind="flag", set_by=":PMU:MEASURE:PIV"),
    Setting("meas_lo", True, kind="flag", set_by=":PMU:MEASURE:PIV"),
    Setting("sweep", None, "(start, stop, step, base or None, dual)", kind="state",
            set_by=":PMU:SWEEP:PULSE:AMPLITUDE"),
    Setting("step", None, "(start, stop, step)", kind="state", set_by=":PMU:STEP:PULSE:AMPLITUDE"),
    Setting("retain", False, kind="flag", set_by=":PMU:RETAIN:CONFIG"),
    Setting("seqs", dict, "Segment Arb sequences by number", kind="state", set_by=":PMU:SARB:SEQ:*"),
    Setting("seq_list", list, "(sequence, loops) pairs", kind="state", set_by=":PMU:SARB:WFM:SEQ:LIST"),
)

Smu = SMU.holder("Smu")
PmuChannel = PMU_CHANNEL.holder("PmuChannel")
