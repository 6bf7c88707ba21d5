"""A pytest plugin: the simulated lab as fixtures, for a lab's own tests (in CI too).

Installed with labqc, pytest loads it by itself (the ``pytest11`` entry point, like
pytest-qt); without the entry point: ``pytest -p labqc.instruments.sim.pytest_plugin``.

``sim_server`` (session): ``labqc sim serve`` in its own process on free loopback ports,
for the whole session; yields ``{"2614B": resource, "4200A": resource}``, VISA names any
PyVISA client (pyvisa-py) opens like hardware::

    def test_my_driver_talks(sim_server):
        smu = open_smu(sim_server["2614B"])

``sim_smu``: an opened simulated source-measure unit on a fresh simulated device (in
process, through PyVISA's ``@labqcsim`` backend), closed with its output off afterwards;
``sim_target``: the same as a Target, for ``run_procedure(proc, path, target=sim_target)``.
The device comes from a marker or an indirect parameter (both: the parameter wins)::

    @pytest.mark.labqc_sim(preset="ag-nanowire", seed=3, model="4200A")
    def test_forming(sim_smu): ...

    @pytest.mark.parametrize("sim_smu", ["bfo", {"preset": "ohmic", "seed": 1}], indirect=True)
    def test_reads(sim_smu): ...

Defaults: preset bfo, seed 0, model 2614B. The server's device and seed come from
``--labqc-sim-preset`` and ``--labqc-sim-seed`` (default bfo, 0), at time scale 0.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
from typing import Any, Iterator

import pytest

DEFAULTS = {"preset": "bfo", "seed": 0, "model": "2614B"}
#: Wall seconds `labqc sim serve` may take to start listening.
START_TIMEOUT = 60.0


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("labqc", "labqc simulated lab")
    group.addoption("--labqc-sim-preset", default=DEFAULTS["preset"], metavar="PRESET",
                    help="simulated device of the sim_server fixture (default: bfo)")
    group.addoption("--labqc-sim-seed", type=int, default=DEFAULTS["seed"], metavar="N",
                    help="seed of the sim_server fixture's device (default: 0)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "labqc_sim(preset='bfo', seed=0, model='2614B'): the simulated "
                                       "device and instrument of the sim_smu fixture")


@pytest.fixture(scope="session")
def sim_server(pytestconfig: pytest.Config) -> Iterator[dict[str, str]]:
    """`labqc sim serve` on free loopback ports for the session: {model: VISA resource}."""
    server = SimServer(pytestconfig.getoption("--labqc-sim-preset"), pytestconfig.getoption("--labqc-sim-seed"))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def sim_target(request: pytest.FixtureRequest) -> Any:
    """A :class:`~labqc.instruments.target.Target` on a fresh simulated device (marker
    ``labqc_sim`` or an indirect parameter), for ``run_procedure(..., target=sim_target)``."""
    return fresh_target(sim_choice(request))


@pytest.fixture
def sim_smu(request: pytest.FixtureRequest) -> Iterator[Any]:
    """An opened simulated SMU on a fresh device (marker ``labqc_sim`` or an indirect parameter)."""
    with fresh_target(sim_choice(request)).session() as smu:  # output off and closed afterwards
        yield smu


def fresh_target(choice: dict[str, Any]) -> Any:
    """The simulated instrument ``choice`` names, its device as the preset makes it."""
    from labqc.instruments.connect import SIM_2614B, SIM_4200A
    from labqc.instruments.sim.lab import get_lab
    from labqc.instruments.target import Target

    resource = {"2614B": SIM_2614B, "4200A": SIM_4200A}[choice["model"]]
    target = Target(resource, choice["preset"], choice["seed"], 0.0, model=choice["model"])
    get_lab(target.library()).reset()  # every test starts from the same device state
    return target


def sim_choice(request: pytest.FixtureRequest) -> dict[str, Any]:
    """preset, seed and model for ``sim_smu``: defaults, then the marker, then the parameter."""
    choice = dict(DEFAULTS)
    marker = request.node.get_closest_marker("labqc_sim")
    if marker is not None:
        choice.update(_choice(marker.kwargs, *marker.args))
    param = getattr(request, "param", None)
    if param is not None:
        choice.update(_choice(param) if isinstance(param, dict) else _choice({}, param))
    choice["seed"] = int(choice["seed"])
    if choice["model"] not in ("2614B", "4200A"):
        raise pytest.UsageError(f"labqc_sim: model must be 2614B or 4200A, not {choice['model']!r}")
    return choice


def _choice(kwargs: dict, *args: Any) -> dict[str, Any]:
    unknown = set(kwargs) - set(DEFAULTS)
    if unknown:
        raise pytest.UsageError(f"labqc_sim takes preset, seed and model, not {', '.join(sorted(unknown))}")
    out = dict(kwargs)
    if args:
        out["preset"] = args[0]
    return out


class SimServer:
    """`python -m labqc sim serve` on ports the system picks, read back from its output."""

    def __init__(self, preset: str = "bfo", seed: int = 0) -> None:
        self.preset = preset
        self.seed = int(seed)
        self.process: subprocess.Popen | None = None
        self.resources: dict[str, str] = {}
        self._errors: Any = None

    def start(self) -> dict[str, str]:
        cmd = [sys.executable, "-m", "labqc", "sim", "serve", "--port-2614b", "0", "--port-4200a", "0",
               "--device", self.preset, "--seed", str(self.seed), "--time-scale", "0"]
        self._errors = tempfile.TemporaryFile(mode="w+")  # a file, not a pipe: it never fills and blocks
        self.process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._errors, text=True,
                                        env={**os.environ, "PYTHONUNBUFFERED": "1"})
        lines: list[str] = []
        ready = threading.Event()
        reader = threading.Thread(target=self._read, args=(lines, ready), daemon=True)
        reader.start()
        if not ready.wait(START_TIMEOUT) or "4200A" not in self.resources or "2614B" not in self.resources:
            self._terminate()
            self._errors.seek(0)
            err = self._errors.read()
            self.stop()
            raise RuntimeError(f"labqc sim serve did not start: {' '.join(lines + [err]).strip() or 'no output'}")
        return dict(self.resources)

    def _read(self, lines: list[str], ready: threading.Event) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:  # "2614B: TCPIP0::127.0.0.1::PORT::SOCKET", then "serving on ..."
            lines.append(line.strip())
            model, _, resource = line.strip().partition(": ")
            if model in ("2614B", "4200A") and resource.startswith("TCPIP"):
                self.resources[model] = resource
            if line.startswith("serving on"):
                break
        ready.set()  # ready, or the process ended: start() tells which

    def stop(self) -> None:
        """End the server and release its pipes."""
        self._terminate()
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        if self._errors is not None:
            self._errors.close()
            self._errors = None


    def _terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM; TerminateProcess on Windows
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


__all__ = ["sim_server", "sim_smu", "sim_target", "SimServer", "sim_choice", "fresh_target"]
