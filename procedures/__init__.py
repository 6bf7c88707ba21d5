"""The labqc measurement procedures, by name.

Each is a PyMeasure Procedure (procedures.base.LabqcProcedure) that speaks only the
source-measure interface; run one with :func:`procedures.runner.run_procedure` or
``labqc run NAME``.
"""
from __future__ import annotations

from procedures.base import LabqcProcedure
from procedures.current_sweep import CurrentSweep
from procedures.endurance import Endurance
from procedures.pulse_train import PulseTrain
from procedures.retention import Retention
from procedures.set_reset import SetReset
from procedures.voltage_sweep import VoltageSweep

#: name -> class, in the order a session usually goes.
PROCEDURES: dict[str, type[LabqcProcedure]] = {
    cls.__name__: cls
    for cls in (VoltageSweep, CurrentSweep, SetReset, PulseTrain, Endurance, Retention)
}


def get_procedure(name: str) -> type[LabqcProcedure]:
    """The procedure class called ``name`` (case and -/_ ignored); KeyError with the choices."""
    key = name.replace("-", "").replace("_", "").lower()
    for known, cls in PROCEDURES.items():
        if known.lower() == key:
            return cls
    raise KeyError(f"no procedure called {name!r}; choose one of {', '.join(PROCEDURES)}")


__all__ = ["PROCEDURES", "get_procedure", "LabqcProcedure", "VoltageSweep", "CurrentSweep",
           "SetReset", "PulseTrain", "Endurance", "Retention"]
