"""One source-measure channel of the simulated 2614B (``smua``/``smub``) and its timeline.

The channel owns a device (``smua``: the DUT; ``smub``: open circuit unless wired) and keeps
it up to the instrument's time: :meth:`SMU.sync` drives it with the held level while the
output is on, lets it rest while off, and walks it through the active
:class:`~labqc.instruments.sim.tsp_schedule.Schedule` (sweep, overlapped or multi-count
measurement) in vectorised blocks. Its settings are declared as tables
(instruments/sim/tsp_settings.py) and validated the way the instrument validates them
(1011 Parameter too big, 1012 Parameter too small, 5028 ...); ``source``/``measure`` are
in tsp_smu_settings.py, ``trigger`` in tsp_smu_trigger.py.
"""
from __future__ import annotations

import math

import numpy as np

from labqc.instruments.sim.device import Drive, Measured, clamp_to_compliance
from labqc.instruments.sim.tsp_buffers import (MAX_CAPACITY, NV_CAPACITY, LuaBuffer, TSPError, lua_index,
                                               lua_number, runtime, too_big)
from labqc.instruments.sim.tsp_schedule import Schedule, readings
from labqc.instruments.sim.tsp_settings import check_level
from labqc.instruments.sim.tsp_smu_settings import Measure, Source
from labqc.instruments.sim.tsp_smu_trigger import Trigger, start
from labqc.instruments.sim.tsp_trigger import COMMAND_EVENT_ID, LuaObject

MEASURE_OVERHEAD = 50e-6  # s: trigger latency and A/D set-up before integration starts
AUTOZERO_FACTOR = 2.0  # autozero AUTO: one reference/zero conversion per reading
MAX_MEASURE_COUNT = NV_CAPACITY

CONST = {
    "OUTPUT_DCAMPS": 0, "OUTPUT_DCVOLTS": 1, "OUTPUT_OFF": 0, "OUTPUT_ON": 1,
    "OUTPUT_NORMAL": 0, "OUTPUT_ZERO": 2, "OUTPUT_HIGH_Z": 1,
    "AUTORANGE_OFF": 0, "AUTORANGE_ON": 1, "AUTORANGE_FOLLOW_LIMIT": 2,
    "AUTOZERO_OFF": 0, "AUTOZERO_ONCE": 1, "AUTOZERO_AUTO": 2,
    "DISABLE": 0, "ENABLE": 1, "SOURCE_IDLE": 0, "SOURCE_HOLD": 1,
    "DELAY_OFF": 0, "DELAY_AUTO": -1, "SENSE_LOCAL": 0, "SENSE_REMOTE": 1, "SENSE_CALA": 3,
    "LIMIT_AUTO": 0, "FILTER_OFF": 0, "FILTER_ON": 1, "REL_OFF": 0, "REL_ON": 1,
    "FILTER_MOVING_AVG": 0, "FILTER_REPEAT_AVG": 1, "FILTER_MEDIAN": 2,
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
        """``trigger.initiate()``: the trigger model's run from now (tsp_smu_trigger.start)."""
        self._busy()
        self.schedule = start(self, external)
        self.sweeping = True

    def busy_until(self) -> float:
        """When the running schedule ends (inf if it waits forever; -inf if idle)."""
        return self.schedule.end if self.schedule is not None else -math.inf
