"""The resolution check of a procedure: every place it reads a conductance at a known
voltage (verify reads, reads between pulses, constant-bias samples, voltage sweeps at
their median |V|), with the advice of :mod:`labqc.resolution` for the instrument model.

    for advice in resolution_advice(SetReset(), "2614B"):
        print(advice.sentence())
"""
from __future__ import annotations

import numpy as np

from labqc.instruments.smu import PulseTrain, Repeat, Sampling, Sweep
from labqc.procedures.base import LabqcProcedure
from labqc.quantity import format_quantity
from labqc.resolution import Advice, advise


def read_points(request) -> list[tuple[str, float, float, float | None, float]]:
    """(label, voltage, nplc, measure range, compliance) of each voltage-sourced read in
    ``request``; current-sourced requests measure a voltage and are left out."""
    if isinstance(request, Repeat):
        return [p for step in request.steps for p in read_points(step)]
    if getattr(request, "is_search", False):  # instruments/search.py: the reading it decides on
        if request.pulsed:
            return [(f"read after each search pulse at {format_quantity(request.read_level, 'V', 3)}", request.read_level,
                     request.nplc, request.measure_range, request.read_compliance or request.compliance)]
        v = float(np.median(np.abs(request.levels)))
        where = f"{format_quantity(request.compliance, 'A', 3)} (median |V| {format_quantity(v, 'V', 3)})"
        return [(f"search ramp at {where}", v, request.nplc,
                 request.measure_range, request.compliance)]
    if isinstance(request, Sweep):
        if request.source != "V":
            return []
        nonzero = np.abs(request.levels[request.levels != 0])
        if nonzero.size == 0:
            return []
        if request.points == 1:
            v = float(request.levels[0])
            return [(f"read at {format_quantity(v, 'V', 3)}", v, request.nplc, request.measure_range, request.compliance)]
        v = float(np.median(nonzero))
        sign = "-" if np.median(request.levels) < 0 else ""
        where = f"{format_quantity(request.compliance, 'A', 3)} (median V {sign}{format_quantity(v, 'V', 3)})"
        return [(f"sweep at {where}", v, request.nplc, request.measure_range, request.compliance)]
    if isinstance(request, PulseTrain) and request.read_levels is not None:
        levels = np.unique(request.read_levels[request.read_levels != 0])
        return [(f"read between pulses at {format_quantity(v, 'V', 3)}", float(v), request.nplc, request.measure_range,
                 request.compliance) for v in levels]
    if isinstance(request, Sampling) and request.source == "V" and request.level != 0:
        return [(f"samples at {format_quantity(request.level, 'V', 3)}", float(request.level), request.nplc,
                 request.measure_range, request.compliance)]
    return []


def resolution_advice(procedure: LabqcProcedure, model: str) -> list[Advice]:
    """One :class:`~labqc.resolution.Advice` per distinct read setting of ``procedure``."""
    seen: set = set()
    out: list[Advice] = []
    requests = list(procedure.requests()) + list(getattr(procedure, "resolution_requests", lambda: [])())
    for request in requests:
        for label, v, nplc, rng, icc in read_points(request):
            key = (round(v, 9), nplc, rng, icc)
            if key in seen:
                continue
            seen.add(key)
            out.append(advise(model, v, nplc, measure_range=rng, compliance=icc, label=label))
    return out


def model_of(target) -> str:
    """The instrument model a Target reaches, as far as is known without opening it
    (2614B when it cannot tell: the simulator's default and labqc's main instrument)."""
    from labqc.instruments.connect import model_from_name

    if getattr(target, "model", None):
        return target.model
    if not target.resource:
        return "2614B"
    return model_from_name(target.resource, simulated=target.simulated) or "2614B"


def warning_lines(procedure: LabqcProcedure, model: str) -> list[str]:
    """One line per read setting that does not resolve 0.5 G0 (none when all do)."""
    return [a.sentence() for a in resolution_advice(procedure, model) if not a.resolvable]


__all__ = ["read_points", "resolution_advice", "model_of", "warning_lines"]
