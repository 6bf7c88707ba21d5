"""Which views each procedure opens: what its users look at (science.md, "What users
look at"), chosen from the procedure and its mode.

- G/G0 against V for voltage sweeps, against I for current sweeps, against pulse number
  for pulse trains, against time otherwise; always with the quantum grid;
- I–V with log |I| and the compliance for sweeps; V against I for current sweeps; for
  pulse procedures I–V as points (a line would join pulse and read points into a tangle);
- tabs: I_i/I_1, polar and lag plots for RESET/SET trains; the LTP/LTD fit for
  potentiation/depression; HRS/LRS and the LRS level per cycle for cycling; the level
  each current sweep reached per cycle; G/G0 against log time for retention.
"""
from __future__ import annotations

from dataclasses import dataclass

#: Every tab the dashboard has, in display order.
TABS = ("I_i/I_1", "Polar", "Lag", "LTP/LTD fit", "HRS/LRS", "Level per cycle", "Retention")


@dataclass(frozen=True)
class ViewPlan:
    x: str  # the G/G0 view's x axis (labqc.gui.live_plots.X_CHOICES)
    tabs: tuple[str, ...]  # tabs shown, the first one in front
    iv: str  # "iv": log |I| against V as a line; "points": the same as points; "vi": V against I
    per_cycle: str = "lrs"  # "Level per cycle": the LRS read, or "max": the highest G reached


def plan_for(procedure: str, parameters: dict[str, str] | None = None) -> ViewPlan:
    """The views of ``procedure`` (class name) with these parameters (name -> text, as a
    results header or a procedure has them: "Mode", "Method")."""
    p = {k: str(v).strip() for k, v in (parameters or {}).items()}
    if procedure == "VoltageSweep":
        return ViewPlan("Voltage", ("HRS/LRS", "Level per cycle"), "iv")
    if procedure == "CurrentSweep":
        return ViewPlan("Current", ("Level per cycle",), "vi", per_cycle="max")
    if procedure == "SetReset":
        return ViewPlan("Time", ("HRS/LRS", "Level per cycle"), "iv")
    if procedure == "PulseTrain":
        if p.get("Mode") == "ltp-ltd":
            return ViewPlan("Pulse number", ("LTP/LTD fit",), "points")
        return ViewPlan("Pulse number", ("I_i/I_1", "Polar", "Lag"), "points")
    if procedure == "Endurance":
        return ViewPlan("Time", ("HRS/LRS", "Level per cycle"), "points" if p.get("Method") == "pulse" else "iv")
    if procedure == "Retention":
        return ViewPlan("Time", ("Retention",), "points")
    # Ramps that stop on the device's answer: G/G0 against V, the I–V, the level reached.
    if procedure in ("Breakdown", "Forming"):
        return ViewPlan("Voltage", ("Level per cycle",), "iv", per_cycle="max")
    # Pulse-and-read searches: the reads against pulse number, the level each reached.
    if procedure in ("ProgramToLevel", "SwitchingThreshold"):
        return ViewPlan("Pulse number", ("Level per cycle",), "points", per_cycle="max")
    if procedure == "Volatility":  # the decay after one pulse, against time
        return ViewPlan("Time", ("Level per cycle",), "points", per_cycle="max")
    return ViewPlan("Time", TABS, "iv")


__all__ = ["ViewPlan", "plan_for", "TABS"]
