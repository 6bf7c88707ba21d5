"""The run plan's model: the plan, its devices and its expanded runs, the failure policies
and stop keys a plan may name, the problems of a plan that cannot run (:class:`PlanError`)
and what a plan asks of the procedures (:class:`ProcedureSpecs`). labqc.plan reads a
plan's TOML into these; the plan runner (labqc.procedures.plan_runner) runs them.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol

from labqc.stops import StopCondition

FAILURE_POLICIES = ("stop", "skip-device", "continue")
STOP_KEYS = ("stuck_cycles", "min_ratio", "level_at_least", "level_at_most")
PLAN_KEYS = ("name", "description", "on_failure", "retries", "time_scale", "sample", "operator", "note")
DEVICE_KEYS = ("label", "resource", "sim_preset", "seed", "parameters", "sample", "model")
#: Who and what was measured: recorded with each run when the procedure takes them.
RUN_METADATA = ("sample", "device", "operator", "note")
STEP_KEYS = ("name", "procedure", "devices", "repeat", "on_failure", "retries", "parameters",
             "vary", "stop")
#: Where a device is measured (the runner's Target); a step may not set them.
TARGET_KEYS = ("resource", "sim_preset", "seed")


class PlanError(ValueError):
    """A plan that cannot run; ``problems`` holds one sentence per problem; ``plan`` the
    runs that could be expanded (for a check that lists every problem at once), if any."""

    def __init__(self, problems: list[str], source: str = "the plan", plan: "Plan | None" = None) -> None:
        self.problems = list(problems)
        self.plan = plan
        head = f"{source} has {len(problems)} problem{'s' if len(problems) != 1 else ''}:"
        super().__init__("\n".join([head] + [f"  - {p}" for p in problems]))


@dataclass(frozen=True)
class Device:
    label: str
    resource: str = ""
    sim_preset: str = ""
    seed: int = 0
    parameters: Mapping[str, Any] = field(default_factory=dict)
    sample: str = ""
    model: str = ""  # "2614B" or "4200A" where the resource name does not tell (dry runs, checks)


@dataclass(frozen=True)
class StepRun:
    """One run of one procedure: the unit the runner executes, journals and resumes."""

    id: str
    index: int  # position in the expanded plan, from 0
    step: str  # the step's name
    procedure: str
    device: Device
    values: Mapping[str, Any]  # the vary values of this run (as written)
    repeat: int  # from 1
    parameters: Mapping[str, Any]  # converted values, every one the plan sets, device's included
    on_failure: str
    retries: int
    stop: StopCondition
    group: str  # runs of one step on one device share a group (stop conditions act on it)

    def describe(self) -> str:
        vals = " ".join(f"{k}={v}" for k, v in self.values.items())
        rep = f" repeat {self.repeat}" if self.repeat > 1 else ""
        return f"{self.procedure} on {self.device.label}" + (f" ({vals})" if vals else "") + rep


@dataclass(frozen=True)
class Plan:
    name: str
    text: str  # the TOML as read (copied into the run directory)
    runs: tuple[StepRun, ...]
    devices: tuple[Device, ...]
    time_scale: float = 0.0

    @property
    def digest(self) -> str:
        """A fingerprint of the plan text: a run directory only resumes the plan it ran."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:16]

    def run(self, run_id: str) -> StepRun:
        for r in self.runs:
            if r.id == run_id:
                return r
        raise KeyError(run_id)


class ProcedureSpecs(Protocol):
    """What a plan needs to know of the procedures, from the layer that has them."""

    def names(self) -> list[str]: ...

    def lookup(self, name: str) -> str:
        """The procedure's own name; KeyError when there is none."""

    def parameters(self, procedure: str) -> list[str]: ...

    def convert(self, procedure: str, given: Mapping[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str | None]]]:
        """Typed values, and (parameter, reason) for each that cannot be used (reason
        None: no such parameter)."""

    def validate(self, procedure: str, values: Mapping[str, Any]) -> str:
        """The procedure's refusal of these values (one sentence), or ""."""

    def check_target(self, resource: str, preset: str, seed: int, time_scale: float) -> str:
        """Why a device cannot be measured as given, or ""."""
