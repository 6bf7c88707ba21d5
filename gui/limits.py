"""The instrument's limits known before anything is opened, so that a request the
instrument cannot do is refused in the form, before it is queued.

The model follows from the resource without any I/O when it can (the simulated lab's
names, the 2614B's raw-socket port 5025, the 4200A's KXCI port 1225, as
labqc.instruments.connect.guess_model reads them); for any other resource the worker checks
every request right after opening the instrument and before the run is shown.
"""
from __future__ import annotations

from labqc.instruments.connect import SIM_2614B, SIM_2614B_LAN, SIM_4200A, SIM_4200A_LAN
from labqc.instruments.smu import Capabilities
from labqc.instruments.target import Target
from labqc.procedures.base import LabqcProcedure


def known_capabilities(resource: str, simulated: bool) -> Capabilities | None:
    """The capabilities of the instrument ``resource`` names, or None if only opening it
    would tell."""
    name = resource.strip().upper()
    sim_2614b = {"", SIM_2614B, SIM_2614B_LAN} if simulated else set()
    sim_4200a = {SIM_4200A, SIM_4200A_LAN} if simulated else set()
    if name in sim_2614b or "::5025::" in name:
        from labqc.instruments.keithley2614b import CAPABILITIES

        return CAPABILITIES
    if name in sim_4200a or "::1225::" in name:
        from labqc.instruments.keithley4200a import CAPABILITIES

        return CAPABILITIES
    return None


def check_requests_offline(procedure: LabqcProcedure, target: Target) -> bool:
    """Check every request of ``procedure`` against the limits of the ``target``'s
    instrument when they are known without opening it; CapabilityError (one sentence) at
    the first one it cannot do. True when checked, False when the check waits for the
    instrument."""
    if target.model is not None:
        caps = known_capabilities({"2614B": "::5025::", "4200A": "::1225::"}[target.model], False)
    else:
        caps = known_capabilities(target.resource, target.simulated)
    if caps is None:
        return False
    for request in procedure.requests():
        caps.check(request)
    return True


__all__ = ["known_capabilities", "check_requests_offline"]
