"""The labqc measurement procedures, by name.

Each is a PyMeasure Procedure (labqc.procedures.base.LabqcProcedure) that speaks only the
source-measure interface; run one with :func:`labqc.procedures.runner.run_procedure` or
``labqc run NAME``.
"""
from __future__ import annotations

from labqc.procedures.base import LabqcProcedure
from labqc.procedures.breakdown import Breakdown
from labqc.procedures.current_sweep import CurrentSweep
from labqc.procedures.endurance import Endurance
from labqc.procedures.forming import Forming
from labqc.procedures.program_to_level import ProgramToLevel
from labqc.procedures.pulse_train import PulseTrain
from labqc.procedures.retention import Retention
from labqc.procedures.set_reset import SetReset
from labqc.procedures.switching_threshold import SwitchingThreshold
from labqc.procedures.voltage_sweep import VoltageSweep
from labqc.procedures.volatility import Volatility

#: name -> class, in the order a session usually goes.
PROCEDURES: dict[str, type[LabqcProcedure]] = {
    cls.__name__: cls
    for cls in (VoltageSweep, CurrentSweep, SetReset, PulseTrain, Endurance, Retention, Breakdown,
                Forming, ProgramToLevel, SwitchingThreshold, Volatility)
}


def get_procedure(name: str) -> type[LabqcProcedure]:
    """The procedure class called ``name`` (case and -/_ ignored); KeyError with the choices."""
    key = name.replace("-", "").replace("_", "").lower()
    for known, cls in PROCEDURES.items():
        if known.lower() == key:
            return cls
    raise KeyError(f"no procedure called {name!r}; choose one of {', '.join(PROCEDURES)}")


__all__ = ["PROCEDURES", "get_procedure", "LabqcProcedure", "VoltageSweep", "CurrentSweep",
           "SetReset", "PulseTrain", "Endurance", "Retention", "Breakdown", "Forming", "ProgramToLevel",
           "SwitchingThreshold", "Volatility"]
