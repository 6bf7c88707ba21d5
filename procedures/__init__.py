"""The labqc measurement procedures, by name.

Each is a PyMeasure Procedure (labqc.procedures.base.LabqcProcedure) that speaks only the
source-measure interface; run one with :func:`labqc.procedures.runner.run_procedure` or
``labqc run NAME``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labqc.procedures.base import LabqcProcedure

#: class name -> its module. Imported on first use (PEP 562 ``__getattr__`` below), not with
#: the package: PyMeasure pulls in IPython (~1 s), and `labqc lab status` needs none of it.
_CLASSES: dict[str, str] = {
    "LabqcProcedure": "base", "VoltageSweep": "voltage_sweep", "CurrentSweep": "current_sweep",
    "SetReset": "set_reset", "PulseTrain": "pulse_train", "Endurance": "endurance", "Retention": "retention",
    "Breakdown": "breakdown", "Forming": "forming", "ProgramToLevel": "program_to_level",
    "SwitchingThreshold": "switching_threshold", "Volatility": "volatility",
}
#: The order a session usually goes (the order of PROCEDURES).
_ORDER = ("VoltageSweep", "CurrentSweep", "SetReset", "PulseTrain", "Endurance", "Retention", "Breakdown",
          "Forming", "ProgramToLevel", "SwitchingThreshold", "Volatility")


def __getattr__(name: str) -> Any:
    import importlib

    if name in _CLASSES:
        value = getattr(importlib.import_module(f"{__name__}.{_CLASSES[name]}"), name)
    elif name == "PROCEDURES":  # name -> class
        value = {n: __getattr__(n) for n in _ORDER}
    else:  # a submodule not yet imported: `from labqc.procedures import derive` falls back to importing it
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def get_procedure(name: str) -> type["LabqcProcedure"]:
    """The procedure class called ``name`` (case and -/_ ignored); KeyError with the choices."""
    key = name.replace("-", "").replace("_", "").lower()
    procedures = globals().get("PROCEDURES") or __getattr__("PROCEDURES")  # one dict, as patched
    for known, cls in procedures.items():
        if known.lower() == key:
            return cls
    raise KeyError(f"no procedure called {name!r}; choose one of {', '.join(procedures)}")


__all__ = ["PROCEDURES", "get_procedure", "LabqcProcedure", "VoltageSweep", "CurrentSweep",
           "SetReset", "PulseTrain", "Endurance", "Retention", "Breakdown", "Forming", "ProgramToLevel",
           "SwitchingThreshold", "Volatility"]
