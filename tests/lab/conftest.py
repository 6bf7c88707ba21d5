"""A lab on one machine: PyLECO's coordinator and simulated stations, each a real
`python -m labqc ...` process on 127.0.0.1, killed in the fixtures' finally."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_pair() -> int:
    """A free port N with N - 1 free too (the data proxy's two ports)."""
    for _ in range(100):
        port = free_port()
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", port - 1))
            return port
        except OSError:
            continue
    raise RuntimeError("no two neighbouring free ports on 127.0.0.1")


def wait_for(check: Callable[[], object], timeout: float, what: str, step: float = 0.2) -> object:
    """``check()`` until it returns something true; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(step)


class Lab:
    """The processes of a lab on one machine, and how to start more."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.data_port = free_pair()
        self.procs: dict[str, subprocess.Popen] = {}
        self.env = {**os.environ, "LABQC_LAB": str(tmp / "lab"), "PYTHONUNBUFFERED": "1"}
        self.env.pop("LABQC_CATALOG", None)

    def spawn(self, key: str, *args: str) -> subprocess.Popen:
        log = open(self.tmp / f"{key}.log", "ab")
        proc = subprocess.Popen([sys.executable, "-m", "labqc", *args], cwd=ROOT, env=self.env,
                                stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.procs[key] = proc
        return proc

    def start_coordinator(self) -> None:
        log = self.tmp / "coordinator.log"
        seen = log.stat().st_size if log.exists() else 0  # a restart appends to the same log
        self.spawn("coordinator", "lab", "coordinator", "--port", str(self.port), "--data-port", str(self.data_port))
        wait_for(lambda: b"ready" in log.read_bytes()[seen:], 60, "the coordinator")

    def start_station(self, name: str, preset: str, trust: str = "alice") -> subprocess.Popen:
        return self.spawn(name, "station", "serve", "--name", name, "--sim", preset, "--coordinator", self.address,
                          "--trust", trust, "--data-port", str(self.data_port), "--home", str(self.tmp / "stations" / name))

    def kill(self, key: str) -> None:
        proc = self.procs.pop(key, None)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=20)

    def close(self) -> None:
        for key in list(self.procs):
            self.kill(key)


@pytest.fixture(scope="package")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A coordinator and two simulated stations, nw (ag-nanowire) and bf (bfo), trusting alice."""
    from labqc.procedures.station_director import LabDirector

    the_lab = Lab(tmp_path_factory.mktemp("lab"))
    try:
        the_lab.start_coordinator()
        the_lab.start_station("nw", "ag-nanowire")
        the_lab.start_station("bf", "bfo")
        with LabDirector("watcher", "127.0.0.1", the_lab.port, lab=the_lab.tmp / "lab") as d:
            wait_for(lambda: {s["name"] for s in d.status(["nw", "bf"]) if s["state"] != "offline"} == {"nw", "bf"},
                     60, "both stations to sign in")
        yield the_lab
    finally:
        the_lab.close()
