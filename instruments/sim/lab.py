"""The simulated lab: which emulated instrument answers at which VISA resource name.

One :class:`SimulatedLab` holds one virtual clock and the instruments on it, created
lazily the first time a resource is used:

    GPIB0::26::INSTR                   Keithley 2614B (TSP)
    TCPIP0::127.0.0.1::5025::SOCKET    the same 2614B, over its raw LAN socket
    GPIB0::17::INSTR                   Keithley 4200A-SCS, KXCI with GPIB framing
    TCPIP0::127.0.0.1::1225::SOCKET    Keithley 4200A-SCS, KXCI with Ethernet framing

The 4200A's framing (NUL terminators and ACKs on Ethernet, none on GPIB) is fixed when
its emulator is built, so its two resource names are two emulators that share one
simulated device: the device under test is the same, the KXCI session state (page,
ranges, error log) is per interface, as if each interface had its own KXCI instance.

PyVISA picks the lab through the library spec string (see :func:`sim_library`):
``"preset=bfo;seed=3;time_scale=0@labqcsim"``. Every ResourceManager opened with the same
spec shares one lab (:func:`get_lab`), so a test can reach the instrument a driver is
talking to and read, say, ``lab.emulator("GPIB0::26::INSTR").outputs_on()``.
"""
from __future__ import annotations

import functools

import threading
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from labqc.instruments.sim.clock import VirtualClock
from labqc.instruments.sim.emulator import Emulator
from labqc.instruments.sim.faults import FaultPlan
from labqc.instruments.sim.presets import make_device

RES_2614B_GPIB = "GPIB0::26::INSTR"
RES_2614B_LAN = "TCPIP0::127.0.0.1::5025::SOCKET"
RES_4200A_GPIB = "GPIB0::17::INSTR"
RES_4200A_LAN = "TCPIP0::127.0.0.1::1225::SOCKET"

#: Short names accepted wherever a resource name is (fault plans on the command line).
ALIASES = {
    "2614B": (RES_2614B_GPIB,),
    "4200A": (RES_4200A_GPIB, RES_4200A_LAN),
}

DEFAULT_PRESET = "bfo"


class ResourceNotFound(LookupError, ValueError):
    """No simulated instrument answers at this resource name."""


@functools.lru_cache(maxsize=256)  # called on every I/O by the backend; parsing costs ~30 µs
def normalize_resource(name: str) -> str:
    """The canonical form of a VISA resource name, as PyVISA prints it: upper case,
    board number filled in (``GPIB::26::INSTR`` -> ``GPIB0::26::INSTR``), localhost
    spelled 127.0.0.1. Raises ValueError for a name PyVISA cannot parse."""
    from pyvisa import rname

    text = name.strip().upper().replace("::LOCALHOST::", "::127.0.0.1::")
    try:
        return str(rname.parse_resource_name(text))
    except rname.InvalidResourceName as exc:
        raise ValueError(str(exc)) from None


@dataclass
class _Slot:
    """One emulator and the resource names it answers at."""

    names: tuple[str, ...]
    build: Callable[["SimulatedLab", FaultPlan], Emulator]
    emulator: Emulator | None = None
    faults: list[str] = field(default_factory=list)  # plan texts, applied when built


class SimulatedLab:
    """A virtual clock and the emulated instruments on it, by resource name."""

    def __init__(self, preset: str = DEFAULT_PRESET, seed: int = 0, time_scale: float = 0.0,
                 faults: dict[str, str] | None = None) -> None:
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a whole number >= 0, got {seed!r}")
        _check_preset(preset)
        self.preset = preset
        self.seed = int(seed)
        self.clock = VirtualClock(time_scale)
        self._lock = threading.RLock()
        self._slots: list[_Slot] = []
        self._by_name: dict[str, _Slot] = {}
        self._add_builtin_instruments()
        for resource, plan in (faults or {}).items():
            self.add_faults(resource, plan)

    # --- instruments ----------------------------------------------------------------------
    def _add_builtin_instruments(self) -> None:
        def k2614b(lab: SimulatedLab, plan: FaultPlan) -> Emulator:
            from labqc.instruments.sim.tsp2614b import K2614BEmulator

            return K2614BEmulator(lab.device_for("2614B"), lab.clock, faults=plan)

        shared_4200a: dict[str, object] = {}

        def k4200a(framing: str) -> Callable[[SimulatedLab, FaultPlan], Emulator]:
            def build(lab: SimulatedLab, plan: FaultPlan) -> Emulator:
                from labqc.instruments.sim.kxci4200a import K4200AEmulator

                # Both interfaces probe the one device under test (see the module docstring).
                if "device" not in shared_4200a:
                    shared_4200a["device"] = lab.device_for("4200A")
                return K4200AEmulator(shared_4200a["device"], lab.clock, faults=plan, framing=framing)

            return build

        self._shared_4200a = shared_4200a
        self.add_instrument((RES_2614B_GPIB, RES_2614B_LAN), k2614b)
        self.add_instrument((RES_4200A_GPIB,), k4200a("gpib"))
        self.add_instrument((RES_4200A_LAN,), k4200a("ethernet"))

    def add_instrument(self, names: tuple[str, ...] | list[str],
                       build: Callable[["SimulatedLab", FaultPlan], Emulator]) -> None:
        """Put an emulator at ``names``; ``build(lab, faults)`` makes it (again after reset).

        The built-in instruments are added this way; tests use it for small emulators
        that exercise the transports on their own."""
        slot = _Slot(tuple(normalize_resource(n) for n in names), build)
        with self._lock:
            for name in slot.names:
                old = self._by_name.get(name)
                if old is not None:  # a new instrument at a name replaces the old one there
                    old.names = tuple(n for n in old.names if n != name)
                self._by_name[name] = slot
            self._slots.append(slot)

    def device_for(self, instrument: str):
        """A fresh device for one instrument: the same (preset, seed, instrument) always
        gives the same device, and different instruments get independent ones."""
        tag = sum(ord(c) << (8 * k) for k, c in enumerate(instrument))
        derived = int(np.random.SeedSequence([self.seed, tag]).generate_state(1)[0])
        return make_device(self.preset, seed=derived)

    def _slot(self, resource: str) -> _Slot:
        try:
            key = normalize_resource(resource)
        except ValueError:
            raise ResourceNotFound(f"{resource!r} is not a VISA resource name") from None
        slot = self._by_name.get(key)
        if slot is None:
            raise ResourceNotFound(
                f"no simulated instrument at {resource}; the lab has {', '.join(self.resources())}")
        return slot

    def emulator(self, resource: str) -> Emulator:
        """The emulator answering at ``resource`` (built on first use)."""
        with self._lock:
            slot = self._slot(resource)
            if slot.emulator is None:
                slot.emulator = slot.build(self, _plan(slot.faults))
            return slot.emulator

    def canonical(self, resource: str) -> str:
        """The resource name as the lab lists it; ResourceNotFound if nothing is there."""
        with self._lock:
            slot = self._slot(resource)
            return next(n for n in slot.names if n == normalize_resource(resource))

    def resources(self) -> tuple[str, ...]:
        """Every resource name the lab answers at."""
        with self._lock:
            return tuple(name for slot in self._slots for name in slot.names)

    # --- faults -----------------------------------------------------------------------------
    def add_faults(self, resource: str, plan: str) -> None:
        """Schedule faults (``kind@N[:value],...``, see labqc.instruments.sim.faults) on the
        instrument at ``resource`` (or an alias: ``2614B``, ``4200A``). Messages are
        counted per emulator from when it is built."""
        FaultPlan.parse(plan)  # fail now, with the fault's own sentence, if it is malformed
        names = ALIASES.get(resource.strip().upper(), (resource,))
        with self._lock:
            for name in names:
                slot = self._slot(name)
                slot.faults.append(plan)
                if slot.emulator is not None:
                    for fault in FaultPlan.parse(plan).pending:
                        slot.emulator.faults.add(**asdict(fault))

    # --- life cycle -------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to a fresh lab: clock at 0, every instrument rebuilt on next use with a fresh
        device and the fault plans it was configured with (faults added to an emulator
        object directly in a test are gone)."""
        with self._lock:
            self.clock.reset()
            self._shared_4200a.clear()
            for slot in self._slots:
                slot.emulator = None


def _plan(texts: list[str]) -> FaultPlan:
    return FaultPlan(f for text in texts for f in FaultPlan.parse(text).pending)


# --- the PyVISA library spec ------------------------------------------------------------------
BACKEND = "labqcsim"
_SPEC_KEYS = ("preset", "seed", "time_scale", "faults")


def sim_library(preset: str = DEFAULT_PRESET, seed: int = 0, time_scale: float = 0.0,
                faults: str | dict[str, str] = "") -> str:
    """The ``visa_library`` value that opens this simulated lab, for PyVISA and PyMeasure:

    >>> sim_library("bfo", 3)
    'preset=bfo;seed=3;time_scale=0@labqcsim'

    ``faults`` maps resource names (or 2614B/4200A) to fault plans, as a dict or as text
    ``RESOURCE=kind@N[:value],...|RESOURCE=...``, e.g.
    ``"GPIB0::26::INSTR=delay@5:10,drop@12|4200A=error@3:-286"``.
    """
    if isinstance(faults, dict):
        faults = "|".join(f"{res}={plan}" for res, plan in faults.items())
    spec = {"preset": preset, "seed": int(seed), "time_scale": float(time_scale), "faults": faults}
    _check(spec)
    parts = [f"preset={preset}", f"seed={int(seed)}", f"time_scale={float(time_scale):g}"]
    if faults:
        parts.append(f"faults={faults}")
    return ";".join(parts) + "@" + BACKEND


def parse_spec(path: str) -> dict:
    """Read a spec (with or without ``@labqcsim``) into preset, seed, time_scale, faults
    (a dict resource -> plan). Empty fields take their defaults; a bad one raises
    ValueError with one sentence."""
    text = path.strip()
    if text.endswith("@" + BACKEND):
        text = text[: -len(BACKEND) - 1]
    if text == "unset":  # what PyVISA passes when a backend is chosen without a path
        text = ""
    spec: dict = {"preset": DEFAULT_PRESET, "seed": 0, "time_scale": 0.0, "faults": {}}
    for item in filter(None, (s.strip() for s in text.split(";"))):
        key, eq, value = item.partition("=")
        key = key.strip().lower()
        if not eq or key not in _SPEC_KEYS:
            raise ValueError(f"cannot read {item!r} in the simulator spec {path!r}; "
                             f"use key=value with keys {', '.join(_SPEC_KEYS)}")
        value = value.strip()
        if not value:
            continue
        try:
            if key == "seed":
                spec["seed"] = int(value)
            elif key == "time_scale":
                spec["time_scale"] = float(value)
            elif key == "preset":
                spec["preset"] = value
            else:
                spec["faults"] = parse_faults(value)
        except ValueError as exc:
            raise ValueError(f"bad {key} in the simulator spec {path!r}: {exc}") from None
    _check(spec)
    return spec


def parse_faults(text: str) -> dict[str, str]:
    """Read ``RESOURCE=kind@N[:value],...|RESOURCE=...`` into a dict resource -> plan."""
    faults: dict[str, str] = {}
    for item in filter(None, (s.strip() for s in text.split("|"))):
        # The resource name itself contains "::" but never "=", so the last "=" splits.
        resource, eq, plan = item.rpartition("=")
        if not eq or not resource.strip():
            raise ValueError(f"{item!r} should read RESOURCE=kind@N[:value],...")
        FaultPlan.parse(plan)
        key = resource.strip()
        faults[key] = f"{faults[key]},{plan}" if key in faults else plan
    return faults


def _check_preset(preset: str) -> None:
    from labqc.instruments.sim.presets import PRESETS

    if preset not in PRESETS:
        raise ValueError(f"unknown simulated device {preset!r}; choose one of {', '.join(PRESETS)}")


def _check(spec: dict) -> None:
    _check_preset(spec["preset"])
    if spec["seed"] < 0:
        raise ValueError(f"seed must be >= 0, got {spec['seed']}")
    VirtualClock(spec["time_scale"])  # validates with its own sentence
    faults = spec["faults"]
    if isinstance(faults, str):
        faults = parse_faults(faults)
    for plan in faults.values():
        FaultPlan.parse(plan)


def _key(spec: dict) -> tuple:
    return (spec["preset"], spec["seed"], spec["time_scale"], tuple(sorted(spec["faults"].items())))


_LABS: dict[tuple, SimulatedLab] = {}
_LABS_LOCK = threading.Lock()


def get_lab(spec_or_path: str = "") -> SimulatedLab:
    """The one lab for a spec: every ResourceManager opened with an equivalent spec (same
    fields, any order or spelling) shares it."""
    spec = parse_spec(spec_or_path)
    key = _key(spec)
    with _LABS_LOCK:
        lab = _LABS.get(key)
        if lab is None:
            lab = SimulatedLab(spec["preset"], spec["seed"], spec["time_scale"], spec["faults"])
            _LABS[key] = lab
        return lab


def reset_all() -> None:
    """Reset every lab made through :func:`get_lab` to a fresh state (for tests)."""
    with _LABS_LOCK:
        labs = list(_LABS.values())
    for lab in labs:
        lab.reset()
