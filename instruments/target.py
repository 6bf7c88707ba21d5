"""Where a run is measured: an instrument on the bench, or the simulated lab.

A :class:`Target` is chosen once, by whoever starts runs (``labqc run``'s ``--resource``,
``--sim``, ``--seed`` and ``--time-scale``; the dashboard's instrument box; a plan's
``[[device]]``), and handed to the runner, which opens it, checks every request against
the instrument it reaches, and closes it. Procedures never see it: they speak only the
source-measure interface (:mod:`labqc.instruments.smu`).

    Target()                                    # the built-in simulated 2614B, device bfo, seed 0
    Target(preset="ag-nanowire", seed=3)        # another simulated device
    Target("GPIB0::17::INSTR", preset="bfo")    # the simulated lab's 4200A-SCS
    Target("GPIB0::26::INSTR")                  # a 2614B on the bench
    with Target(preset="ohmic").session() as smu: ...
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any, Iterator

from labqc.instruments.connect import MODELS, SIM_2614B, open_smu
from labqc.instruments.sim.presets import PRESETS
from labqc.instruments.smu import SourceMeasure

#: The simulated device when none is named.
DEFAULT_PRESET = "bfo"
#: The fastest and slowest simulated clock (wall seconds per instrument second).
MAX_TIME_SCALE = 100.0


class TargetError(ValueError):
    """A target that cannot be opened as given; the message is one sentence."""


@dataclass(frozen=True)
class Target:
    """An instrument's VISA resource, or a simulated device, with how to open it.

    ``resource``: the VISA resource; empty means the built-in simulated 2614B.
    ``preset``: the simulated device; with a resource, that resource in the simulated lab
    (so ``Target("GPIB0::17::INSTR", preset="bfo")`` is the simulated 4200A-SCS).
    ``seed``, ``time_scale``: the simulated device's randomness and clock speed.
    ``visa_library``: a PyVISA library to use as it is (e.g. a simulator spec with faults).
    ``model``: "2614B" or "4200A" when the instrument should not be asked (*IDN?).
    ``faults``: simulator only, faults to inject as ``labqc sim serve --faults`` reads them.
    """

    resource: str = ""
    preset: str = ""
    seed: int = 0
    time_scale: float = 0.0
    visa_library: str | None = None
    model: str | None = None
    faults: str = ""

    def __post_init__(self) -> None:
        if self.model is not None and self.model not in MODELS:
            raise TargetError(f"the model must be one of {', '.join(MODELS)}, not {self.model!r}")
        if self.preset and self.preset not in PRESETS:
            raise TargetError(f"the simulated device must be one of {', '.join(PRESETS)}, not {self.preset!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise TargetError(f"the seed must be a whole number >= 0, not {self.seed!r}")
        if not (isinstance(self.time_scale, (int, float)) and math.isfinite(self.time_scale)
                and 0 <= self.time_scale <= MAX_TIME_SCALE):
            raise TargetError(f"the time scale must be from 0 to {MAX_TIME_SCALE:g}, not {self.time_scale!r}")
        if self.faults:
            from labqc.instruments.sim.lab import parse_faults

            try:
                parse_faults(self.faults)
            except ValueError as exc:
                raise TargetError(f"the faults {self.faults!r} cannot be read: {exc}") from None

    @property
    def simulated(self) -> bool:
        """True for the simulated lab (no resource, or a resource with a preset)."""
        return (not self.resource or bool(self.preset)) and self.visa_library is None \
            or (self.visa_library or "").endswith("@labqcsim")

    @property
    def device(self) -> str:
        """The simulated device (bfo when none was named)."""
        return self.preset or DEFAULT_PRESET

    def library(self) -> str | None:
        """The PyVISA library that reaches the target (None: PyVISA's default)."""
        if self.visa_library is not None:
            return self.visa_library
        if not self.resource or self.preset:
            from labqc.instruments.sim.lab import sim_library

            return sim_library(self.device, self.seed, float(self.time_scale), self.faults)
        return None

    def open(self, **options: Any) -> SourceMeasure:
        """Open the instrument (the caller closes it); ``options`` go to the driver."""
        return open_smu(self.resource or SIM_2614B, visa_library=self.library(), model=self.model, **options)

    @contextlib.contextmanager
    def session(self, **options: Any) -> Iterator[SourceMeasure]:
        """The open instrument, outputs off and closed on the way out."""
        smu = self.open(**options)
        try:
            yield smu
        finally:
            with contextlib.suppress(Exception):
                smu.output_off()
            with contextlib.suppress(Exception):
                smu.close()

    @property
    def label(self) -> str:
        """How a message names it: the resource, or 'the simulator'."""
        return self.resource or "the simulator"

    def describe(self, identity: str) -> str:
        """The instrument's identity, with the simulated device and seed when simulated."""
        if self.simulated:
            return f"{identity} (simulated, preset {self.device}, seed {self.seed})"
        return identity

    def record(self) -> dict[str, Any]:
        """What a results file records about the target (Resource, Simulator preset, Seed,
        Time scale: the names the header has always used)."""
        return {"Resource": self.resource, "Simulator preset": self.preset if self.simulated else "",
                "Seed": self.seed, "Time scale": self.time_scale}


__all__ = ["Target", "TargetError", "PRESETS", "DEFAULT_PRESET", "MAX_TIME_SCALE"]
