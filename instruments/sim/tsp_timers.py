"""``trigger.timer[N]`` of the simulated 2614B: eight timers whose settings are the TIMER
table of tsp_settings.py; how they fire during a run is planned in tsp_trigger.py."""
from __future__ import annotations

from labqc.instruments.sim.tsp_buffers import runtime, too_small
from labqc.instruments.sim.tsp_settings import TIMER, TIMER_DELAY, SettingsObject, validate
from labqc.instruments.sim.tsp_trigger import TIMER_EVENT_BASE, lua_list

#: The mean a delay list must keep (s): shorter lists are refused as too small.
MIN_LIST_MEAN = 50e-6


class Timer(SettingsObject):
    """``trigger.timer[k]``. ``delays`` is what the timer plays: the one ``delay``, or the
    ``delaylist`` (whose first entry ``delay`` then reads)."""

    SETTINGS = TIMER
    RW_EXTRA = ("delaylist",)
    RO = ("EVENT_ID", "overrun")
    METHODS = ("reset", "clear", "wait")

    def __init__(self, k: int, list_steps_on_repeats: bool = True) -> None:
        self.EVENT_ID = TIMER_EVENT_BASE + k
        #: Unverified on paper (labqc selftest measures it): whether each of the timer's own
        #: repeats (count > 1) takes the next delay of its list (True), or every repeat of one
        #: trigger uses the same entry and the list moves on per trigger (False).
        self.list_steps_on_repeats = list_steps_on_repeats
        super().__init__(prefix=f"trigger.timer[{k}].")
        self.reset()

    def reset(self, *_) -> None:
        self.reset_settings()
        self.delays = [self.delay]
        self.overrun = False

    def clear(self, *_) -> None:
        self.overrun = False

    def wait(self, *_) -> bool:
        return False  # the simulator does not hold commands on timer events

    @property
    def delaylist(self) -> list[float]:
        return list(self.delays)

    def set_delay(self, value) -> None:
        self.delay = validate(TIMER_DELAY, value, f"{self.PREFIX}delay")
        self.delays = [self.delay]

    def set_delaylist(self, table) -> None:
        what = f"{self.PREFIX}delaylist"
        values = [validate(TIMER_DELAY, x, what) for x in lua_list(table, what)]
        if not values:
            raise runtime(f"{what} must not be empty")
        if sum(values) / len(values) < MIN_LIST_MEAN:
            raise too_small(f"the delays of {what} must average at least {MIN_LIST_MEAN * 1e6:g} us")
        self.delays = values
        self.delay = values[0]


class TimerTable:
    """``trigger.timer``: indexed 1..8."""

    def __init__(self, list_steps_on_repeats: bool = True) -> None:
        self.timers = [Timer(k, list_steps_on_repeats) for k in range(1, 9)]

    def lua_get(self, key):
        if isinstance(key, (int, float)) and not isinstance(key, bool) and key == int(key) and 1 <= key <= 8:
            return self.timers[int(key) - 1]
        raise runtime(f"attempt to index trigger.timer with {key!r} (timers are 1 to 8)")

    def lua_len(self) -> int:
        return 8

    __len__ = lua_len


__all__ = ["MIN_LIST_MEAN", "Timer", "TimerTable"]
