"""Simulated devices by name and seed: same name and seed, same data."""
from __future__ import annotations

from instruments.sim.device import Device, Resistor

PRESETS = ("ohmic",)


def make_device(preset: str = "ohmic", seed: int = 0, **params: float) -> Device:
    """A fresh device of the named preset; ``params`` override the preset's parameters."""
    if preset == "ohmic":
        return Resistor(seed=seed, **params)
    raise ValueError(f"unknown simulated device {preset!r}; choose one of {', '.join(PRESETS)}")
