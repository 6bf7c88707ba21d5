"""``smuX.source`` and ``smuX.measure`` of the simulated 2614B: their settings tables and actions.

The plain settings are the tables in :mod:`labqc.instruments.sim.tsp_settings`; here are only
what has side effects: a source level (checked against a fixed range, or choosing the range
under autorange), the output switch, and the measurements (spot and overlapped), which the
channel (:class:`labqc.instruments.sim.tsp_smu.SMU`) carries out on its timeline.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from labqc.instruments.sim.tsp_buffers import lua_number, too_big
from labqc.instruments.sim.tsp_settings import (
    I_MAX, I_RANGES, MEASURE, OVERRANGE, SOURCE, V_MAX, V_RANGES, SettingsObject, check_level, flag, pick_range,
    validate,
)
from labqc.instruments.sim.tsp_trigger import LuaObject

if TYPE_CHECKING:
    from labqc.instruments.sim.tsp_smu import SMU


class Options(LuaObject):
    """A small settings table (``measure.filter``, ``measure.rel``): stored, not simulated
    (readings are neither filtered nor offset; drivers here leave both off)."""

    def __init__(self, **defaults) -> None:
        self.RW = tuple(defaults)
        for k, v in defaults.items():
            setattr(self, k, v)


class ChannelSettings(SettingsObject):
    """A settings namespace of a channel: a write first brings the device up to the
    instrument's time (what came before the change was sourced with the old value)."""

    def __init__(self, smu: "SMU") -> None:
        self.smu = smu
        super().__init__()

    def reset(self) -> None:
        self.reset_settings()

    def lua_set(self, key, value) -> None:
        self.smu.sync()
        super().lua_set(key, value)


class Source(ChannelSettings):
    SETTINGS = SOURCE
    PREFIX = "source."
    RO = ("compliance",)

    @property
    def compliance(self) -> bool:
        return self.smu.compliance_now()

    def _level(self, value, fn: str, ranges: tuple[float, ...], most: float, unit: str) -> float:
        """A source level: within the fixed range, or the range chosen to hold it."""
        what = f"source.level{fn}"
        x = lua_number(value, what)
        check_level(abs(x), 0, most * OVERRANGE, what)
        rng = getattr(self, f"range{fn}")
        if not getattr(self, f"autorange{fn}") and abs(x) > rng * OVERRANGE:
            raise too_big(f"{what} = {x} {unit} on the fixed {rng:g} {unit} range")
        if getattr(self, f"autorange{fn}"):
            setattr(self, f"range{fn}", max(pick_range(x, ranges, what), getattr(self, f"lowrange{fn}")))
        self.smu.held = None
        return x

    def set_levelv(self, value) -> None:
        self.levelv = self._level(value, "v", V_RANGES, V_MAX, "V")

    def set_leveli(self, value) -> None:
        self.leveli = self._level(value, "i", I_RANGES, I_MAX, "A")

    def set_output(self, value) -> None:
        self.smu.set_output(validate(flag(0), value, "source.output"))


class Measure(ChannelSettings):
    SETTINGS = MEASURE
    PREFIX = "measure."
    RO = ("rel", "filter")
    METHODS = ("i", "v", "iv", "r", "p", "overlappedi", "overlappedv", "overlappediv",
               "overlappedr", "overlappedp")

    def reset(self) -> None:
        self.reset_settings()
        self.rel = Options(enable=0, level=0.0, leveli=0.0, levelv=0.0)
        self.filter = Options(enable=0, count=1, type=1)

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


__all__ = ["ChannelSettings", "Measure", "Options", "Source"]
