"""Imported first by the dashboard: PyMeasure without the IPython it imports for notebooks.

``pymeasure.experiment`` imports ``IPython.display`` for its notebook ``Experiment`` class
(live plots in Jupyter), which labqc never uses, and carries on without it when IPython
cannot be imported (it is an optional dependency of PyMeasure). In the dashboard that
import alone costs ~22 MB resident, of the 350 MB the dashboard may take with 1.2·10⁶
points on screen (benchmarks/dashboard.py). So the dashboard imports PyMeasure here with
IPython hidden for the duration of that one import; afterwards ``import IPython`` works
as usual. Nothing changes where IPython or PyMeasure is already imported (a notebook, a
test session).
"""
from __future__ import annotations

import logging
import sys


def import_pymeasure_without_ipython() -> None:
    if "pymeasure.experiment" in sys.modules or "IPython" in sys.modules:
        return
    quiet = logging.getLogger("pymeasure.experiment.experiment")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # its "IPython could not be imported" warning
    sys.modules["IPython"] = None  # type: ignore[assignment]  # import IPython -> ImportError
    try:
        import pymeasure.experiment  # noqa: F401
    finally:
        del sys.modules["IPython"]
        quiet.setLevel(level)


import_pymeasure_without_ipython()
