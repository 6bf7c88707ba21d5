"""Pick the driver from a resource string; the simulator when there is none.

    open_smu()                                          # the built-in simulated 2614B
    open_smu("GPIB0::26::INSTR")                        # a 2614B on the bench
    open_smu("TCPIP0::192.168.0.5::1225::SOCKET")       # a 4200A-SCS over KXCI Ethernet
    open_smu("GPIB0::17::INSTR", visa_library=sim_library("bfo", seed=2))  # simulated 4200A

Only the resource string and ``visa_library`` change between bench and simulator.
"""
from __future__ import annotations

from labqc.instruments.smu import SourceMeasure

#: Where the built-in simulated lab puts each instrument (instruments/sim/lab.py).
SIM_2614B = "GPIB0::26::INSTR"
SIM_4200A = "GPIB0::17::INSTR"
SIM_4200A_LAN = "TCPIP0::127.0.0.1::1225::SOCKET"
SIM_2614B_LAN = "TCPIP0::127.0.0.1::5025::SOCKET"

MODELS = ("2614B", "4200A")

#: LAN ports that name the instrument: 5025 is the 2614B's raw socket, 1225 the 4200A's KXCI port.
PORT_MODELS = {"5025": "2614B", "1225": "4200A"}
#: The simulated lab's own addresses (instruments/sim/lab.py).
SIM_MODELS = {SIM_2614B: "2614B", SIM_2614B_LAN: "2614B", SIM_4200A: "4200A", SIM_4200A_LAN: "4200A"}


def model_from_name(resource: str, *, simulated: bool = False) -> str | None:
    """The model the resource name itself tells, without opening anything: a LAN port
    from PORT_MODELS, or (``simulated``) an address of the simulated lab; None when only
    the instrument can say (a GPIB or USB address)."""
    upper = resource.strip().upper()
    if simulated and upper in SIM_MODELS:
        return SIM_MODELS[upper]
    for port, model in PORT_MODELS.items():
        if f"::{port}::" in upper:
            return model
    return None


def capabilities_of(model: str):
    """The listed limits of ``model`` (before an instrument refines them once opened)."""
    if model == "2614B":
        from labqc.instruments.keithley2614b import CAPABILITIES
    elif model == "4200A":
        from labqc.instruments.keithley4200a import CAPABILITIES
    else:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, got {model!r}")
    return CAPABILITIES


def guess_model(resource: str, visa_library: str | None = None) -> str:
    """The instrument behind ``resource``: from the port for LAN resources
    (:func:`model_from_name`), else from its *IDN? reply."""
    named = model_from_name(resource)
    if named:
        return named
    import pyvisa

    rm = pyvisa.ResourceManager(visa_library) if visa_library else pyvisa.ResourceManager()
    inst = rm.open_resource(resource)
    try:
        inst.timeout = 3000
        inst.write_termination = "\n"
        inst.read_termination = "\n"
        idn = inst.query("*IDN?").upper()
    finally:
        inst.close()
    if "2614B" in idn or "MODEL 26" in idn:
        return "2614B"
    if "4200" in idn:
        return "4200A"
    raise ValueError(f"labqc has no driver for the instrument at {resource} (it says {idn.strip()!r})")


def open_smu(resource: str | None = None, *, visa_library: str | None = None,
             model: str | None = None, **options) -> SourceMeasure:
    """Open one SMU channel as a :class:`~labqc.instruments.smu.SourceMeasure`.

    With no resource, the built-in simulated 2614B (``visa_library`` then defaults to the
    simulator with its default preset). ``model`` ("2614B" or "4200A") skips detection;
    ``options`` go to the driver (channel, timeout, ...).
    """
    if resource is None:
        from labqc.instruments.sim.lab import sim_library

        resource = SIM_2614B
        visa_library = visa_library or sim_library()
    model = model or guess_model(resource, visa_library)
    if model == "2614B":
        from labqc.instruments.keithley2614b import Keithley2614B

        return Keithley2614B(resource, visa_library=visa_library, **options)
    if model == "4200A":
        from labqc.instruments.keithley4200a import Keithley4200A

        return Keithley4200A(resource, visa_library=visa_library, **options)
    raise ValueError(f"model must be one of {', '.join(MODELS)}, got {model!r}")
