"""The simulated 2614B's settings, declared as tables: attribute → kind, default, allowed values.

Each TSP object with plain settings (``smuX.source``, ``smuX.measure``, the trigger model's
stages, ``trigger.timer[N]``, ``format``, ``localnode``) lists them once in a table of :class:`Setting` s, and one
validator checks every write the way the instrument does: 1011 "Parameter too big" above the
allowed values, 1012 "Parameter too small" below them, -286 for what is not a number. Only
settings with side effects (a source level that picks its range, the output switch) keep a
``set_<name>`` method of their own. Ranges and limits: the sources listed in
docs/keithley2614b.md (which also says what is unverified); tests/sim/test_tsp_settings.py
writes them out.
"""
from __future__ import annotations

from dataclasses import dataclass

from labqc.instruments.sim.tsp_buffers import NV_CAPACITY, lua_index, lua_number, too_big, too_small
from labqc.instruments.sim.tsp_trigger import LuaObject, event_id

V_RANGES = (0.2, 2.0, 20.0, 200.0)
I_RANGES = (100e-9, 1e-6, 10e-6, 100e-6, 1e-3, 10e-3, 100e-3, 1.0, 1.5)
V_MAX, I_MAX = V_RANGES[-1], I_RANGES[-1]
OVERRANGE = 1.01  # a level may exceed its range by 1 %
MAX_TRIGGER_COUNT = 1_048_575


@dataclass(frozen=True)
class Setting:
    """One writable attribute.

    ``kind``: "number" (lo..hi), "index" (a whole number, lo..hi), "choice" (one of
    ``choices``), "range" (rounded up to one of ``ranges``), "event" (an event ID),
    "bool" (a number, stored as 0/1), "boolean" (a Lua boolean or a number, stored as a
    boolean), "free" (any finite number). ``auto``: a value accepted outside
    lo..hi (DELAY_AUTO -1, LIMIT_AUTO 0). ``fixes``: the autorange a fixed range turns off.
    ``over_only``: a value not in ``choices`` is always "too big" (the instrument's wording).
    ``fraction_too_small``: a non-whole "index" value is 1012 "too small" rather than -286
    (the emulator's answer for timer counts since before the table; no source says which).
    """

    default: float
    kind: str = "number"
    lo: float = -float("inf")
    hi: float = float("inf")
    choices: tuple = ()
    ranges: tuple = ()
    auto: float | None = None
    fixes: str | None = None
    over_only: bool = False
    fraction_too_small: bool = False


def flag(default: int, *choices: int) -> Setting:
    """An enumerated setting (0/1 unless ``choices`` say otherwise)."""
    return Setting(default, "choice", choices=choices or (0, 1))


def pick_range(value: float, ranges: tuple[float, ...], what: str) -> float:
    """The smallest range holding ``value`` (1 % over-range allowed), else 1011."""
    x = abs(value)
    for r in ranges:
        if x <= r * OVERRANGE:
            return r
    raise too_big(f"{what} {value} (largest range {ranges[-1]})")


def check_level(x: float, lo: float, hi: float, what: str) -> float:
    if x > hi:
        raise too_big(f"{what} = {x} (maximum {hi})")
    if x < lo:
        raise too_small(f"{what} = {x} (minimum {lo})")
    return x


def validate(s: Setting, value, what: str) -> float:
    """``value`` written to the setting ``s`` (named ``what`` in errors), as stored."""
    if s.kind == "event":
        return event_id(value, what)
    if s.kind == "bool":
        return int(bool(lua_number(value, what)))
    if s.kind == "boolean":
        return value if isinstance(value, bool) else bool(lua_number(value, what))
    if s.kind == "index" and s.fraction_too_small:
        x = lua_number(value, what)
        if x != int(x):
            raise too_small(f"{what} = {x} (a whole number)")
    else:
        x = lua_index(value, what) if s.kind == "index" else lua_number(value, what)
    if s.auto is not None and x == s.auto:
        return x
    if s.kind == "choice":
        if x not in s.choices:
            raise too_big(f"{what} = {x}") if s.over_only or x > max(s.choices) else too_small(f"{what} = {x}")
        return int(x)
    if s.kind == "range":
        return pick_range(x, s.ranges, what)
    if s.kind in ("number", "index"):
        x = check_level(x, s.lo, s.hi, what)
        return int(x) if s.kind == "index" else x
    return x


class SettingsObject(LuaObject):
    """A TSP object whose writable attributes are its ``SETTINGS`` table (plus ``RW_EXTRA``
    handled by ``set_<name>`` methods). ``PREFIX`` names it in error messages."""

    SETTINGS: dict[str, Setting] = {}
    RW_EXTRA: tuple[str, ...] = ()
    PREFIX = ""

    def __init__(self, settings: dict[str, Setting] | None = None, prefix: str | None = None) -> None:
        if settings is not None:
            self.SETTINGS = settings
        if prefix is not None:
            self.PREFIX = prefix
        self.RW = tuple(self.SETTINGS) + self.RW_EXTRA
        self.reset_settings()

    def reset_settings(self) -> None:
        for name, s in self.SETTINGS.items():
            setattr(self, name, s.default)

    def lua_set(self, key, value) -> None:
        s = self.SETTINGS.get(key)
        setter = getattr(self, "set_" + key, None)
        if s is None or setter is not None:
            super().lua_set(key, value)
            return
        setattr(self, key, validate(s, value, f"{self.PREFIX}{key}"))
        if s.fixes:
            setattr(self, s.fixes, 0)


def _number(default: float, lo: float, hi: float, auto: float | None = None) -> Setting:
    return Setting(default, "number", lo, hi, auto=auto)


#: smuX.source.*: levelv, leveli and output have side effects (set_ methods in tsp_channel).
SOURCE = {
    "func": flag(1), "levelv": Setting(0.0), "leveli": Setting(0.0),
    "limiti": _number(100e-3, 10e-9, I_MAX), "limitv": _number(20.0, 20e-3, V_MAX), "limitp": _number(0.0, 0, 40.0),
    "rangev": Setting(0.2, "range", ranges=V_RANGES, fixes="autorangev"),
    "rangei": Setting(100e-9, "range", ranges=I_RANGES, fixes="autorangei"),
    "autorangev": flag(1), "autorangei": flag(1),
    "lowrangev": Setting(0.2, "range", ranges=V_RANGES), "lowrangei": Setting(100e-9, "range", ranges=I_RANGES),
    "output": Setting(0), "offmode": flag(0, 0, 1, 2), "offfunc": flag(1),
    "offlimiti": _number(1e-3, 10e-9, I_MAX), "offlimitv": _number(40.0, 20e-3, V_MAX),
    "delay": _number(0.0, 0, 10_000.0, auto=-1), "highc": flag(0), "settling": Setting(0, "free"), "sink": flag(0),
}

#: smuX.measure.*: count up to one dedicated buffer; interval 0..1 s (longer: a timer).
MEASURE = {
    "nplc": _number(1.0, 0.001, 25.0),
    "rangei": Setting(100e-9, "range", ranges=I_RANGES, fixes="autorangei"),
    "rangev": Setting(0.2, "range", ranges=V_RANGES, fixes="autorangev"),
    "autorangei": flag(1, 0, 1, 2), "autorangev": flag(1, 0, 1, 2),
    "lowrangei": Setting(100e-9, "range", ranges=I_RANGES), "lowrangev": Setting(0.2, "range", ranges=V_RANGES),
    "delay": _number(-1.0, 0, 10_000.0, auto=-1), "delayfactor": _number(1.0, 0, 1000.0),
    "count": Setting(1, "index", 1, NV_CAPACITY),  # at most one dedicated buffer's readings
    "interval": _number(0.0, 0.0, 1.0), "autozero": flag(2, 0, 1, 2),
}

_ACTION = Setting(0, "choice", choices=(0, 1, 2), over_only=True)
_STIMULUS = Setting(0, "event")
_COUNT = Setting(1, "index", 0, MAX_TRIGGER_COUNT)

#: smuX.trigger.<stage>.*: the stages of the trigger model and what each may set.
TRIGGER_STAGES = {
    "arm": {"count": _COUNT, "stimulus": _STIMULUS},
    "source": {"action": _ACTION, "stimulus": _STIMULUS,
               "limiti": _number(0.0, 10e-9, 10.0, auto=0), "limitv": _number(0.0, 20e-3, V_MAX, auto=0),
               "limitp": Setting(0.0, "free")},
    "measure": {"action": _ACTION, "stimulus": _STIMULUS},
    "endpulse": {"action": Setting(1, "choice", choices=(0, 1, 2), over_only=True), "stimulus": _STIMULUS},
    "endsweep": {"action": Setting(1, "choice", choices=(0, 1, 2), over_only=True)},
}

#: smuX.trigger.*
TRIGGER = {"count": _COUNT, "autoclear": Setting(0, "bool")}

#: trigger.timer[N].*: delay has a side effect (it replaces the delay list: set_delay in
#: tsp_timers), the delay list (a table, RW_EXTRA there) checks each entry against TIMER_DELAY.
TIMER_DELAY = _number(10e-6, 1e-6, 100_000.0)
TIMER = {
    "delay": TIMER_DELAY,
    "count": Setting(1, "index", 0, MAX_TRIGGER_COUNT, fraction_too_small=True),  # 0: for ever
    "passthrough": Setting(False, "boolean"), "stimulus": Setting(0, "event"),
}

#: format.* (data: ASCII 1, REAL32 2, REAL64 3; byteorder: BIGENDIAN 0, SWAPPED 1).
FORMAT = {"data": flag(1, 1, 2, 3), "byteorder": flag(1, 0, 1), "asciiprecision": Setting(6, "index", 1, 16)}

#: localnode.* the host may write.
LOCALNODE = {"linefreq": flag(60, 50, 60), "prompts": flag(0), "showerrors": flag(0)}

__all__ = ["FORMAT", "I_MAX", "I_RANGES", "LOCALNODE", "MEASURE", "OVERRANGE", "SOURCE", "Setting",
           "SettingsObject", "TIMER", "TIMER_DELAY", "TRIGGER", "TRIGGER_STAGES", "V_MAX", "V_RANGES", "check_level", "flag",
           "pick_range", "validate"]
