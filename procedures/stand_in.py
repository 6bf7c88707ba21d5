"""Stand-ins: the simulated instrument of the same model in place of each real one.

    model = device_model(device)                    # "2614B", "4200A" or None, nothing opened
    plan = simulate_plan(plan, preset="bfo", seed=3)   # every device on the simulator, time scale 0
    target, model = simulate_target(Target("TCPIP0::10.0.0.5::5025::SOCKET"))   # the simulated 2614B

The model is decided from the plan and the resource name alone (a device's ``model`` key,
a LAN port, the simulator's own addresses): a dry run never opens a VISA resource.
"""
from __future__ import annotations

from dataclasses import replace

from labqc.instruments.connect import MODELS, SIM_2614B, SIM_4200A, model_from_name
from labqc.instruments.target import DEFAULT_PRESET, Target
from labqc.plan import Device, Plan, PlanError
from labqc.procedures.base import ParameterError

#: Where the simulated lab answers for each model.
STAND_INS = {"2614B": SIM_2614B, "4200A": SIM_4200A}


def device_model(device: Device) -> str | None:
    """The model of a device's instrument without opening it: its ``model`` key, else
    what the resource name tells; a device with no resource is the simulated 2614B."""
    if device.model:
        return device.model
    return resource_model(device.resource, simulated=bool(device.sim_preset))


def resource_model(resource: str, *, simulated: bool = False) -> str | None:
    """The model behind ``resource`` as far as its name tells (no resource: the built-in
    simulated 2614B)."""
    if not resource:
        return "2614B"
    return model_from_name(resource, simulated=simulated)


def unknown_model_sentence(what: str, resource: str, remedy: str) -> str:
    return (f"{what}: {resource} does not say whether it is a 2614B or a 4200A, and a dry run opens "
            f"nothing to ask; {remedy}")


def simulate_plan(plan: Plan, preset: str | None = None, seed: int | None = None) -> Plan:
    """``plan`` with every device replaced by the simulated instrument of its model, at
    time scale 0. ``preset``: the simulated device for all (default: each device's own
    ``sim_preset``, else bfo); ``seed``: device i gets ``seed + i`` (default: its own).
    Devices that would land on the same simulated device (instruments on the bench name no
    seed) get the next free seed, so each rehearses on a device of its own. PlanError names
    every device whose model cannot be told."""
    problems: list[str] = []
    devices: dict[str, Device] = {}
    taken: set[tuple[str, str, int]] = set()
    for index, device in enumerate(plan.devices):
        model = device_model(device)
        if model not in MODELS:
            problems.append(unknown_model_sentence(f"device {device.label}", device.resource,
                                                   'add model = "2614B" or "4200A" to its [[device]]')
                            if model is None else
                            f"device {device.label}: model must be one of {', '.join(MODELS)}, not {model!r}")
            continue
        device_preset = preset or device.sim_preset or DEFAULT_PRESET
        device_seed = device.seed if seed is None else seed + index
        while (model, device_preset, device_seed) in taken:  # two devices, two simulated devices
            device_seed += 1
        taken.add((model, device_preset, device_seed))
        devices[device.label] = replace(device, resource=STAND_INS[model], sim_preset=device_preset,
                                        seed=device_seed)
    if problems:
        raise PlanError(problems, "the dry run")
    runs = tuple(replace(run, device=devices[run.device.label]) for run in plan.runs)
    return replace(plan, runs=runs, devices=tuple(devices.values()), time_scale=0.0)


def simulate_target(target: Target, *, model: str | None = None, preset: str | None = None,
                    seed: int | None = None) -> tuple[Target, str]:
    """The simulated instrument of ``target``'s model in its place, time scale 0, and the
    model. ParameterError (one sentence) when the model cannot be told."""
    model = model or target.model or resource_model(target.resource, simulated=bool(target.preset))
    if model is None:
        raise ParameterError(unknown_model_sentence("labqc run --dry-run", target.resource,
                                                "give --model 2614B or --model 4200A"))
    if model not in MODELS:
        raise ParameterError(f"the model must be one of {', '.join(MODELS)}, not {model!r}")
    stand_in = Target(STAND_INS[model], preset or target.preset or DEFAULT_PRESET,
                      target.seed if seed is None else seed, 0.0, model=model)
    return stand_in, model


__all__ = ["device_model", "resource_model", "simulate_plan", "simulate_target", "STAND_INS"]
