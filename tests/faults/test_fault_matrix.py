"""The fault matrix: every procedure x every fault we can inject, on the simulated 2614B
through PyVISA (in process) or through the loopback socket (a real `labqc run`
process that is signalled).

For each case: the instrument's outputs end off (read back from the emulator), every
reading the driver delivered before the fault is in the results file (the file is
compared with what the driver yielded, chunk by chunk), the message names the cause;
and, for run plans, the plan follows its failure policy (stop, skip the device, retry).

Faults are placed by a clean probe run of the same procedure on the same simulated
device (a reset lab repeats itself exactly): the reply-bearing message nearest the
middle of the run is the one delayed, garbled or truncated, so every fault lands
mid-run while the device is being driven.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labqc.instruments.connect import SIM_2614B
from labqc.instruments.smu import READING
from labqc.instruments.sim.lab import RES_2614B_LAN, SimulatedLab, get_lab, sim_library
from labqc.instruments.sim.server import start_background
from labqc.journal import JOURNAL_NAME, Journal
from labqc.results import read_data, read_summary
from labqc.procedures import PROCEDURES
from labqc.procedures.plan_runner import STEPS_DIR, plan_status, run_plan, start_plan
from labqc.procedures.runner import ABORTED, FAILED, FINISHED, Target, run_procedure

#: Small runs: a few dozen readings each.
SMALL = {
    "VoltageSweep": dict(cycles=1, step=100.0, v_set=1.0, v_reset=1.0),
    "CurrentSweep": dict(cycles=1, i_max=2e-6, i_step=100.0, rate=5000.0, nplc=0.1, reset=False),
    "SetReset": dict(cycles=2, step=200.0),
    "PulseTrain": dict(count=150, prepare=False),
    "Endurance": dict(cycles=3, step=200.0),
    "Retention": dict(duration=20.0, interval=0.5, prepare="none"),
}
NAMES = list(SMALL)
SEED = {name: 400 + k for k, name in enumerate(NAMES)}


def procedure(name: str, cls: type | None = None):
    return (cls or PROCEDURES[name])(**SMALL[name])


class DriverTap:
    """The SMU as the procedure sees it, keeping a copy of every reading it yields."""

    def __init__(self, smu) -> None:
        self.smu = smu
        self.chunks: list[np.ndarray] = []

    def __getattr__(self, name):
        return getattr(self.smu, name)

    def run(self, request):
        stream = self.smu.run(request)
        try:
            for chunk in stream:
                self.chunks.append(chunk.copy())
                yield chunk
        finally:
            stream.close()

    def read(self, *args, **kw):
        reading = self.smu.read(*args, **kw)
        self.chunks.append(reading.copy())
        return reading

    def delivered(self) -> np.ndarray:
        return np.concatenate(self.chunks) if self.chunks else np.zeros(0, READING)


@dataclass
class Probe:
    opened_at: int  # emulator messages after the session was opened
    messages: int  # messages of the clean run
    replies: list[int]  # message numbers (absolute) that were answered
    rows: int
    file_size: int

    def reply_near_middle(self) -> int:
        middle = self.opened_at + self.messages // 2
        return min((m for m in self.replies if m >= middle), default=self.replies[-1])


_probes: dict[str, Probe] = {}


def fresh_lab(name: str):
    lib = sim_library("bfo", SEED[name])
    lab = get_lab(lib)
    lab.reset()
    return lib, lab


def probe(name: str, tmp: Path) -> Probe:
    """A clean run: how many messages, which ones get a reply."""
    if name not in _probes:
        lib, lab = fresh_lab(name)
        proc = procedure(name)
        smu = Target(visa_library=lib).open()
        emu = lab.emulator(SIM_2614B)
        opened = emu.messages
        answered: list[int] = []
        original = emu.reply

        def reply(data):  # observe which message each reply answers
            answered.append(emu.messages)
            original(data)

        emu.reply = reply
        try:
            result = run_procedure(proc, tmp / f"probe-{name}.csv", smu=smu)
        finally:
            del emu.reply
            smu.close()
        assert result.status == FINISHED and not emu.any_output_on
        _probes[name] = Probe(opened, emu.messages - opened, sorted(set(a for a in answered if a > opened)),
                              result.rows, result.path.stat().st_size)
    return _probes[name]


def run_with_fault(name: str, path, *, kind: str | None = None, at: int = 0, cls=None, listeners=()):
    lib, lab = fresh_lab(name)
    proc = procedure(name, cls)
    smu = Target(visa_library=lib).open()
    emu = lab.emulator(SIM_2614B)
    if kind:
        emu.faults.add(kind, at=at, **({"seconds": 100.0} if kind == "delay" else {}))
    tap = DriverTap(smu)
    try:
        result = run_procedure(proc, path, smu=tap, listeners=listeners)
    finally:
        try:
            smu.close()
        except Exception:
            pass
    return result, tap, emu


def assert_file_holds(path, delivered: np.ndarray, *, exactly: bool = True) -> pd.DataFrame:
    """The file's readings are the driver's, in order: all of them (exactly) or a
    whole-chunk prefix (after a failed write)."""
    data = read_data(path)
    n = len(data)
    if exactly:
        assert n == len(delivered)
    else:
        assert n < len(delivered)
    np.testing.assert_array_equal(data["Voltage (V)"].to_numpy(), delivered["v"][:n])
    np.testing.assert_array_equal(data["Current (A)"].to_numpy(), delivered["i"][:n])
    np.testing.assert_array_equal(data["Source (V|A)"].to_numpy(), delivered["source"][:n])
    return data


# ------------------------------------------------------------------ instrument faults
#: fault -> (where it fires, words the message must contain)
INSTRUMENT_FAULTS = {
    "delay": ("reply", ("InstrumentTimeout", "did not answer")),
    "drop": ("middle", ("connection to", "lost at", "reconnected; output off")),
    "garble": ("reply", ("ProtocolError",)),
    # cut short: the reply never ends (a timeout), or the next one runs into it (a bad block)
    "truncate": ("reply", ("InstrumentTimeout|ProtocolError",)),
    "error": ("middle", ("InstrumentReportedError", "-286", "injected fault")),
    "busy": ("middle", ("InstrumentTimeout", "did not answer")),
}


@pytest.mark.parametrize("kind", list(INSTRUMENT_FAULTS))
@pytest.mark.parametrize("name", NAMES)
def test_instrument_fault(name, kind, tmp_path):
    p = probe(name, tmp_path)
    where, words = INSTRUMENT_FAULTS[kind]
    at = p.reply_near_middle() if where == "reply" else p.opened_at + p.messages // 2
    path = tmp_path / f"{name}-{kind}.csv"
    result, tap, emu = run_with_fault(name, path, kind=kind, at=at)
    assert result.status == FAILED, result
    assert not emu.any_output_on, emu.outputs_on()
    for word in words:  # "a|b": either
        assert any(w in result.error for w in word.split("|")), result.error
    assert_file_holds(path, tap.delivered())
    if kind == "error":  # noticed when the driver next reads the error queue (at the latest, the end)
        assert result.rows <= p.rows
    else:  # cut short: the fault really was mid-run
        assert result.rows < p.rows
    assert read_summary(path)["error"] == result.error


# ------------------------------------------------------------------ inside the process
def buggy(cls: type) -> type:
    """The procedure with a bug that strikes once rows are flowing."""

    class Buggy(cls):
        def emit_rows(self, frame):
            super().emit_rows(frame)
            self.batches = getattr(self, "batches", 0) + 1
            if self.batches == 2:
                raise ZeroDivisionError("a bug in the analysis")

    Buggy.__name__ = cls.__name__
    return Buggy


@pytest.mark.parametrize("name", NAMES)
def test_exception_inside_the_procedure(name, tmp_path):
    path = tmp_path / f"{name}-bug.csv"
    result, tap, emu = run_with_fault(name, path, cls=buggy(PROCEDURES[name]))
    assert result.status == FAILED and "ZeroDivisionError: a bug in the analysis" in result.error
    assert not emu.any_output_on
    assert_file_holds(path, tap.delivered())
    assert result.rows > 0


@pytest.mark.parametrize("name", NAMES)
def test_ctrl_c_in_process(name, tmp_path):
    """A real SIGINT, delivered while rows are flowing, with Python's own handler."""
    batches = []

    def press_ctrl_c(topic, payload):
        if topic == "batch":
            batches.append(len(payload))
            if len(batches) == 2:
                signal.raise_signal(signal.SIGINT)

    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        path = tmp_path / f"{name}-ctrlc.csv"
        result, tap, emu = run_with_fault(name, path, listeners=[press_ctrl_c])
    finally:
        signal.signal(signal.SIGINT, old)
    assert result.status == ABORTED and "stopped" in result.error
    assert not emu.any_output_on
    assert_file_holds(path, tap.delivered())
    assert read_summary(path)["status"] == "aborted"


# ------------------------------------------------------------------ disk full
@pytest.fixture
def small_disk(tmp_path):
    """A full file system: a 64 kB tmpfs filled up (needs root; the test frees what it
    wants); without mount rights, None (the test then uses /dev/full)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                        capture_output=True).returncode == 0 if os.geteuid() == 0 else False
    if not ok:
        yield None
        return
    try:
        fd = os.open(mount / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"\0" * 4096) == 4096:
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


@pytest.mark.parametrize("name", NAMES)
def test_disk_full(name, small_disk, tmp_path, monkeypatch):
    # The run catalog lives on another disk here: this test is about the results file.
    monkeypatch.setenv("LABQC_CATALOG", str(tmp_path / "catalog.sqlite"))
    if small_disk is None:
        # /dev/full refuses the header: the run must not start, nothing is energised.
        lib, lab = fresh_lab(name)
        with pytest.raises(OSError) as info:
            run_procedure(procedure(name), "/dev/full", target=Target(visa_library=lib))
        assert "No space left" in str(info.value)
        assert not lab.emulator(SIM_2614B).any_output_on
        return
    # Free about half of what the clean run writes, in whole pages: full mid-run.
    clean = probe(name, tmp_path).file_size
    filler = small_disk / "filler"
    os.truncate(filler, os.path.getsize(filler) - max(4096, clean // 2 // 4096 * 4096))
    path = small_disk / f"{name}.csv"
    result, tap, emu = run_with_fault(name, path)
    assert result.status == FAILED
    assert "No space left on device" in result.error and "outputs off" in result.error
    assert not emu.any_output_on
    data = assert_file_holds(path, tap.delivered(), exactly=False)
    assert len(data) == result.rows > 0
    assert path.read_bytes().endswith(b"\n")  # whole rows only


# ------------------------------------------------------------------ signals to `labqc run`
def cli_args(name: str) -> list[str]:
    out = []
    for key, value in SMALL[name].items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        out += [f"--{key.replace('_', '-')}", text]
    return out


@pytest.mark.parametrize("name, sig", [(n, signal.SIGTERM) for n in NAMES]
                         + [("PulseTrain", signal.SIGINT), ("Retention", signal.SIGINT)])
def test_signal_to_labqc_run(name, sig, tmp_path):
    """A `labqc run` process against the loopback server, signalled while the output is on."""
    seconds = procedure(name).estimated_duration()
    lab = SimulatedLab("bfo", seed=SEED[name], time_scale=min(1.5 / seconds, 100.0))
    server = start_background(lab, port_2614b=0, port_4200a=None)
    path = tmp_path / f"{name}-{sig.name}.csv"
    try:
        cmd = [sys.executable, "-m", "labqc.cli", "run", name, "--resource", server.resources["2614B"],
               "-o", str(path), "--no-progress", *cli_args(name)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        emu = None
        deadline = time.monotonic() + 60
        while True:  # signal it while the device is energised and rows are on disk
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the run never got going"
            emu = lab.emulator(RES_2614B_LAN)
            if emu.any_output_on and path.exists() and len(read_data(path)) > 0:
                break
            time.sleep(0.02)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 128 + sig, err
        assert f"{name} aborted" in err and "stopped before the end" in err
        assert not lab.emulator(RES_2614B_LAN).any_output_on
        data = read_data(path)
        summary = read_summary(path)
        assert summary["status"] == "aborted" and summary["rows"] == len(data) > 0
    finally:
        server.stop()


# ------------------------------------------------------------------ plans follow their policy
PLAN = """
[plan]
name = "policy"
on_failure = "{policy}"
retries = {retries}

[[device]]
label = "A"
sim_preset = "bfo"
seed = {seed_a}

[[device]]
label = "B"
sim_preset = "bfo"
seed = {seed_b}

[[step]]
name = "loops"
procedure = "VoltageSweep"
repeat = 2
[step.parameters]
cycles = 1
step = 100
v_set = 1.0
v_reset = 1.0
"""


@pytest.mark.parametrize("kind", ["delay", "drop", "garble", "error", "busy"])
@pytest.mark.parametrize("policy", ["stop", "skip-device", "retry"])
def test_plan_follows_its_failure_policy(kind, policy, tmp_path):
    name = "VoltageSweep"
    p = probe(name, tmp_path)
    seed_b = SEED[name] + 50
    text = PLAN.format(policy="stop" if policy == "retry" else policy, retries=1 if policy == "retry" else 0,
                       seed_a=SEED[name], seed_b=seed_b)
    plan_file = tmp_path / "plan.toml"
    plan_file.write_text(text)
    lib_a, lab_a = fresh_lab(name)
    lab_b = get_lab(sim_library("bfo", seed_b))
    lab_b.reset()
    directory = start_plan(plan_file, tmp_path / "run", check_instruments=False)
    where, words = INSTRUMENT_FAULTS[kind]
    at = p.reply_near_middle() if where == "reply" else p.opened_at + p.messages // 2
    lab_a.emulator(SIM_2614B).faults.add(kind, at=at, **({"seconds": 100.0} if kind == "delay" else {}))

    result = run_plan(directory, stream=None)

    state = Journal(directory / JOURNAL_NAME).state()
    ids = [f"00{k}-loops-{dev}-r{r}" for k, (dev, r) in enumerate([("A", 1), ("A", 2), ("B", 1), ("B", 2)], 1)]
    first = state.run(ids[0])
    assert first.ends[0]["status"] == FAILED and words[0] in first.ends[0]["error"]
    assert not lab_a.emulator(SIM_2614B).any_output_on and not lab_b.emulator(SIM_2614B).any_output_on
    failed_file = directory / STEPS_DIR / first.ends[0]["file"]
    assert len(read_data(failed_file)) == first.ends[0]["rows"] == read_summary(failed_file)["rows"]
    if policy == "stop":
        assert result.status == FAILED and ids[0] in result.message
        assert [state.run(i).status for i in ids] == ["failed", "pending", "pending", "pending"]
        assert "failed" in "\n".join(plan_status(directory))
        again = run_plan(directory, stream=None)  # the fault fired once: resume completes the plan
        state = Journal(directory / JOURNAL_NAME).state()
        assert again.status == FINISHED and all(state.run(i).status == FINISHED for i in ids)
        assert state.run(ids[0]).final["file"] == f"{ids[0]}.try2.csv"
    elif policy == "skip-device":
        assert result.status == FINISHED
        assert [state.run(i).status for i in ids] == ["failed", "skipped", "finished", "finished"]
        assert "device A is skipped" in state.run(ids[1]).final["reason"]
    else:
        assert result.status == FINISHED
        assert all(state.run(i).status == FINISHED for i in ids)
        assert first.attempts == 2 and first.final["file"] == f"{ids[0]}.try2.csv"
        assert len(read_data(directory / STEPS_DIR / first.final["file"])) == p.rows
    assert failed_file.exists()  # the failed attempt's file is kept
