"""``smuX.trigger`` of the simulated 2614B: the trigger model's stages and how a run starts.

The stages' settings (action, stimulus, count, the trigger source's limits) are the tables
in :mod:`labqc.instruments.sim.tsp_settings`; the sweep functions (``linearv``, ``listv``,
``logv`` ...) and ``measure.iv(buf, buf)`` are methods here. :func:`start` turns the
settings into a :class:`~labqc.instruments.sim.tsp_schedule.Schedule` on ``initiate()``,
with every step's times planned by :func:`labqc.instruments.sim.tsp_trigger.plan_steps`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from labqc.instruments.sim.tsp_buffers import LuaBuffer, TSPError, lua_index, lua_number, runtime, too_big
from labqc.instruments.sim.tsp_schedule import Schedule
from labqc.instruments.sim.tsp_settings import (
    OVERRANGE, TRIGGER, TRIGGER_STAGES, V_MAX, SettingsObject, check_level,
)
from labqc.instruments.sim.tsp_trigger import StepTiming, channel_event_ids, lua_list, plan_steps

if TYPE_CHECKING:
    from labqc.instruments.sim.tsp_smu import SMU

MAX_TRIGGER_STEPS = 100_000  # trigger.count 0 ("infinite") runs this many steps
SOURCE_OVERHEAD = 20e-6  # s: source action until the level is out (before source.delay)


class Stage(SettingsObject):
    """arm / source / measure / endpulse / endsweep layer of ``smuX.trigger``."""

    def __init__(self, name: str, methods: tuple[str, ...] = ("set", "clear")) -> None:
        self.METHODS = methods
        self.action, self.stimulus, self.count = 0, 0, 1  # what a stage without the setting reads
        super().__init__(TRIGGER_STAGES[name], f"trigger.{name}.")

    def set(self, *_) -> None:
        pass

    def clear(self, *_) -> None:
        pass


class TriggerSource(Stage):
    def __init__(self, smu: "SMU") -> None:
        super().__init__("source", ("linearv", "lineari", "listv", "listi", "logv", "logi", "set", "clear"))
        self.smu = smu
        self.values = np.zeros(1)
        self.func = 1

    def _sweep(self, values, func: int) -> None:
        values = np.asarray(values, dtype=float)
        limit = V_MAX if func == 1 else 10.0
        if values.size and np.max(np.abs(values)) > limit * OVERRANGE:
            raise too_big(f"sweep level {np.max(np.abs(values)):g} (maximum {limit:g})")
        self.values = values
        self.func = func

    @staticmethod
    def _points(n, what: str) -> int:
        return int(check_level(lua_index(n, what), 1, MAX_TRIGGER_STEPS, what))

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


class TriggerMeasure(Stage):
    def __init__(self, smu: "SMU") -> None:
        super().__init__("measure", ("i", "v", "iv", "r", "p", "set", "clear"))
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


class Trigger(SettingsObject):
    SETTINGS = TRIGGER
    PREFIX = "trigger."
    METHODS = ("initiate", "abort", "clear")
    RO = ("arm", "source", "measure", "endpulse", "endsweep")

    def __init__(self, smu: "SMU") -> None:
        self.smu = smu
        self.CONST = channel_event_ids(smu.event_base)
        super().__init__()
        self.reset()

    def reset(self) -> None:
        self.reset_settings()
        self.arm = Stage("arm")
        self.source = TriggerSource(self.smu)
        self.measure = TriggerMeasure(self.smu)
        self.endpulse = Stage("endpulse")
        self.endsweep = Stage("endsweep", ())

    def initiate(self, *_) -> None:
        self.smu.initiate()

    def abort(self, *_) -> None:
        self.smu.abort()

    def clear(self, *_) -> None:
        pass


def start(smu: "SMU", external: dict[int, list[float]] | None = None) -> Schedule:
    """``initiate()``: the run the trigger model's settings describe, from now, as a
    Schedule (refused as the instrument refuses: a sweep in the other function, a pulsed
    sweep under source autorange (5028), more steps than a run may take)."""
    tr = smu.trigger
    src = tr.source
    if src.action and src.func != smu.source.func:
        raise runtime(f"the {smu.name} sweep is in {'volts' if src.func == 1 else 'amps'} but "
                      f"{smu.name}.source.func is not")
    if tr.endpulse.action == 0 and src.action:
        autorange = smu.source.autorangev if src.func == 1 else smu.source.autorangei
        if autorange:
            raise TSPError(5028, "Cannot perform requested operation while source autorange is enabled")
    trig_count = tr.count if tr.count > 0 else MAX_TRIGGER_STEPS
    arm_count = tr.arm.count if tr.arm.count > 0 else 1
    if trig_count * arm_count > MAX_TRIGGER_STEPS:
        raise too_big(f"{trig_count * arm_count} trigger steps (at most {MAX_TRIGGER_STEPS})")
    measure = bool(tr.measure.action)
    sd = smu.source.delay if smu.source.delay >= 0 else 0.0
    timing = StepTiming(SOURCE_OVERHEAD + sd, smu.measure_pre(), smu.integration_time())
    stimuli = {"arm": tr.arm.stimulus, "source": tr.source.stimulus,
               "measure": tr.measure.stimulus, "endpulse": tr.endpulse.stimulus}
    t0 = smu.owner.t
    smu.sync(t0)
    plan = plan_steps(t0, arm_count=arm_count, trig_count=trig_count, stimuli=stimuli,
                      timing=timing, measure=measure, timers=smu.owner.timers.timers,
                      events=tr.CONST, external=external)
    n = len(plan.ts)
    idle = smu.source.levelv if smu.source.func == 1 else smu.source.leveli
    lead = smu.dc_level() if smu.source.output else 0.0
    if src.action and n:  # each sweep restarts the list; a longer count repeats it
        level = src.values[(np.arange(n) % trig_count) % len(src.values)]
    else:
        level = np.full(n, lead)
    gap = level.copy() if tr.endpulse.action == 1 else np.full(n, idle)
    gap = np.where(plan.last_of_arm, idle if tr.endsweep.action == 0 else gap, gap)
    if not smu.source.output:  # the model runs, but the terminals stay at 0 V
        level = np.zeros(n)
        gap = np.zeros(n)
        idle = lead = 0.0
    limit = smu.dc_limit()
    trig_limit = src.limiti if smu.source.func == 1 else src.limitv
    if trig_limit:
        limit = trig_limit
    targets = tr.measure.targets if measure else []
    readings = n if measure else 0
    reserved = [(kind, b.buffer, b.buffer.reserve(readings)) for kind, b in targets]
    return Schedule(source=smu.func, t0=t0, lead_level=lead, ts=plan.ts, level=level,
                    t_meas=plan.t_meas, t_done=plan.t_done, te=plan.te, gap=gap,
                    measured=np.full(n, measure), t_int=timing.integrate,
                    compliance=limit, i_range=smu.i_range(), fixed_range=smu.fixed_range(smu.func),
                    targets=reserved, stuck=plan.stuck)


__all__ = ["MAX_TRIGGER_STEPS", "SOURCE_OVERHEAD", "Stage", "Trigger", "TriggerMeasure", "TriggerSource", "start"]
