"""Run plans: a TOML file that sequences procedures over devices, parameter values and
repeats, expanded into a flat, deterministic list of step runs with stable ids.

    [plan]
    name = "demo"
    on_failure = "stop"              # default for every step: stop | skip-device | continue
    sample = "W3"                    # recorded with each run, like operator and note
    retries = 0                      # default: attempts after a failed one

    [[device]]                       # a resource, a probe position label, or both
    label = "A1"                     # also the device recorded with each run
    sample = "W3"                    # the sample it is on (default: sample in [plan])
    sim_preset = "bfo"               # simulator only; resource = "GPIB0::26::INSTR" on the bench
    seed = 1                         # model = "2614B" | "4200A" where the resource does not say

    [[step]]
    name = "cycles"
    procedure = "VoltageSweep"
    devices = ["A1"]                 # default: every device
    repeat = 2                       # default 1
    on_failure = "skip-device"
    retries = 1
    [step.parameters]
    cycles = 3
    step = 20                        # a number in the parameter's own unit, or "20 mV"
    [step.vary]                      # one run per value (several keys: every combination)
    set_compliance = ["2mA", "5mA"]
    [step.stop]                      # skip this step's remaining runs on this device when
    stuck_cycles = 5                 #   reads show no switching for 5 cycles in a row, or
    level_at_least = 3.0             #   the last read reaches 3 G0 (level_at_most: falls to)

Expansion order: step, then device, then vary values (the order written), then repeat.
A run's id (``003-cycles-A1-set_compliance=5mA-r2``) depends only on the plan text, so a
resumed plan finds its runs again.

:func:`load_plan` reads and validates the WHOLE plan before anything runs, collecting
every problem as one sentence in a :class:`PlanError`. This module does not import the
procedures: the caller passes a :class:`ProcedureSpecs` (labqc.procedures.spec.SPECS)
that names them, converts values (units and all) and judges them, by procedure name.
"""
from __future__ import annotations

import itertools
import math
import re
import sys
from pathlib import Path
from typing import Any, Mapping

# The model is re-exported here: callers import the plan's names from labqc.plan.
from labqc.plan_model import (DEVICE_KEYS, FAILURE_POLICIES, PLAN_KEYS, RUN_METADATA, STEP_KEYS,  # noqa: F401
                              STOP_KEYS, TARGET_KEYS, Device, Plan, PlanError, ProcedureSpecs, StepRun)
from labqc.stops import StopCondition, stop_reason, stuck_streak  # noqa: F401  (the plan's stop table)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

_SAFE = re.compile(r"[^A-Za-z0-9_.=+-]+")


# ---------------------------------------------------------------------- loading
def load_plan(path: str | Path, specs: ProcedureSpecs) -> Plan:
    """Read, validate and expand the plan at ``path``; PlanError lists every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError([f"cannot read {path}: {exc.strerror or exc}"], str(path)) from None
    except UnicodeDecodeError:
        raise PlanError([f"{path} is not UTF-8 text"], str(path)) from None
    return parse_plan(text, specs, source=str(path))


def parse_plan(text: str, specs: ProcedureSpecs, *, source: str = "the plan") -> Plan:
    """Validate and expand plan ``text`` (TOML); PlanError lists every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlanError([f"it is not valid TOML: {exc}"], source) from None
    problems: list[str] = []
    plan = _build(data, text, specs, problems)
    for device in plan.devices:
        sentence = specs.check_target(device.resource, device.sim_preset, device.seed, plan.time_scale)
        if sentence:
            problems.append(f"device {device.label}: {sentence}")
    if problems:
        raise PlanError(problems, source, plan)
    return plan


def _build(data: dict, text: str, specs: ProcedureSpecs, problems: list[str]) -> Plan:
    unknown = set(data) - {"plan", "device", "step"}
    for key in sorted(unknown):
        problems.append(f"unknown section [{key}] (a plan has [plan], [[device]] and [[step]])")
    head = data.get("plan", {})
    if not isinstance(head, dict):
        problems.append("[plan] must be a table")
        head = {}
    _unknown_keys(head, PLAN_KEYS, "[plan]", problems)
    default_policy = _policy(head.get("on_failure", "stop"), "[plan]", problems)
    default_retries = _count(head.get("retries", 0), "retries in [plan]", problems)
    time_scale = head.get("time_scale", 0.0)
    if not _is_number(time_scale) or not 0 <= time_scale <= 100:
        problems.append(f"time_scale in [plan] must be a number from 0 to 100, not {time_scale!r}")
        time_scale = 0.0

    devices = _devices(data.get("device", [{"label": "sim"}]), problems)
    meta = {key: head[key] for key in ("sample", "operator", "note") if key in head}
    for key, value in meta.items():
        if not isinstance(value, str):
            problems.append(f"{key} in [plan] must be text, not {value!r}")
    steps = data.get("step", [])
    if not isinstance(steps, list) or not steps:
        problems.append("the plan has no [[step]]; add at least one")
        steps = []
    runs: list[StepRun] = []
    names: set[str] = set()
    for number, step in enumerate(steps, start=1):
        runs.extend(_step_runs(number, step, devices, specs, default_policy,
                               default_retries, float(time_scale), names, problems, len(runs), meta))
    ids = [r.id for r in runs]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"two runs would share the id {dup}; give the steps distinct names")
    name = head.get("name", "plan")
    return Plan(name=str(name), text=text, runs=tuple(runs), devices=tuple(devices),
                time_scale=float(time_scale))


def _devices(raw: Any, problems: list[str]) -> list[Device]:
    if not isinstance(raw, list) or not raw:
        problems.append("[[device]] must be one or more tables with a label")
        return [Device("sim")]
    out: list[Device] = []
    for n, d in enumerate(raw, start=1):
        where = f"device {n}"
        if not isinstance(d, dict):
            problems.append(f"{where} must be a table")
            continue
        _unknown_keys(d, DEVICE_KEYS, where, problems)
        label = d.get("label", d.get("resource", ""))
        if not isinstance(label, str) or not label.strip():
            problems.append(f"{where} needs a label (a probe position) or a resource")
            label = f"device{n}"
        seed = d.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            problems.append(f"the seed of device {label} must be a whole number >= 0, not {seed!r}")
            seed = 0
        for key in ("resource", "sim_preset", "sample", "model"):
            if not isinstance(d.get(key, ""), str):
                problems.append(f"the {key} of device {label} must be text, not {d[key]!r}")
        params = d.get("parameters", {})
        if not isinstance(params, dict):
            problems.append(f"the parameters of device {label} must be a table")
            params = {}
        if any(dev.label == label for dev in out):
            problems.append(f"two devices are labelled {label}; labels must be unique")
        out.append(Device(label=label.strip(), resource=str(d.get("resource", "")),
                          sim_preset=str(d.get("sim_preset", "")), seed=int(seed), parameters=params,
                          sample=str(d.get("sample", "")), model=str(d.get("model", ""))))
    return out


def _step_runs(number: int, step: Any, devices: list[Device], specs: ProcedureSpecs,
               default_policy: str, default_retries: int,
               time_scale: float, names: set[str], problems: list[str], first_index: int,
               meta: Mapping[str, Any] | None = None) -> list[StepRun]:
    where = f"step {number}"
    if not isinstance(step, dict):
        problems.append(f"{where} must be a table")
        return []
    _unknown_keys(step, STEP_KEYS, where, problems)
    name = step.get("name", "")
    if name:
        if not isinstance(name, str):
            problems.append(f"the name of {where} must be text")
            name = ""
        elif name in names:
            problems.append(f"two steps are named {name!r}; step names must be unique")
        else:
            names.add(name)
        where = f"step {number} ({name})" if name else where
    proc_name = step.get("procedure")
    procedure = _procedure(proc_name, specs, where, problems)
    name = name or (str(proc_name) if proc_name else f"step{number}")
    policy = _policy(step.get("on_failure", default_policy), where, problems)
    retries = _count(step.get("retries", default_retries), f"retries in {where}", problems)
    if step.get("on_failure") == "retry":  # "retry" alone: at least one more attempt, then stop
        retries = max(retries, 1)
    repeat = _count(step.get("repeat", 1), f"repeat in {where}", problems, minimum=1)
    stop = _stop(step.get("stop", {}), where, problems)
    chosen = _choose_devices(step.get("devices"), devices, where, problems)
    params = step.get("parameters", {})
    vary = step.get("vary", {})
    if not isinstance(params, dict):
        problems.append(f"the parameters of {where} must be a table")
        params = {}
    if not isinstance(vary, dict):
        problems.append(f"the vary table of {where} must map parameters to lists of values")
        vary = {}
    for key, values in vary.items():
        if not isinstance(values, list) or not values:
            problems.append(f"vary.{key} in {where} must be a non-empty list of values")
    vary = {k: v for k, v in vary.items() if isinstance(v, list) and v}
    for key in sorted(set(params) & set(vary)):
        problems.append(f"{key} in {where} is both a fixed parameter and varied; keep one")
    for key in sorted((set(params) | set(vary)) & set(TARGET_KEYS)):
        problems.append(f"{key} in {where} belongs to a [[device]], not to a step")
    if procedure is None:
        return []
    if not chosen:  # still check the parameters, so that every problem is listed at once
        for combo in (list(itertools.product(*vary.values())) if vary else [()]):
            _check_parameters(specs, procedure, {**params, **dict(zip(vary.keys(), combo))}, where,
                              Device("(no device)"), problems, set())
        return []

    runs: list[StepRun] = []
    combos = list(itertools.product(*vary.values())) if vary else [()]
    reported: set[str] = set()
    for device in chosen:
        for combo in combos:
            values = dict(zip(vary.keys(), combo))
            for rep in range(1, repeat + 1):
                given = {**_run_metadata(specs.parameters(procedure), device, meta or {}), **device.parameters,
                         **params, **values}
                converted = _check_parameters(specs, procedure, given, where, device, problems, reported)
                index = first_index + len(runs)
                run_id = _run_id(index, name, device.label, values, rep, repeat)
                runs.append(StepRun(id=run_id, index=index, step=name, procedure=procedure,
                                    device=device, values=values, repeat=rep, parameters=converted,
                                    on_failure=policy, retries=retries, stop=stop,
                                    group=f"{name}/{device.label}"))
    return runs


def _run_metadata(parameters: list[str], device: Device, meta: Mapping[str, Any]) -> dict[str, str]:
    """The sample, device, operator and note a run records (the device is its label),
    for a procedure that takes them; a step's own parameters override them."""
    given = {**{k: str(v) for k, v in meta.items()}, "device": device.label}
    if device.sample:
        given["sample"] = device.sample
    return {k: v for k, v in given.items() if v and k in RUN_METADATA and k in parameters}


def _procedure(name: Any, specs: ProcedureSpecs, where: str, problems: list[str]) -> str | None:
    choices = ", ".join(specs.names())
    if not name:
        problems.append(f"{where} names no procedure; choose one of {choices}")
        return None
    try:
        return specs.lookup(str(name))
    except KeyError:
        problems.append(f"{where}: there is no procedure called {name!r}; choose one of {choices}")
        return None


def _choose_devices(names: Any, devices: list[Device], where: str, problems: list[str]) -> list[Device]:
    if names is None:
        return list(devices)
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not names:
        problems.append(f"devices in {where} must be a list of device labels")
        return []
    by_label = {d.label: d for d in devices}
    out = []
    for label in names:
        if label not in by_label:
            problems.append(f"{where} names the device {label!r}, which no [[device]] has; "
                            f"known: {', '.join(by_label)}")
        else:
            out.append(by_label[label])
    return out


def _check_parameters(specs: ProcedureSpecs, procedure: str, given: Mapping[str, Any], where: str,
                      device: Device, problems: list[str], reported: set[str]) -> dict[str, Any]:
    """Every given value, typed, and the procedure's own judgement of them; each problem
    is reported once per step (not once per device and value)."""
    def report(sentence: str) -> None:
        if sentence not in reported:
            reported.add(sentence)
            problems.append(sentence)

    converted, refused = specs.convert(procedure, given)
    for key, reason in refused:
        if reason is None:
            report(f"{where}: {procedure} has no parameter {key!r}; it has {', '.join(specs.parameters(procedure))}")
        else:
            report(f"{where}: {key} = {given[key]!r} {reason}")
    # Values that did not convert keep their (valid) defaults for the procedure's own check.
    sentence = specs.validate(procedure, converted)
    if sentence:
        on = "" if device.label.startswith("(") else f" on {device.label}"
        report(f"{where}{on}: {sentence}")
    return converted


def _stop(raw: Any, where: str, problems: list[str]) -> StopCondition:
    if not isinstance(raw, dict):
        problems.append(f"the stop table of {where} must be a table")
        return StopCondition()
    _unknown_keys(raw, STOP_KEYS, f"the stop table of {where}", problems)
    kw: dict[str, Any] = {}
    if "stuck_cycles" in raw:
        kw["stuck_cycles"] = _count(raw["stuck_cycles"], f"stop.stuck_cycles in {where}", problems, minimum=1)
    for key in ("min_ratio", "level_at_least", "level_at_most"):
        if key in raw:
            value = raw[key]
            if not _is_number(value) or not math.isfinite(value) or value <= 0:
                problems.append(f"stop.{key} in {where} must be a number > 0, not {value!r}")
            elif key == "min_ratio" and value <= 1:
                problems.append(f"stop.min_ratio in {where} must be > 1, not {value!r}")
            else:
                kw[key] = float(value)
    return StopCondition(**kw)


def _policy(value: Any, where: str, problems: list[str]) -> str:
    if value == "retry":  # "retry" alone: one more attempt, then stop
        return "stop"
    if value not in FAILURE_POLICIES:
        problems.append(f"on_failure in {where} must be one of {', '.join(FAILURE_POLICIES)} or retry, "
                        f"not {value!r}")
        return "stop"
    return value


def _count(value: Any, what: str, problems: list[str], minimum: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        problems.append(f"{what} must be a whole number >= {minimum}, not {value!r}")
        return minimum
    return value


def _unknown_keys(table: dict, known: tuple[str, ...], where: str, problems: list[str]) -> None:
    for key in table:
        if key not in known:
            problems.append(f"{where} has an unknown key {key!r}; known keys: {', '.join(known)}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _run_id(index: int, step: str, device: str, values: Mapping[str, Any], rep: int, repeats: int) -> str:
    parts = [f"{index + 1:03d}", step, device]
    parts += [f"{k}={_SAFE.sub('', str(v).replace(' ', ''))}" for k, v in values.items()]
    if repeats > 1:
        parts.append(f"r{rep}")
    return _SAFE.sub("_", "-".join(parts))


__all__ = ["Plan", "StepRun", "Device", "StopCondition", "PlanError", "load_plan", "parse_plan",
           "stop_reason", "stuck_streak", "FAILURE_POLICIES", "ProcedureSpecs"]
