"""One way from what a person wrote to a procedure ready to run.

Text (the command line, a dashboard field, a plan's TOML value) becomes a typed value by
:func:`parse_value` (SI prefixes and units through labqc.quantity, booleans, choices, the
parameter's own limits), the values go onto a fresh procedure, and the procedure's own
``validate()`` judges them together. The instrument's limits are checked by the runner
once the Target is open (labqc.procedures.runner.check_requests), before anything is
energised. Used by ``labqc run``, the dashboard, plans (through :data:`SPECS`, which the
core's labqc.plan asks without importing any procedure) and the plan runner.

    proc = build(VoltageSweep, {"set_compliance": "5mA", "cycles": 3})
    values, problems = convert(VoltageSweep, {"step": "fast"})   # problems: [("step", "'fast' is not a number")]
"""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping

from labqc.instruments.target import Target
from labqc.procedures import PROCEDURES, get_procedure
from labqc.procedures.base import (BooleanParameter, FloatParameter, IntegerParameter, LabqcProcedure,
                                   ListParameter, ParameterError, parameter_specs)
from labqc.quantity import parse_quantity

#: (parameter attribute, why its value cannot be used); the reason is None for a
#: parameter the procedure does not have.
Problem = tuple[str, "str | None"]


def parse_value(param: Any, text: str) -> Any:
    """A typed value for ``param`` from text: numbers with an optional SI prefix and unit
    (``5mA``, ``400u``, ``1.5 V``), booleans, choices. ValueError with the reason."""
    if isinstance(param, BooleanParameter):
        low = text.strip().lower()
        if low in ("true", "yes", "on", "1"):
            return True
        if low in ("false", "no", "off", "0"):
            return False
        raise ValueError("must be true or false")
    if isinstance(param, ListParameter):
        if text not in param.choices:
            raise ValueError(f"must be one of {', '.join(map(str, param.choices))}")
        return text
    if isinstance(param, (FloatParameter, IntegerParameter)):
        value = parse_quantity(text, getattr(param, "units", None))
        if isinstance(param, IntegerParameter):
            if not float(value).is_integer():
                raise ValueError("must be a whole number")
            value = int(value)
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        unit = f" {param.units}" if getattr(param, "units", None) else ""
        if value < param.minimum:
            raise ValueError(f"must be at least {param.minimum:g}{unit}")
        if value > param.maximum:
            raise ValueError(f"must be at most {param.maximum:g}{unit}")
        return value
    return text


def text_of(value: Any) -> str:
    """A value as parse_value reads it (typed values pass through unchanged in meaning)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def convert(cls: type[LabqcProcedure], given: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """The typed value of every given parameter that can be used, and one problem for
    each that cannot (in the order given)."""
    specs = dict(parameter_specs(cls))
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for attr, raw in given.items():
        param = specs.get(attr)
        if param is None:
            problems.append((attr, None))
            continue
        try:
            values[attr] = param.convert(parse_value(param, text_of(raw)))
        except (ValueError, TypeError) as exc:
            problems.append((attr, str(exc)))
    return values, problems


def procedure_with(cls: type[LabqcProcedure], values: Mapping[str, Any]) -> LabqcProcedure:
    """A fresh procedure with ``values`` (already typed) set; not yet validated."""
    proc = cls()
    for attr, value in values.items():
        setattr(proc, attr, value)
    return proc


def build(cls: type[LabqcProcedure], given: Mapping[str, Any], *,
          label: Callable[[str, Any], str] | None = None) -> LabqcProcedure:
    """The procedure with every given value, validated; ParameterError (one sentence) at
    the first value that cannot be used (named by ``label(attr, parameter)``, default the
    attribute) or when the procedure's own validate() refuses the set."""
    values, problems = convert(cls, given)
    if problems:
        attr, reason = problems[0]
        if reason is None:
            raise ParameterError(f"{cls.__name__} has no parameter {attr!r}")
        name = label(attr, dict(parameter_specs(cls))[attr]) if label else attr
        raise ParameterError(f"{name} {text_of(given[attr])!r} {reason}")
    proc = procedure_with(cls, values)
    proc.validate()
    return proc


class ProcedureSpecs:
    """What labqc.plan needs to know of the procedures, asked by name (the core imports
    no procedure): the names, their parameters, typed values, validation and targets."""

    def names(self) -> list[str]:
        return list(PROCEDURES)

    def lookup(self, name: str) -> str:
        """The procedure's own name for ``name`` (any case, kebab or snake); KeyError
        with the choices."""
        return get_procedure(name).__name__

    def parameters(self, procedure: str) -> list[str]:
        return [attr for attr, _ in parameter_specs(PROCEDURES[procedure])]

    def convert(self, procedure: str, given: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
        return convert(PROCEDURES[procedure], given)

    def validate(self, procedure: str, values: Mapping[str, Any]) -> str:
        """The procedure's refusal of these values as one sentence, or ""."""
        try:
            proc = procedure_with(PROCEDURES[procedure], values)
            proc.parameter_objects()  # PyMeasure's own range checks
            proc.validate()
        except (ValueError, TypeError) as exc:  # ParameterError is a ValueError
            return str(exc)
        return ""

    def check_target(self, resource: str, preset: str, seed: int, time_scale: float) -> str:
        """Why a device cannot be measured as given, or ""."""
        try:
            Target(resource, preset, seed, time_scale)
        except ValueError as exc:
            return str(exc)
        return ""

    def build(self, procedure: str, values: Mapping[str, Any]) -> LabqcProcedure:
        return build(PROCEDURES[procedure], values)


#: The procedures as labqc.plan sees them.
SPECS = ProcedureSpecs()

__all__ = ["parse_value", "convert", "build", "procedure_with", "text_of", "ProcedureSpecs", "SPECS", "Problem"]
