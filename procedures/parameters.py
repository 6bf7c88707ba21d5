"""Procedure parameters declared once, each with its help text, in the order it is shown.

The PyMeasure parameter classes with two additions: ``help`` (one line for ``labqc list``,
``labqc run --help`` and the dashboard's tool tips) and ``order`` (declaration order, which
is the order every listing uses). And the groups several procedures share (the read, the
current compliance, the integration time, the cycle count), so that their names, units,
limits and wording are written in one place::

    class Endurance(LabqcProcedure):
        cycles = cycles(20, "SET/RESET cycles (paper: 100)", maximum=10_000_000)
        set_compliance = compliance("SET compliance", 400e-6, "current limit of the SET")
        read_voltage, read_compliance = read(0.4, "HRS/LRS read after each half-cycle")
        nplc = nplc(0.01, "integration time per ramp point")
"""
from __future__ import annotations

import itertools
from typing import Any

from pymeasure.experiment import BooleanParameter, FloatParameter, IntegerParameter, ListParameter, Parameter

_ORDER = itertools.count()

#: Largest voltage any labqc instrument sources (the 4200A-SCS's 210 V range).
V_MAX = 210.0
#: Largest current limit any labqc instrument accepts, in A.
I_MAX = 10.0


class _Described:
    """Mixin: a help line and a declaration rank on a PyMeasure parameter."""

    def _describe(self, help: str) -> None:
        self.help = help
        self.order = next(_ORDER)


class Float(FloatParameter, _Described):
    def __init__(self, name: str, *, help: str = "", **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self._describe(help)


class Integer(IntegerParameter, _Described):
    def __init__(self, name: str, *, help: str = "", **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self._describe(help)


class Choice(ListParameter, _Described):
    def __init__(self, name: str, choices: list, *, help: str = "", **kwargs: Any) -> None:
        super().__init__(name, choices=choices, **kwargs)
        self._describe(help)


class Flag(BooleanParameter, _Described):
    def __init__(self, name: str, *, help: str = "", **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self._describe(help)


class Text(Parameter, _Described):
    def __init__(self, name: str, *, help: str = "", **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self._describe(help)


def help_of(param: Any) -> str:
    """The parameter's help line (its name when it has none)."""
    return getattr(param, "help", "") or param.name


# ------------------------------------------------------------------------ shared groups
def read(voltage: float, help: str, *, compliance: float = 1e-3,
         compliance_help: str = "current limit of the read") -> tuple[Float, Float]:
    """The spot read: its level (never 0 V, where G = I/V is undefined) and current limit."""
    return (Float("Read voltage", units="V", default=voltage, minimum=-10.0, maximum=10.0, help=help),
            Float("Read compliance", units="A", default=compliance, minimum=0.0, maximum=I_MAX,
                  help=compliance_help))


def read_level(voltage: float, help: str) -> Float:
    """The read level alone (for a procedure whose reads share another current limit)."""
    return Float("Read voltage", units="V", default=voltage, minimum=-10.0, maximum=10.0, help=help)


def compliance(name: str, default: float, help: str) -> Float:
    """A current limit, in A."""
    return Float(name, units="A", default=default, minimum=0.0, maximum=I_MAX, help=help)


def nplc(default: float, help: str) -> Float:
    """Integration time in power-line cycles."""
    return Float("NPLC", default=default, minimum=0.0, maximum=25.0,
                 help=f"{help} in power-line cycles")


def cycles(default: int, help: str, *, maximum: int = 1_000_000) -> Integer:
    """How many cycles (0 is refused by each procedure's validate, with its own sentence)."""
    return Integer("Cycles", default=default, minimum=0, maximum=maximum, help=help)


def voltage(name: str, default: float, help: str, *, signed: bool = False, negative: bool = False) -> Float:
    """A source level in V, up to the largest any labqc instrument sources."""
    low = -V_MAX if (signed or negative) else 0.0
    return Float(name, units="V", default=default, minimum=low, maximum=0.0 if negative else V_MAX, help=help)


def voltage_step(name: str, default: float, help: str) -> Float:
    """A ramp's voltage step, in mV."""
    return Float(name, units="mV", default=default, minimum=0.0, maximum=10_000.0, help=help)


def milliseconds(name: str, default: float, help: str, *, maximum: float = 1e5) -> Float:
    """A duration in ms (a step time, a pulse width)."""
    return Float(name, units="ms", default=default, minimum=0.0, maximum=maximum, help=help)


def pulse(width: float, period: float) -> tuple[Float, Float]:
    """A pulse train's width and period, in ms."""
    return (milliseconds("Pulse width", width, "pulse width"),
            milliseconds("Pulse period", period, "time from one pulse to the next (pulse, read and rest)"))


__all__ = ["pulse", "voltage_step", "milliseconds", "Float", "Integer", "Choice", "Flag", "Text", "help_of", "read", "read_level", "compliance", "nplc",
           "cycles", "voltage", "V_MAX", "I_MAX"]
