"""One source-measure channel of the simulated 2614B (``smua``/``smub``) and its timeline.

The channel owns a device (``smua``: the DUT; ``smub``: open circuit unless wired) and keeps
it up to the instrument's time: :meth:`SMU.sync` drives it with the held level while the
output is on, lets it rest while off, and walks it through the active
:class:`~labqc.instruments.sim.tsp_schedule.Schedule` (sweep, overlapped or multi-count
measurement) in vectorised blocks. Settings are plain attributes validated the way the
instrument validates them (1011 Parameter too big, 1012 Parameter too small, 5028 ...).
"""
from __future__ import annotations

import math

import numpy as np

from labqc.instruments.sim.device import Drive, Measured, clamp_to_compliance
from labqc.instruments.sim.tsp_buffers import (MAX_CAPACITY, NV_CAPACITY, LuaBuffer,
                                         TSPError, lua_index, lua_number, runtime, too_big,
                                         too_small)
from labqc.instruments.sim.tsp_schedule import Schedule, readings
from labqc.instruments.sim.tsp_trigger import (COMMAND_EVENT_ID, LuaObject, StepTiming, channel_event_ids, event_id,
                                         lua_list, plan_steps)

V_RANGES = (0.2, 2.0, 20.0, 200.0)
I_RANGES = (100e-9, 1e-6, 10e-6, 100e-6, 1e-3, 10e-3, 100e-3, 1.0, 1.5)
V_MAX, I_MAX = V_RANGES[-1], I_RANGES[-1]
OVERRANGE = 1.01  # a level may exceed its range by 1 %
SOURCE_OVERHEAD = 20e-6  # s: source action until the level is out (before source.delay)
MEASURE_OVERHEAD = 50e-6  # s: trigger latency and A/D set-up before integration starts
AUTOZERO_FACTOR = 2.0  # autozero AUTO: one reference/zero conversion per reading
MAX_TRIGGER_STEPS = 100_000  # trigger.count 0 ("infinite") runs this many steps
MAX_MEASURE_COUNT = NV_CAPACITY

CONST = {
    "OUTPUT_DCAMPS": 0, "OUTPUT_DCVOLTS": 1, "OUTPUT_OFF": 0, "OUTPUT_ON": 1,
    "OUTPUT_NORMAL": 0, "OUTPUT_ZERO": 2, "OUTPUT_HIGH_Z": 1,
    "AUTORANGE_OFF": 0, "AUTORANGE_ON": 1, "AUTORANGE_FOLLOW_LIMIT": 2,
    "AUTOZERO_OFF": 0, "AUTOZERO_ONCE": 1, "AUTOZERO_AUTO": 2,
    "DISABLE": 0, "ENABLE": 1, "SOURCE_IDLE": 0, "SOURCE_HOLD": 1,
    "DELAY_OFF": 0, "DELAY_AUTO": -1, "SENSE_LOCAL": 0, "SENSE_REMOTE": 1, "SENSE_CALA": 3,
    "LIMIT_AUTO": 0, "FILTER_OFF": 0, "FILTER_ON": 1, "REL_OFF": 0, "REL_ON": 1, "FILTER_MOVING_AVG": 0, "FILTER_REPEAT_AVG": 1, "FILTER_MEDIAN": 2,
}


class OpenCircuit:
    """What an unwired channel sees: a very large resistance."""

    resistance = 1e15

    def apply(self, drive: Drive) -> Measured:
        return clamp_to_compliance(drive.source, drive.levels, self.resistance, drive.compliance)

    def rest(self, duration: float) -> None:
        pass

    def conductance(self) -> float:
        return 1.0 / self.resistance


def pick_range(value: float, ranges: tuple[float, ...], what: str) -> float:
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


class Options(LuaObject):
    """A small settings table (``measure.filter``, ``measure.rel``): stored, not simulated
    (readings are neither filtered nor offset; drivers here leave both off)."""

    def __init__(self, **defaults) -> None:
        self.RW = tuple(defaults)
        for k, v in defaults.items():
            setattr(self, k, v)


class _Settings(LuaObject):
    """A namespace whose writes first bring the device up to the instrument's time."""

    def __init__(self, smu: "SMU") -> None:
        self.smu = smu

    def lua_set(self, key, value) -> None:
        self.smu.sync()
        super().lua_set(key, value)

    def _flag(self, value, what: str, choices=(0, 1)) -> int:
        x = lua_number(value, what)
        if x not in choices:
            raise too_big(f"{what} = {x}") if x > max(choices) else too_small(f"{what} = {x}")
        return int(x)


class Source(_Settings):
    RW = ("func", "levelv", "leveli", "limiti", "limitv", "limitp", "rangev", "rangei",
          "autorangev", "autorangei", "lowrangev", "lowrangei", "output", "offmode", "offfunc",
          "offlimiti", "offlimitv", "delay", "highc", "settling", "sink")
    RO = ("compliance",)

    def reset(self) -> None:
        self.func = 1
        self.levelv = 0.0
        self.leveli = 0.0
        self.limiti = 100e-3
        self.limitv = 20.0
        self.limitp = 0.0
        self.rangev = 0.2
        self.rangei = 100e-9
        self.autorangev = 1
        self.autorangei = 1
        self.lowrangev = 0.2
        self.lowrangei = 100e-9
        self.output = 0
        self.offmode = 0
        self.offfunc = 1
        self.offlimiti = 1e-3
        self.offlimitv = 40.0
        self.delay = 0.0
        self.highc = 0
        self.settling = 0
        self.sink = 0

    @property
    def compliance(self) -> bool:
        return self.smu.compliance_now()

    def set_func(self, value) -> None:
        self.func = self._flag(value, "source.func")

    def set_levelv(self, value) -> None:
        x = lua_number(value, "source.levelv")
        check_level(abs(x), 0, V_MAX * OVERRANGE, "source.levelv")
        if not self.autorangev and abs(x) > self.rangev * OVERRANGE:
            raise too_big(f"source.levelv = {x} V on the fixed {self.rangev:g} V range")
        if self.autorangev:
            self.rangev = max(pick_range(x, V_RANGES, "source.levelv"), self.lowrangev)
        self.levelv = x
        self.smu.held = None

    def set_leveli(self, value) -> None:
        x = lua_number(value, "source.leveli")
        check_level(abs(x), 0, I_MAX * OVERRANGE, "source.leveli")
        if not self.autorangei and abs(x) > self.rangei * OVERRANGE:
            raise too_big(f"source.leveli = {x} A on the fixed {self.rangei:g} A range")
        if self.autorangei:
            self.rangei = max(pick_range(x, I_RANGES, "source.leveli"), self.lowrangei)
        self.leveli = x
        self.smu.held = None

    def set_limiti(self, value) -> None:
        self.limiti = check_level(lua_number(value, "source.limiti"), 10e-9, I_MAX, "source.limiti")

    def set_limitv(self, value) -> None:
        self.limitv = check_level(lua_number(value, "source.limitv"), 20e-3, V_MAX, "source.limitv")

    def set_limitp(self, value) -> None:
        self.limitp = check_level(lua_number(value, "source.limitp"), 0, 40.0, "source.limitp")

    def set_rangev(self, value) -> None:
        x = lua_number(value, "source.rangev")
        self.rangev = pick_range(x, V_RANGES, "source.rangev")
        self.autorangev = 0

    def set_rangei(self, value) -> None:
        x = lua_number(value, "source.rangei")
        self.rangei = pick_range(x, I_RANGES, "source.rangei")
        self.autorangei = 0

    def set_autorangev(self, value) -> None:
        self.autorangev = self._flag(value, "source.autorangev")

    def set_autorangei(self, value) -> None:
        self.autorangei = self._flag(value, "source.autorangei")

    def set_lowrangev(self, value) -> None:
        self.lowrangev = pick_range(lua_number(value, "source.lowrangev"), V_RANGES, "source.lowrangev")

    def set_lowrangei(self, value) -> None:
        self.lowrangei = pick_range(lua_number(value, "source.lowrangei"), I_RANGES, "source.lowrangei")

    def set_output(self, value) -> None:
        self.smu.set_output(self._flag(value, "source.output"))

    def set_offmode(self, value) -> None:
        self.offmode = self._flag(value, "source.offmode", (0, 1, 2))

    def set_offfunc(self, value) -> None:
        self.offfunc = self._flag(value, "source.offfunc")

    def set_offlimiti(self, value) -> None:
        self.offlimiti = check_level(lua_number(value, "source.offlimiti"), 10e-9, I_MAX, "source.offlimiti")

    def set_offlimitv(self, value) -> None:
        self.offlimitv = check_level(lua_number(value, "source.offlimitv"), 20e-3, V_MAX, "source.offlimitv")

    def set_delay(self, value) -> None:
        x = lua_number(value, "source.delay")
        if x != -1:
            check_level(x, 0, 10_000.0, "source.delay")
        self.delay = x

    def set_highc(self, value) -> None:
        self.highc = self._flag(value, "source.highc")

    def set_sink(self, value) -> None:
        self.sink = self._flag(value, "source.sink")


class Measure(_Settings):
    RW = ("nplc", "rangei", "rangev", "autorangei", "autorangev", "lowrangei", "lowrangev",
          "delay", "delayfactor", "count", "interval", "autozero")
    RO = ("rel", "filter")
    METHODS = ("i", "v", "iv", "r", "p", "overlappedi", "overlappedv", "overlappediv",
               "overlappedr", "overlappedp")

    def reset(self) -> None:
        self.nplc = 1.0
        self.rangei = 100e-9
        self.rangev = 0.2
        self.autorangei = 1
        self.autorangev = 1
        self.lowrangei = 100e-9
        self.lowrangev = 0.2
        self.delay = -1.0
        self.delayfactor = 1.0
        self.count = 1
        self.interval = 0.0
        self.autozero = 2
        self.rel = Options(enable=0, level=0.0, leveli=0.0, levelv=0.0)
        self.filter = Options(enable=0, count=1, type=1)

    def set_nplc(self, value) -> None:
        self.nplc = check_level(lua_number(value, "measure.nplc"), 0.001, 25.0, "measure.nplc")

    def set_rangei(self, value) -> None:
        self.rangei = pick_range(lua_number(value, "measure.rangei"), I_RANGES, "measure.rangei")
        self.autorangei = 0

    def set_rangev(self, value) -> None:
        self.rangev = pick_range(lua_number(value, "measure.rangev"), V_RANGES, "measure.rangev")
        self.autorangev = 0

    def set_autorangei(self, value) -> None:
        self.autorangei = self._flag(value, "measure.autorangei", (0, 1, 2))

    def set_autorangev(self, value) -> None:
        self.autorangev = self._flag(value, "measure.autorangev", (0, 1, 2))

    def set_lowrangei(self, value) -> None:
        self.lowrangei = pick_range(lua_number(value, "measure.lowrangei"), I_RANGES, "measure.lowrangei")

    def set_lowrangev(self, value) -> None:
        self.lowrangev = pick_range(lua_number(value, "measure.lowrangev"), V_RANGES, "measure.lowrangev")

    def set_delay(self, value) -> None:
        x = lua_number(value, "measure.delay")
        if x != -1:
            check_level(x, 0, 10_000.0, "measure.delay")
        self.delay = x

    def set_delayfactor(self, value) -> None:
        self.delayfactor = check_level(lua_number(value, "measure.delayfactor"), 0, 1000.0, "measure.delayfactor")

    def set_count(self, value) -> None:
        x = lua_index(value, "measure.count")
        self.count = int(check_level(x, 1, MAX_MEASURE_COUNT, "measure.count"))

    def set_interval(self, value) -> None:
        # The 2600B allows 0 to 1 s; longer cadences need the trigger model and a timer.
        self.interval = check_level(lua_number(value, "measure.interval"), 0.0, 1.0, "measure.interval")

    def set_autozero(self, value) -> None:
        self.autozero = self._flag(value, "measure.autozero", (0, 1, 2))

    # spot and overlapped measurements: return i then v for iv, like the instrument
    def i(self, *bufs):
        return self.smu.measure_now(("i",), bufs)

    def v(self, *bufs):
        return self.smu.measure_now(("v",), bufs)

    def iv(self, *bufs):
        return self.smu.measure_now(("i", "v"), bufs)

    def r(self, *bufs):
        return self.smu.measure_now(("r",), bufs)

    def p(self, *bufs):
        return self.smu.measure_now(("p",), bufs)

    def overlappedi(self, *bufs):
        self.smu.measure_overlapped(("i",), bufs)

    def overlappedv(self, *bufs):
        self.smu.measure_overlapped(("v",), bufs)

    def overlappediv(self, *bufs):
        self.smu.measure_overlapped(("i", "v"), bufs)

    def overlappedr(self, *bufs):
        self.smu.measure_overlapped(("r",), bufs)

    def overlappedp(self, *bufs):
        self.smu.measure_overlapped(("p",), bufs)


class _Stage(LuaObject):
    """arm / source / measure / endpulse / endsweep layer of ``smua.trigger``."""

    def __init__(self, rw: tuple[str, ...], methods: tuple[str, ...] = ()) -> None:
        self.RW = rw
        self.METHODS = methods
        self.action = 0
        self.stimulus = 0
        self.count = 1

    def set_action(self, value) -> None:
        x = lua_number(value, "trigger action")
        if x not in (0, 1, 2):
            raise too_big(f"trigger action {x}")
        self.action = int(x)

    def set_stimulus(self, value) -> None:
        self.stimulus = event_id(value, "trigger stimulus")

    def set_count(self, value) -> None:
        x = lua_index(value, "trigger count")
        self.count = int(check_level(x, 0, 1_048_575, "trigger count"))

    def set(self, *_) -> None:
        pass

    def clear(self, *_) -> None:
        pass


class TriggerSource(_Stage):
    def __init__(self, smu: "SMU") -> None:
        super().__init__(("action", "stimulus", "limiti", "limitv", "limitp"),
                         ("linearv", "lineari", "listv", "listi", "logv", "logi", "set", "clear"))
        self.smu = smu
        self.values = np.zeros(1)
        self.func = 1
        self.limiti = 0.0  # 0 = LIMIT_AUTO: the DC limit applies
        self.limitv = 0.0
        self.limitp = 0.0

    def set_limiti(self, value) -> None:
        x = lua_number(value, "trigger.source.limiti")
        self.limiti = 0.0 if x == 0 else check_level(x, 10e-9, 10.0, "trigger.source.limiti")

    def set_limitv(self, value) -> None:
        x = lua_number(value, "trigger.source.limitv")
        self.limitv = 0.0 if x == 0 else check_level(x, 20e-3, V_MAX, "trigger.source.limitv")

    def _sweep(self, values, func: int) -> None:
        values = np.asarray(values, dtype=float)
        limit = V_MAX if func == 1 else 10.0
        if values.size and np.max(np.abs(values)) > limit * OVERRANGE:
            raise too_big(f"sweep level {np.max(np.abs(values)):g} (maximum {limit:g})")
        self.values = values
        self.func = func

    @staticmethod
    def _points(n, what: str) -> int:
        k = lua_index(n, what)
        return int(check_level(k, 1, MAX_TRIGGER_STEPS, what))

    def linearv(self, start, stop, points) -> None:
        n = self._points(points, "linearv points")
        self._sweep(np.linspace(lua_number(start, "start"), lua_number(stop, "stop"), n), 1)

    def lineari(self, start, stop, points) -> None:
        n = self._points(points, "lineari points")
        self._sweep(np.linspace(lua_number(start, "start"), lua_number(stop, "stop"), n), 0)

    def _log(self, start, stop, points, asymptote, func: int) -> None:
        n = self._points(points, "log sweep points")
        a = lua_number(asymptote, "asymptote") if asymptote is not None else 0.0
        s, e = lua_number(start, "start") - a, lua_number(stop, "stop") - a
        if s * e <= 0:
            raise runtime("log sweep start and stop must lie on the same side of the asymptote")
        self._sweep(a + np.sign(s) * np.geomspace(abs(s), abs(e), n), func)

    def logv(self, start, stop, points, asymptote=None) -> None:
        self._log(start, stop, points, asymptote, 1)

    def logi(self, start, stop, points, asymptote=None) -> None:
        self._log(start, stop, points, asymptote, 0)

    def listv(self, table) -> None:
        self._sweep(lua_list(table, "listv", MAX_TRIGGER_STEPS), 1)

    def listi(self, table) -> None:
        self._sweep(lua_list(table, "listi", MAX_TRIGGER_STEPS), 0)


class TriggerMeasure(_Stage):
    def __init__(self, smu: "SMU") -> None:
        super().__init__(("action", "stimulus"), ("i", "v", "iv", "r", "p", "set", "clear"))
        self.smu = smu
        self.targets: list[tuple[str, LuaBuffer]] = []

    def _set(self, kinds, bufs) -> None:
        self.targets = self.smu.targets_for(kinds, bufs)

    def i(self, *bufs) -> None:
        self._set(("i",), bufs)

    def v(self, *bufs) -> None:
        self._set(("v",), bufs)

    def iv(self, *bufs) -> None:
        self._set(("i", "v"), bufs)

    def r(self, *bufs) -> None:
        self._set(("r",), bufs)

    def p(self, *bufs) -> None:
        self._set(("p",), bufs)


class Trigger(LuaObject):
    RW = ("count", "autoclear")
    METHODS = ("initiate", "abort", "clear")
    RO = ("arm", "source", "measure", "endpulse", "endsweep")

    def __init__(self, smu: "SMU") -> None:
        self.smu = smu
        self.CONST = channel_event_ids(smu.event_base)
        self.reset()

    def reset(self) -> None:
        self.count = 1
        self.autoclear = 0
        self.arm = _Stage(("count", "stimulus"), ("set", "clear"))
        self.source = TriggerSource(self.smu)
        self.measure = TriggerMeasure(self.smu)
        self.endpulse = _Stage(("action", "stimulus"), ("set", "clear"))
        self.endpulse.action = 1  # SOURCE_HOLD
        self.endsweep = _Stage(("action",))
        self.endsweep.action = 1

    def set_count(self, value) -> None:
        x = lua_index(value, "trigger.count")
        self.count = int(check_level(x, 0, 1_048_575, "trigger.count"))

    def set_autoclear(self, value) -> None:
        self.autoclear = int(bool(lua_number(value, "trigger.autoclear")))

    def initiate(self, *_) -> None:
        self.smu.initiate()

    def abort(self, *_) -> None:
        self.smu.abort()

    def clear(self, *_) -> None:
        pass


class SMU(LuaObject):
    """``smua`` / ``smub``."""

    RW = ("sense",)
    RO = ("source", "measure", "trigger", "nvbuffer1", "nvbuffer2")
    METHODS = ("reset", "abort", "makebuffer", "savebuffer")
    CONST = CONST

    def __init__(self, name: str, owner, device, event_base: int) -> None:
        self.name = name
        self.owner = owner  # the emulator: .t, .spend(), .linefreq, .timers, .new_buffer()
        self.device = device
        self.event_base = event_base
        self.dev_t = 0.0  # the device has lived up to this instrument time
        self.schedule: Schedule | None = None
        self.sweeping = False  # the schedule is a trigger-model run
        self.held: float | None = None  # a level left by a sweep or abort (None: source.level)
        self.last_compliance = False
        # (instrument time, output) at each switch: a program that turns its output off at
        # its end is already executed, but the terminals are on until then (output_at).
        self.output_log: list[tuple[float, int]] = [(0.0, 0)]
        self.source = Source(self)
        self.measure = Measure(self)
        self.nvbuffer1 = owner.new_buffer(NV_CAPACITY, dedicated=True)
        self.nvbuffer2 = owner.new_buffer(NV_CAPACITY, dedicated=True)
        self.trigger = Trigger(self)
        self.reset_settings()

    def reset_settings(self) -> None:
        self.source.reset()
        self.measure.reset()
        self.trigger.reset()
        self.sense = 0
        self.held = None

    # --- Lua functions -------------------------------------------------------------------
    def reset(self, *_) -> None:
        self.abort()
        self.set_output(0)
        self.reset_settings()
        for b in (self.nvbuffer1, self.nvbuffer2):
            b.buffer.clear()
            b.buffer.appendmode = 0
            b.buffer.collecttimestamps = 1
            b.buffer.collectsourcevalues = 0

    def abort(self, *_) -> None:
        """Stop what runs now; the output stays as it is (at the level it had)."""
        sch = self.schedule
        if sch is None:
            return
        t = self.owner.t
        self.sync(t)
        if self.schedule is None:
            return
        sch.cut(t)
        self.dev_t = max(self.dev_t, sch.evaluate_until(t, self.device))
        self.held = sch.final_level if self.source.output else None
        self.last_compliance = sch.last_compliance
        self.schedule = None
        self.sweeping = False
        self.sync(t)

    def makebuffer(self, n, *_) -> LuaBuffer:
        k = lua_index(n, "makebuffer size")
        check_level(k, 1, MAX_CAPACITY, "makebuffer size")
        return self.owner.new_buffer(k, dedicated=False)

    def savebuffer(self, *_) -> None:
        pass

    def set_sense(self, value) -> None:
        x = lua_number(value, "sense")
        if x not in (0, 1, 3):
            raise too_big(f"sense = {x}")
        self.sense = int(x)

    # --- timeline ------------------------------------------------------------------------
    @property
    def func(self) -> str:
        return "V" if self.source.func == 1 else "I"

    def dc_level(self) -> float:
        if self.held is not None:
            return self.held
        return self.source.levelv if self.source.func == 1 else self.source.leveli

    def dc_limit(self) -> float:
        return self.source.limiti if self.source.func == 1 else self.source.limitv

    def i_range(self) -> float | None:
        return None if self.measure.autorangei else self.measure.rangei

    def _hold(self, dt: float) -> None:
        if dt <= 0:
            return
        if self.source.output:
            self.device.apply(Drive(self.func, [self.dc_level()], dt, 0.0, self.dc_limit(), self.i_range()))
        else:
            self.device.rest(dt)

    def sync(self, t: float | None = None) -> None:
        """Bring the device up to instrument time ``t`` (default: now)."""
        t = self.owner.t if t is None else t
        sch = self.schedule
        if sch is not None:
            reached = sch.evaluate_until(t, self.device)
            self.dev_t = max(self.dev_t, reached)
            self.last_compliance = sch.last_compliance if sch.readings else self.last_compliance
            if not sch.finished_evaluating:
                return
            if t < sch.end:  # waiting for an event that never comes: hold the gap level
                self._apply_level(sch.final_level, t)
                return
            self.held = sch.final_level if self.source.output else None
            self.schedule = None
            self.sweeping = False
        self._hold(t - self.dev_t)
        self.dev_t = max(self.dev_t, t)

    def _apply_level(self, level: float, t: float) -> None:
        dt = t - self.dev_t
        if dt > 0:
            self.device.apply(Drive(self.func, [level], dt, 0.0, self.dc_limit(), self.i_range()))
            self.dev_t = t

    def set_output(self, on: int) -> None:
        self.sync()
        if not on and self.schedule is not None:
            self.abort()
        self.source.output = on
        self.held = None
        self.output_log.append((self.owner.t, int(bool(on))))
        if len(self.output_log) > 2048:  # an endurance run switches millions of times
            del self.output_log[:-1024]

    def output_at(self, t: float) -> bool:
        """Whether the output is on at instrument time ``t`` (the last switch made at or
        before ``t``; a switch a program makes later has not happened yet)."""
        for when, on in reversed(self.output_log):
            if when <= t:
                return bool(on)
        return bool(self.output_log[0][1])

    def compliance_now(self) -> bool:
        self.sync()
        if self.schedule is not None or not self.source.output:
            return self.last_compliance if self.source.output else False
        # Judged from the device's present conductance: asking must not drive the device.
        g = max(float(self.device.conductance()), 1e-18)
        m = clamp_to_compliance(self.func, np.array([self.dc_level()]), 1.0 / g, self.dc_limit())
        self.last_compliance = bool(m.compliance[0])
        return self.last_compliance

    # --- measurements --------------------------------------------------------------------
    def integration_time(self) -> float:
        t = self.measure.nplc / self.owner.linefreq
        return t * AUTOZERO_FACTOR if self.measure.autozero == 2 else t

    def measure_pre(self) -> float:
        d = self.measure.delay
        return (0.0 if d < 0 else d) + MEASURE_OVERHEAD

    def fixed_range(self, func: str) -> float | None:
        if func == "V":  # measuring current
            return None if self.measure.autorangei else self.measure.rangei
        return None if self.measure.autorangev else self.measure.rangev

    def targets_for(self, kinds, bufs) -> list[tuple[str, LuaBuffer]]:
        bufs = [b for b in bufs if b is not None and b is not self.measure]
        for b in bufs:
            if not isinstance(b, LuaBuffer):
                raise runtime("bad argument (reading buffer expected)")
        if len(bufs) > len(kinds):
            raise runtime(f"too many buffers for measure.{''.join(kinds)}")
        return list(zip(kinds, bufs))

    def _busy(self) -> None:
        self.sync()
        if self.schedule is not None:
            raise TSPError(5063, f"Cannot perform the requested operation while {self.name} "
                                 "is busy (a sweep or overlapped measurement is running)")

    def _count_schedule(self, kinds, bufs) -> Schedule:
        self._busy()
        targets = self.targets_for(kinds, bufs)
        n = self.measure.count
        t0 = self.owner.t
        pre, tint = self.measure_pre(), self.integration_time()
        step = max(self.measure.interval, pre + tint)
        ts = t0 + step * np.arange(n)
        func, level, limit = self._present()
        levels = np.full(n, level)
        reserved = [(kind, b.buffer, b.buffer.reserve(n)) for kind, b in targets]
        return Schedule(source=func, t0=t0, lead_level=level, ts=ts, level=levels,
                        t_meas=ts + pre, t_done=ts + pre + tint, te=ts + pre + tint, gap=levels,
                        measured=np.ones(n, bool), t_int=tint, compliance=limit,
                        i_range=self.i_range(), fixed_range=self.fixed_range(func), targets=reserved)

    def measure_now(self, kinds, bufs):
        """``smua.measure.Y([buf])``: blocks for count readings; returns the last one."""
        if self.measure.count == 1:
            values = self._spot(kinds, bufs)
        else:
            sch = self._count_schedule(kinds, bufs)
            self.schedule = sch
            self.owner.spend(sch.end - self.owner.t)
            self.sync()
            values, _ = readings("V", [sch.last_i], [sch.last_v], [False], None)
        if not self.source.output:
            self.last_compliance = False
        out = tuple(float(values[k][-1]) for k in kinds)
        return out if len(out) > 1 else out[0]

    def _spot(self, kinds, bufs) -> dict:
        """One reading: a single device step, no schedule (the common query)."""
        t0 = self.owner.t
        if self.schedule is not None:
            self._busy()
        targets = self.targets_for(kinds, bufs)
        pre, tint = self.measure_pre(), self.integration_time()
        func, level, limit = self._present()
        held = t0 - self.dev_t  # the held level since the last act, and the reading, in one call
        if held > 0 and self.source.output:
            m = self.device.apply(Drive(func, [level, level], [held, pre + tint], tint, limit, self.i_range()))
        else:
            self.sync(t0)
            m = self.device.apply(Drive(func, [level], pre + tint, tint, limit, self.i_range()))
        m_i, m_v, m_c = m.i[-1:], m.v[-1:], m.compliance[-1:]
        values, status = readings(func, m_i, m_v, m_c, self.fixed_range(func))
        for kind, b in targets:
            b.buffer.store(b.buffer.reserve(1), values[kind], [level], [t0 + pre], status)
        self.owner.spend(pre + tint)
        self.dev_t = max(self.dev_t, t0 + pre + tint)
        self.last_compliance = bool(m_c[0])
        return values

    def _present(self) -> tuple[str, float, float]:
        """What the terminals see now: (function, level, limit); output off is 0 V."""
        if self.source.output:
            return self.func, self.dc_level(), self.dc_limit()
        return "V", 0.0, self.source.offlimiti

    def measure_overlapped(self, kinds, bufs) -> None:
        if not any(b is not None for b in bufs):
            raise runtime("overlapped measurements need a reading buffer")
        self.schedule = self._count_schedule(kinds, bufs)

    # --- trigger model -------------------------------------------------------------------
    def command_trigger(self) -> None:
        """``*TRG`` (the command event): a trigger model still waiting for it at its start
        (nothing sourced or measured yet) starts now; later waits are not replayed."""
        sch = self.schedule
        if sch is None or not sch.stuck or len(sch.ts) or COMMAND_EVENT_ID not in self._stimuli():
            return
        self.schedule, self.sweeping = None, False
        self.initiate(external={COMMAND_EVENT_ID: [self.owner.t]})

    def _stimuli(self) -> set[int]:
        tr = self.trigger
        return {tr.arm.stimulus, tr.source.stimulus, tr.measure.stimulus, tr.endpulse.stimulus}

    def initiate(self, external: dict[int, list[float]] | None = None) -> None:
        self._busy()
        tr = self.trigger
        src = tr.source
        if src.action and src.func != self.source.func:
            raise runtime(f"the {self.name} sweep is in {'volts' if src.func == 1 else 'amps'} but "
                          f"{self.name}.source.func is not")
        if tr.endpulse.action == 0 and src.action:
            autorange = self.source.autorangev if src.func == 1 else self.source.autorangei
            if autorange:
                raise TSPError(5028, "Cannot perform requested operation while source autorange is enabled")
        trig_count = tr.count if tr.count > 0 else MAX_TRIGGER_STEPS
        arm_count = tr.arm.count if tr.arm.count > 0 else 1
        if trig_count * arm_count > MAX_TRIGGER_STEPS:
            raise too_big(f"{trig_count * arm_count} trigger steps (at most {MAX_TRIGGER_STEPS})")
        measure = bool(tr.measure.action)
        sd = self.source.delay if self.source.delay >= 0 else 0.0
        timing = StepTiming(SOURCE_OVERHEAD + sd, self.measure_pre(), self.integration_time())
        stimuli = {"arm": tr.arm.stimulus, "source": tr.source.stimulus,
                   "measure": tr.measure.stimulus, "endpulse": tr.endpulse.stimulus}
        t0 = self.owner.t
        self.sync(t0)
        plan = plan_steps(t0, arm_count=arm_count, trig_count=trig_count, stimuli=stimuli,
                          timing=timing, measure=measure, timers=self.owner.timers.timers,
                          events=tr.CONST, external=external)
        n = len(plan.ts)
        idle = self.source.levelv if self.source.func == 1 else self.source.leveli
        lead = self.dc_level() if self.source.output else 0.0
        if src.action and n:  # each sweep restarts the list; a longer count repeats it
            level = src.values[(np.arange(n) % trig_count) % len(src.values)]
        else:
            level = np.full(n, lead)
        gap = level.copy() if tr.endpulse.action == 1 else np.full(n, idle)
        gap = np.where(plan.last_of_arm, idle if tr.endsweep.action == 0 else gap, gap)
        if not self.source.output:  # the model runs, but the terminals stay at 0 V
            level = np.zeros(n)
            gap = np.zeros(n)
            idle = lead = 0.0
        limit = self.dc_limit()
        trig_limit = src.limiti if self.source.func == 1 else src.limitv
        if trig_limit:
            limit = trig_limit
        targets = tr.measure.targets if measure else []
        readings = n if measure else 0
        reserved = [(kind, b.buffer, b.buffer.reserve(readings)) for kind, b in targets]
        self.schedule = Schedule(source=self.func, t0=t0, lead_level=lead, ts=plan.ts, level=level,
                                 t_meas=plan.t_meas, t_done=plan.t_done, te=plan.te, gap=gap,
                                 measured=np.full(n, measure), t_int=timing.integrate,
                                 compliance=limit, i_range=self.i_range(),
                                 fixed_range=self.fixed_range(self.func), targets=reserved,
                                 stuck=plan.stuck)
        self.sweeping = True

    def busy_until(self) -> float:
        """When the running schedule ends (inf if it waits forever; -inf if idle)."""
        return self.schedule.end if self.schedule is not None else -math.inf
