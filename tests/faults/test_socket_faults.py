"""Faults the way a lab meets them: `labqc run` in its own process, pyvisa-py, a real TCP
socket to the simulated 2614B (the loopback server, in this process so the instrument's
timeline can be read; one test goes through `labqc sim serve` and its --faults).

Each case checks that the run ends within a bound, that one line names the cause, that
every row written is whole and equal to what the instrument delivered (the same device and
seed without the fault: the simulated lab repeats itself at time scale 0), and that the
output is off, on the instrument's timeline and read back by a new client.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import pyvisa

from labqc.instruments.keithley2614b import PROGRAM_SECONDS
from labqc.instruments.tsp_programs import PROGRAM_LIMIT
from labqc.instruments.sim.lab import RES_2614B_LAN, SimulatedLab
from labqc.instruments.sim.server import start_background
from labqc.results import read_data

ROOT = Path(__file__).resolve().parents[2]
PARAMS = {
    "VoltageSweep": ["--cycles", "1", "--step", "5", "--v-set", "1.0", "--v-reset", "1.0"],
    "Retention": ["--duration", "12", "--interval", "0.25", "--prepare", "none"],
    "Endurance": ["--method", "pulse", "--cycles", "40", "--stuck-cycles", "0"],
}
SEED = {"VoltageSweep": 31, "Retention": 32, "Endurance": 33}
#: Seconds a faulted run may take: its own length, a chunk timeout (2 x 0.5 s + 5 s), a 3 s
#: error-queue read, 3 s read-backs and up to 3 reconnections 2 s apart.
BOUND = 40.0


def labqc_run(name: str, resource: str, path: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "labqc", "run", name, "--resource", resource, "--model", "2614B",
           "-o", str(path), "--no-progress", *PARAMS[name], *extra]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def read_back(resource: str, timeout_s: float = 10.0) -> list[float]:
    """Both outputs as a new client reads them (after whatever program is running)."""
    rm = pyvisa.ResourceManager("@py")
    inst = rm.open_resource(resource, read_termination="\n", write_termination="\n",
                            timeout=int(timeout_s * 1000))
    try:
        return [float(x) for x in inst.query("print(smua.source.output, smub.source.output)").split("\t")]
    finally:
        inst.close()
        rm.close()


class Bench:
    """A fresh simulated lab on a loopback port."""

    def __init__(self, name: str, time_scale: float = 0.0) -> None:
        self.lab = SimulatedLab("bfo", seed=SEED[name], time_scale=time_scale)
        self.server = start_background(self.lab, port_2614b=0, port_4200a=None)
        self.resource = self.server.resources["2614B"]

    @property
    def emu(self):
        return self.lab.emulator(RES_2614B_LAN)

    def close(self) -> None:
        self.server.stop()


_clean: dict[str, tuple] = {}


def clean_run(name: str, tmp: Path):
    """The run without a fault: its rows, and per message the replies it got."""
    if name not in _clean:
        bench = Bench(name)
        replies: dict[int, int] = {}
        emu = bench.emu
        original = emu.reply

        def count(data):
            replies[emu.messages] = replies.get(emu.messages, 0) + 1
            original(data)

        emu.reply = count
        try:
            proc = labqc_run(name, bench.resource, tmp / f"clean-{name}.csv")
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
        finally:
            bench.close()
        _clean[name] = (read_data(tmp / f"clean-{name}.csv"), replies)
    return _clean[name]


def placement(replies: dict[int, int], where: str) -> tuple[int, int]:
    """(message, reply) for a fault among the messages that print readings (a streaming
    program, or a loop's count and block): "middle", the middle one at its middle reply;
    "late", the last one near its end."""
    readers = sorted(m for m, n in replies.items() if n >= 2)
    message = readers[(len(readers) - 1) // 2] if where == "middle" else readers[-1]
    k = replies[message] // 2 + 1 if where == "middle" else replies[message] - 1
    return message, max(k, 2)


def assert_one_line_names(err: str, name: str, cause: str) -> None:
    """The report's one line under "<Procedure> failed: ..." names the cause."""
    lines = err.splitlines()
    head = next(k for k, line in enumerate(lines) if line.startswith(f"{name} failed:"))
    assert re.search(cause, lines[head + 1]), err


def assert_rows_are_the_instruments(path: Path, clean) -> int:
    """Whole rows, each equal to the clean run's row at the same place."""
    text = path.read_text()
    assert text.endswith("\n")  # no half-written row
    data = read_data(path)
    n = len(data)
    assert n <= len(clean)
    for column in ("Voltage (V)", "Current (A)", "Source (V|A)"):
        np.testing.assert_array_equal(data[column].to_numpy(), clean[column].to_numpy()[:n])
    return n


#: fault -> (exit status, words of the one line that names the cause)
EXPECT = {
    "drop": (3, r"connection to TCPIP0::127\.0\.0\.1::\d+::SOCKET lost at \d\d:\d\d:\d\d after \d+ rows; "
                r"reconnected; output off"),
    "busy": (1, r"did not answer"),
    "garble": (1, r"ProtocolError"),
    "truncate": (1, r"InstrumentTimeout|ProtocolError"),
    "error": (1, r"InstrumentReportedError: instrument error -286"),
}
CASES = ([("VoltageSweep", kind, "middle") for kind in EXPECT]
         + [("VoltageSweep", kind, "late") for kind in ("drop", "error")]
         + [(name, kind, "middle") for name in ("Retention", "Endurance") for kind in ("drop", "busy", "garble")])


@pytest.mark.parametrize("name, kind, where", CASES)
def test_fault_over_a_real_socket(name, kind, where, tmp_path):
    clean, replies = clean_run(name, tmp_path)
    message, reply = placement(replies, where)
    bench = Bench(name)
    path = tmp_path / f"{name}-{kind}.csv"
    try:
        # busy and error strike the whole message; the others one reply of a streaming program
        bench.emu.faults.add(kind, at=message, reply=0 if kind in ("busy", "error") else reply)
        t0 = time.monotonic()
        proc = labqc_run(name, bench.resource, path)
        out, err = proc.communicate(timeout=BOUND + 30)
        took = time.monotonic() - t0
        status, cause = EXPECT[kind]
        assert took < BOUND, (took, err)
        assert proc.returncode == status, err
        assert_one_line_names(err, name, cause)
        rows = assert_rows_are_the_instruments(path, clean)
        if kind != "error":  # an error in the queue is noticed at the end; the others cut the run short
            assert rows < len(clean)
        assert not bench.emu.any_output_on
        assert read_back(bench.resource) == [0.0, 0.0]
    finally:
        bench.close()


def started(proc: subprocess.Popen, bench: Bench, path: Path, deadline_s: float = 60.0) -> None:
    """Wait until the output is on and rows are on disk."""
    deadline = time.monotonic() + deadline_s
    while True:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never got going"
        if bench.emu.any_output_on and path.exists() and len(read_data(path)) > 0:
            return
        time.sleep(0.02)


#: time scale per procedure: a few seconds of wall time per program
SCALE = {"VoltageSweep": 1.0, "Retention": 0.5, "Endurance": 1.0}
#: The 40-cycle endurance run (2.2 s) could end before the test, polling, saw its output on
#: with rows already on disk (seen in fresh-clone CI runs): the kill test runs it longer.
LONGER = {"Endurance": ("--cycles", "200")}


@pytest.mark.parametrize("name", list(PARAMS))
def test_kill_9_of_the_host_leaves_the_output_off_at_the_end_of_the_running_program(name, tmp_path):
    bench = Bench(name, time_scale=SCALE[name])
    path = tmp_path / f"{name}-kill.csv"
    try:
        proc = labqc_run(name, bench.resource, path, *LONGER.get(name, ()))
        started(proc, bench, path)
        os.kill(proc.pid, getattr(signal, "SIGKILL", signal.SIGTERM))
        proc.communicate(timeout=30)
        clock = bench.lab.clock
        with bench.emu.lock:
            end = max(bench.emu.busy_until, clock.now)  # the running program's planned end
            on_at_kill = bench.emu.smua.output_at(clock.now)
        assert on_at_kill  # the host died while the device was biased
        bound = PROGRAM_LIMIT if name == "VoltageSweep" else PROGRAM_SECONDS  # a sweep: programs of <= 30 s
        assert end - clock.now <= bound + 1.0
        wall = (end - clock.now) * clock.time_scale
        time.sleep(wall + 0.5)
        assert not bench.emu.any_output_on  # off on the instrument, with no host
        assert read_back(bench.resource) == [0.0, 0.0]
        assert path.read_text().endswith("\n")  # rows on disk are whole
    finally:
        bench.close()


@pytest.mark.parametrize("name", ["VoltageSweep", "Retention"])
def test_sigterm_while_the_instrument_does_not_answer_ends_within_10_s(name, tmp_path):
    clean, replies = clean_run(name, tmp_path)
    message, _ = placement(replies, "middle")
    bench = Bench(name, time_scale=0.0)
    path = tmp_path / f"{name}-busy-term.csv"
    try:
        bench.emu.faults.add("busy", at=message)
        proc = labqc_run(name, bench.resource, path)
        deadline = time.monotonic() + 60
        while not bench.emu.stuck:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(0.5)  # the run is now waiting on a silent instrument
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert time.monotonic() - t0 < 10.0
        assert proc.returncode in (128 + signal.SIGTERM, 4), err
        if proc.returncode == 4:
            assert "output state is unknown" in err
        else:
            assert "stopped before the end" in err and not bench.emu.any_output_on
        assert_rows_are_the_instruments(path, clean)
    finally:
        bench.close()


def test_labqc_sim_serve_drop_at_a_reply_ends_the_run_with_the_sentence(tmp_path):
    """The command-line path: `labqc sim serve --faults 2614B=drop@N.k`, `labqc run` over it."""
    clean, replies = clean_run("VoltageSweep", tmp_path)
    message, reply = placement(replies, "middle")
    serve = subprocess.Popen([sys.executable, "-m", "labqc", "sim", "serve", "--port-2614b", "0",
                              "--port-4200a", "0", "--device", "bfo", "--seed", str(SEED["VoltageSweep"]),
                              "--time-scale", "0", "--faults", f"2614B=drop@{message}.{reply}"],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        resource = None
        for line in serve.stdout:
            if line.startswith("2614B:"):
                resource = line.split(":", 1)[1].strip()
            if line.startswith("serving"):
                break
        assert resource, serve.stderr.read()
        path = tmp_path / "serve-drop.csv"
        proc = labqc_run("VoltageSweep", resource, path)
        out, err = proc.communicate(timeout=BOUND + 30)
        assert proc.returncode == 3, err
        assert_one_line_names(err, "VoltageSweep", EXPECT["drop"][1])
        assert assert_rows_are_the_instruments(path, clean) < len(clean)
        assert read_back(resource) == [0.0, 0.0]
    finally:
        serve.send_signal(signal.SIGTERM if hasattr(signal, "SIGTERM") else signal.SIGINT)
        serve.communicate(timeout=30)


def test_a_second_ctrl_c_ends_at_once_saying_the_output_state_is_unknown(tmp_path):
    clean, replies = clean_run("Retention", tmp_path)
    message, _ = placement(replies, "middle")
    bench = Bench("Retention", time_scale=0.0)
    path = tmp_path / "twice.csv"
    try:
        bench.emu.faults.add("busy", at=message)
        proc = labqc_run("Retention", bench.resource, path)
        deadline = time.monotonic() + 60
        while not bench.emu.stuck:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.5)  # the clean-up is now waiting on the silent instrument
        assert proc.poll() is None
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert time.monotonic() - t0 < 2.0
        assert proc.returncode == 128 + signal.SIGINT
        assert "second SIGINT" in err and "output state is unknown" in err
        assert_rows_are_the_instruments(path, clean)
    finally:
        bench.close()
