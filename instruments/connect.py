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


#: Seconds to wait for an *IDN? reply in each framing.
IDN_TIMEOUT = 2.0
#: (name, write/read termination) tried in turn: TSP and GPIB use a newline; a 4200A's
#: KXCI Ethernet socket reads only NUL-terminated commands and never answers the other.
FRAMINGS = (("newline", "\n"), ("nul", "\0"))


def model_from_idn(idn: str) -> str | None:
    """The labqc model named by an *IDN? reply, or None."""
    upper = idn.upper()
    if "2614B" in upper or "MODEL 26" in upper:
        return "2614B"
    if "4200" in upper:
        return "4200A"
    return None


def identify(resource: str, visa_library: str | None = None, timeout: float = IDN_TIMEOUT) -> tuple[str, str]:
    """(model, framing) of the instrument at ``resource`` from its *IDN? reply, asked in
    each framing of :data:`FRAMINGS` (the likelier one first: NUL on a LAN socket that is
    not the 2614B's 5025), on a fresh connection each time so that a half-read message
    of one framing cannot spoil the next. ValueError when nothing answers or the answer
    names no instrument labqc drives."""
    import pyvisa

    upper = resource.upper()
    order = list(FRAMINGS)
    if upper.endswith("::SOCKET") and "::5025::" not in upper:
        order.reverse()
    rm = pyvisa.ResourceManager(visa_library) if visa_library else pyvisa.ResourceManager()
    heard: list[str] = []
    for framing, term in order:
        inst = rm.open_resource(resource, write_termination=term, read_termination=term,
                               timeout=int(timeout * 1000))
        try:
            idn = inst.query("*IDN?").strip("\r\n\0 ")
        except pyvisa.errors.VisaIOError:
            continue  # silence in this framing: try the next
        finally:
            inst.close()
        model = model_from_idn(idn)
        if model is not None:
            return model, framing
        heard.append(idn)
    if heard:
        raise ValueError(f"labqc has no driver for the instrument at {resource} (it says {heard[0]!r}); "
                         f"name the model with --model if it is a {' or '.join(MODELS)}")
    raise ValueError(f"nothing at {resource} answered *IDN? within {timeout:g} s, with a newline or a NUL "
                     f"terminator; check the address and that the instrument (KXCI on a 4200A) is running, "
                     f"or name the model with --model")


def guess_model(resource: str, visa_library: str | None = None) -> str:
    """The instrument behind ``resource``: from the port for LAN resources on the standard
    ports (:func:`model_from_name`), else by asking it (:func:`identify`)."""
    named = model_from_name(resource)
    if named:
        return named
    return identify(resource, visa_library)[0]


def open_smu(resource: str | None = None, *, visa_library: str | None = None,
             model: str | None = None, **options) -> SourceMeasure:
    """Open one SMU channel as a :class:`~labqc.instruments.smu.SourceMeasure`.

    With no resource, the built-in simulated 2614B (``visa_library`` then defaults to the
    simulator with its default preset). ``model`` ("2614B" or "4200A") skips detection
    (:func:`guess_model`); ``options`` go to the driver (channel, timeout, ...).
    """
    if model is not None and model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, got {model!r}")
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
