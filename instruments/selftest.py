"""``labqc selftest``: the first thing to run on a new instrument, with a known resistor.

Every check goes through the source-measure interface (instruments/smu.py), so the same
list runs on a 2614B and on a 4200A-SCS; a few look further into one protocol (the TSP
error queue, the longest message labqc sends). Each check gives pass, fail or skip (the
instrument or the load cannot do it, said in one sentence), the value measured and the
value expected. Levels stay small: at most :data:`MAX_LEVEL` volts, and currents well
inside the load's own V/R, so the checks are safe for the resistor and the instrument.

What it answers that no document does (docs/keithley2614b.md, "Verified on the bench"):
whether a trigger timer's delay list steps through on the timer's own repeats
(``count > 1``), which uneven sampling and pulse trains with reads rely on; and whether
a message of the driver's longest length is accepted by the instrument's input buffer.
"""
from __future__ import annotations

import json
import math
import platform
import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from labqc.instruments.errors import CapabilityError
from labqc.instruments.smu import KIND_PULSE, KIND_READ, PulseTrain, Repeat, Sampling, SourceMeasure, Sweep
from labqc.quantity import format_quantity

#: Largest voltage any check applies to the load.
MAX_LEVEL = 0.5
#: Largest current any check lets through the load (the compliance of the Ohm's-law sweeps).
MAX_CURRENT = 1e-3
#: Relative agreement asked of a resistance measured against the stated load.
R_TOLERANCE = 0.05
#: Timing agreement of buffer timestamps with planned instants: absolute s, plus relative.
T_ABS, T_REL = 150e-6, 0.01

PASS, FAIL, SKIP = "pass", "fail", "skip"


@dataclass
class Check:
    name: str
    status: str  # PASS, FAIL or SKIP
    measured: str
    expected: str
    note: str = ""


@dataclass(frozen=True)
class Levels:
    """The drive levels for a load of ``load`` ohm: a sweep amplitude whose current stays
    below MAX_CURRENT / 2, and a compliance at half the current of that amplitude."""

    load: float
    v: float  # sweep amplitude, V
    compliance: float  # of the Ohm's-law checks, A

    @classmethod
    def for_load(cls, load: float) -> "Levels":
        if not (math.isfinite(load) and load > 0):
            raise ValueError(f"--load must be a resistance above 0 ohm, got {load!r}")
        v = min(MAX_LEVEL, 0.5 * MAX_CURRENT * load)
        return cls(load, v, min(MAX_CURRENT, 2 * v / load))

    @property
    def i(self) -> float:
        """The current at the sweep amplitude, A."""
        return self.v / self.load


Outcome = tuple[str, str, str, str]  # status, measured, expected, note
CheckFn = Callable[[SourceMeasure, Levels], Outcome]


def collect(smu: SourceMeasure, request) -> np.ndarray:
    chunks = [c for c in smu.run(request) if len(c)]
    return np.concatenate(chunks) if chunks else np.zeros(0)


def fitted_resistance(v: np.ndarray, i: np.ndarray) -> float:
    """Least-squares R through the origin: sum(V^2) / sum(V*I)."""
    return float(np.sum(v * v) / np.sum(v * i))


def _agree(measured: float, expected: float, rel: float = R_TOLERANCE) -> bool:
    return math.isfinite(measured) and abs(measured - expected) <= rel * abs(expected)


def _times_agree(measured: np.ndarray, planned: np.ndarray) -> bool:
    return len(measured) == len(planned) and bool(np.all(np.abs(measured - planned) <= T_ABS + T_REL * np.abs(planned)))


def _ms(values) -> str:
    return "[" + ", ".join(f"{1e3 * x:.3f}" for x in np.atleast_1d(values)) + "] ms"


# --- the checks -------------------------------------------------------------------------------
def check_identity(smu: SourceMeasure, lv: Levels) -> Outcome:
    """*IDN? names the model the driver is for; the options the driver read beside it."""
    model = "2614B" if "2614B" in smu.capabilities.model else "4200"
    extra = []
    if hasattr(smu, "linefreq"):  # 2614B: localnode.linefreq (NPLC -> seconds)
        extra.append(f"line {smu.linefreq:g} Hz")
    if hasattr(smu, "smus"):  # 4200A: what *OPT? listed
        extra.append(f"SMUs {smu.smus}, PMU {smu.capabilities.pulse_capable}, RPM {getattr(smu, 'rpm', None)}")
    ident = smu.identity.strip()
    return (PASS if model in ident.upper() else FAIL), "; ".join([ident] + extra), f"*IDN? naming the {model}", ""


def check_error_queue(smu: SourceMeasure, lv: Levels) -> Outcome:
    tsp = getattr(smu, "tsp", None)
    if tsp is not None:  # TSP: a deliberate syntax error must come back, then the queue is empty
        tsp.send("labqc_selftest = = 1")
        errors = tsp.drain_errors()
        left = tsp.error_count()
        ok = len(errors) == 1 and errors[0][0] == -285 and left == 0
        return (PASS if ok else FAIL), f"{errors}; then {left} left", "[(-285, ...)]; then 0 left", ""
    kxci = getattr(smu, "kxci", None)
    if kxci is not None:
        code, message = kxci.last_error()
        return (PASS if code == 0 else FAIL), f"{code}: {message}", "0 (no error since connect)", ""
    return SKIP, "", "", "this driver has no error queue labqc can read"


def check_message_size(smu: SourceMeasure, lv: Levels) -> Outcome:
    tsp = getattr(smu, "tsp", None)
    if tsp is None:
        return SKIP, "", "", "only TSP messages have a size limit labqc knows of"
    from labqc.instruments.tsp_format import MAX_MESSAGE_BYTES, MAX_TABLE_VALUES

    body = ", ".join(str(k) for k in range(1, MAX_TABLE_VALUES + 1))
    message = f"labqc_selftest = {{{body}}}"
    message += " --" + "x" * (MAX_MESSAGE_BYTES - len(message) - 3)  # padded to the limit
    tsp.send(message)
    reply = tsp.query(f"print(errorqueue.count, labqc_selftest[{MAX_TABLE_VALUES}]) labqc_selftest = nil")
    count, last = (float(x) for x in reply.split("\t"))
    ok = count == 0 and last == MAX_TABLE_VALUES
    return ((PASS if ok else FAIL), f"{len(message)} bytes: {int(count)} errors, last value {last:g}",
            f"{MAX_MESSAGE_BYTES} bytes: 0 errors, last value {MAX_TABLE_VALUES}",
            "" if ok else "the input buffer is smaller than labqc's longest message: report this")


def _amps(current: float, digits: int) -> str:
    """A current in the report with its SI prefix (50 µA), as labqc shows every value."""
    return format_quantity(float(current), "A", digits)


def check_spot_read(smu: SourceMeasure, lv: Levels) -> Outcome:
    r = smu.read(lv.v, compliance=lv.compliance, nplc=1.0)
    resistance = float(r["v"][0] / r["i"][0])
    return ((PASS if _agree(resistance, lv.load) else FAIL), f"{r['v'][0]:.6g} V / {_amps(r['i'][0], 6)} = "
            f"{resistance:.6g} ohm", f"{lv.load:.6g} ohm +-{R_TOLERANCE:.0%}", "")


def check_voltage_sweep(smu: SourceMeasure, lv: Levels) -> Outcome:
    levels = lv.v * np.array([0.2, 0.4, 0.6, 0.8, 1.0, 0.5, -0.2, -0.6, -1.0, -0.4])  # a list, not a ramp
    r = collect(smu, Sweep(levels, compliance=lv.compliance, step_time=20e-3, nplc=0.1))
    if len(r) != len(levels):
        return FAIL, f"{len(r)} readings", f"{len(levels)} readings", ""
    resistance = fitted_resistance(r["v"], r["i"])
    sources_ok = bool(np.allclose(r["source"], levels, rtol=1e-4, atol=1e-6))
    ok = _agree(resistance, lv.load) and sources_ok and not r["compliance"].any()
    return ((PASS if ok else FAIL), f"R = {resistance:.6g} ohm over +-{lv.v:g} V; source column "
            f"{'as sent' if sources_ok else 'differs'}; {int(r['compliance'].sum())} in compliance",
            f"{lv.load:.6g} ohm +-{R_TOLERANCE:.0%}; as sent; 0", "")


def check_current_sweep(smu: SourceMeasure, lv: Levels) -> Outcome:
    levels = lv.i * np.linspace(0.2, 1.0, 5)
    r = collect(smu, Sweep(levels, compliance=4 * lv.v, source="I", step_time=20e-3, nplc=0.1))
    if len(r) != len(levels):
        return FAIL, f"{len(r)} readings", f"{len(levels)} readings", ""
    resistance = fitted_resistance(r["v"], r["i"])
    return ((PASS if _agree(resistance, lv.load) else FAIL), f"R = {resistance:.6g} ohm sourcing up to "
            f"{_amps(lv.i, 4)}", f"{lv.load:.6g} ohm +-{R_TOLERANCE:.0%}", "")


def check_compliance(smu: SourceMeasure, lv: Levels) -> Outcome:
    limit = 0.5 * lv.i
    if limit < smu.capabilities.min_compliance:
        return SKIP, "", "", (f"the load is too high: half of {_amps(lv.i, 3)} is below the smallest compliance "
                              f"({_amps(smu.capabilities.min_compliance, 3)})")
    levels = lv.v * np.linspace(0.1, 1.0, 10)
    r = collect(smu, Sweep(levels, compliance=limit, step_time=20e-3, nplc=0.1))
    wanted = levels / lv.load
    over, under = wanted > 1.05 * limit, wanted < 0.95 * limit  # near the limit either is right
    clamped = r["i"][over] if len(r) == len(levels) else np.zeros(0)
    ok = (len(r) == len(levels) and bool(np.all(r["compliance"][over])) and not r["compliance"][under].any()
          and len(clamped) > 0 and bool(np.all(np.abs(clamped - limit) <= R_TOLERANCE * limit)))
    return ((PASS if ok else FAIL), f"limit {_amps(limit, 4)}: {int(r['compliance'].sum())} of {len(r)} points "
            f"flagged, clamped at {_amps(np.max(np.abs(r['i'])) if len(r) else float('nan'), 4)}",
            f"{int(over.sum())} to {len(levels) - int(under.sum())} flagged, clamped at {_amps(limit, 4)}", "")


def check_pulse_train(smu: SourceMeasure, lv: Levels) -> Outcome:
    width, period, read_width = 5e-3, 20e-3, 5e-3
    train = PulseTrain.uniform(lv.v, 3, width=width, period=period, compliance=lv.compliance,
                               read_level=lv.v / 2, read_width=read_width, nplc=0.01)
    r = collect(smu, train)
    pulses, reads = r[r["kind"] == KIND_PULSE], r[r["kind"] == KIND_READ]
    if len(pulses) != 3 or len(reads) != 3:
        return FAIL, f"{len(pulses)} pulse and {len(reads)} read readings", "3 and 3", ""
    spacing = np.concatenate([np.diff(pulses["t"]), np.diff(reads["t"])])
    offset = reads["t"] - pulses["t"]
    timing_ok = _times_agree(spacing, np.full(4, period)) and bool(np.all((offset > 0) & (offset < period)))
    levels_ok = (_agree(fitted_resistance(pulses["v"], pulses["i"]), lv.load)
                 and _agree(fitted_resistance(reads["v"], reads["i"]), lv.load))
    return ((PASS if timing_ok and levels_ok else FAIL),
            f"spacing {_ms(spacing)}, read after pulse {_ms(offset)}; R {'agrees' if levels_ok else 'differs'}",
            f"spacing {1e3 * period:g} ms each, read within the period; R {lv.load:.6g} ohm", "")


def check_sampling_timer(smu: SourceMeasure, lv: Levels) -> Outcome:
    """Uneven sampling instants: on the 2614B one timer with a delay list and count n, so
    the spacing shows whether the list steps through on the timer's own repeats."""
    times = np.array([0.02, 0.03, 0.06, 0.07, 0.12])
    request = Sampling(lv.v / 2, lv.compliance, times, nplc=0.01)
    try:
        smu.check(request)
    except CapabilityError:  # an instrument that samples more slowly (4200A user mode): 20x longer gaps
        times = 20 * times
        request = Sampling(lv.v / 2, lv.compliance, times, nplc=0.01)
    r = collect(smu, request)
    measured, planned = np.diff(r["t"]), np.diff(times)
    ok = _times_agree(measured, planned)
    note = "" if ok else ("the delay list did not step through on the timer's own repeats (all gaps equal?): "
                          "uneven sampling and pulse trains with reads are mistimed; report this")
    return (PASS if ok else FAIL), f"gaps {_ms(measured)}", f"gaps {_ms(planned)}", note


def check_repeat(smu: SourceMeasure, lv: Levels) -> Outcome:
    step_pulse = PulseTrain.uniform(lv.v, 1, width=5e-3, period=10e-3, compliance=lv.compliance, nplc=0.01)
    step_read = Sweep([lv.v / 2], compliance=lv.compliance, step_time=10e-3, nplc=0.01)
    r = collect(smu, Repeat((step_pulse, step_read), count=3))
    ok = len(r) == 6 and _agree(fitted_resistance(r["v"], r["i"]), lv.load)
    return ((PASS if ok else FAIL), f"{len(r)} readings, R {fitted_resistance(r['v'], r['i']) if len(r) else 0:.6g} ohm",
            f"6 readings, R {lv.load:.6g} ohm", "")


def check_output_off(smu: SourceMeasure, lv: Levels) -> Outcome:
    smu.output_off()
    tsp = getattr(smu, "tsp", None)
    if tsp is not None:
        states = tsp.query("print(smua.source.output, smub.source.output)").strip()
        ok = [float(x) for x in states.split("\t")] == [0.0, 0.0]
        return (PASS if ok else FAIL), f"smua, smub output = {states!r}", "0, 0", ""
    return PASS, "output_off() confirmed by the driver", "outputs off", ""


CHECKS: list[tuple[str, CheckFn]] = [
    ("identity and options", check_identity),
    ("error queue", check_error_queue),
    ("longest message and table literal", check_message_size),
    ("spot read (Ohm's law)", check_spot_read),
    ("voltage list sweep (Ohm's law)", check_voltage_sweep),
    ("current sweep (Ohm's law)", check_current_sweep),
    ("compliance on a current limit", check_compliance),
    ("three pulses with reads: timestamps", check_pulse_train),
    ("uneven sampling: timer delay list on its own repeats", check_sampling_timer),
    ("repeat (endurance batch)", check_repeat),
    ("output off read back", check_output_off),
]


def run_checks(smu: SourceMeasure, load: float) -> list[Check]:
    """Every check in turn; a request the driver refuses before sending anything skips
    that check, any other exception fails it (its message is the note), and the rest
    still run. The outputs are off at the end, whatever happened."""
    lv = Levels.for_load(load)
    results = []
    try:
        for name, fn in CHECKS:
            try:
                status, measured, expected, note = fn(smu, lv)
            except CapabilityError as exc:  # refused before anything was sent: this instrument cannot
                status, measured, expected, note = SKIP, "", "", str(exc)
            except Exception as exc:  # a failing check must not hide the others
                status, measured, expected, note = FAIL, "", "", f"{type(exc).__name__}: {exc}"
                try:
                    smu.output_off()
                except Exception:
                    pass
            results.append(Check(name, status, measured, expected, note))
    finally:
        smu.output_off()
    return results


def table(checks: list[Check]) -> str:
    """The checks as a plain-text table: status, name, measured, expected (and note)."""
    lines = []
    for c in checks:
        lines.append(f"{c.status.upper():4}  {c.name}")
        if c.measured or c.expected:
            lines.append(f"      measured: {c.measured}")
            lines.append(f"      expected: {c.expected}")
        if c.note:
            lines.append(f"      note: {c.note}")
    failed = sum(c.status == FAIL for c in checks)
    lines.append(f"{len(checks) - failed} of {len(checks)} checks did not fail"
                 + (f"; {failed} FAILED" if failed else ""))
    return "\n".join(lines)


def report(checks: list[Check], smu: SourceMeasure, resource: str, load: float) -> dict:
    """What a user attaches to a bug report."""
    return {
        "labqc_selftest": 1,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "resource": resource,
        "identity": smu.identity,
        "model": smu.capabilities.model,
        "load_ohm": load,
        "host": {"python": platform.python_version(), "platform": platform.platform()},
        "passed": all(c.status != FAIL for c in checks),
        "checks": [asdict(c) for c in checks],
    }


def write_report(data: dict, path) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
