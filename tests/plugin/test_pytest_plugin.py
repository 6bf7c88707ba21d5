"""The pytest plugin, used as a lab would: a test project of its own in a temporary
directory (its own small procedure and tests that use sim_smu by marker and by parameter,
and sim_server over real sockets), run by pytest in a subprocess with the plugin loaded by
name; and pyproject declares the pytest11 entry point that loads it when installed."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = "labqc.instruments.sim.pytest_plugin"

PROCEDURE = '''
import numpy as np

from labqc.instruments.smu import Sweep
from labqc.procedures.base import FloatParameter, IntegerParameter, LabqcProcedure, require


class StairRead(LabqcProcedure):
    """Read a device on a small voltage stair, below anything that switches it."""

    top = FloatParameter("Top", units="V", default=0.2)
    steps = IntegerParameter("Steps", default=5)
    compliance = FloatParameter("Compliance", units="A", default=1e-3)

    def validate(self):
        super().validate()
        require(0 < self.top <= 0.5, f"keep the stair at or below 0.5 V, not {self.top:g} V")

    def stair(self):
        return Sweep(levels=np.linspace(self.top / self.steps, self.top, self.steps),
                     compliance=self.compliance, step_time=0.05, nplc=1.0)

    def requests(self):
        return [self.stair()]

    def execute(self):
        self.rows = self.measure(self.stair(), segment="read")

    def summary(self):
        rows = getattr(self, "rows", None)
        if rows is None or not len(rows):  # rows: labqc.chunk (numpy), one per reading
            return {}
        return {"R (Ohm)": float(np.median(rows["Voltage (V)"] / rows["Current (A)"]))}
'''

TESTS = '''
import pytest

from labqc.instruments.connect import open_smu
from labqc.procedures.base import ParameterError
from labqc.procedures.runner import run_procedure
from my_lab.stair import StairRead


@pytest.mark.labqc_sim(preset="ohmic", seed=1)          # a 10 kΩ resistor on the simulated 2614B
def test_stair_reads_the_resistor(sim_smu, tmp_path):
    result = run_procedure(StairRead(top=0.2), tmp_path / "stair.csv", smu=sim_smu)
    assert result.ok and result.rows == 5
    assert result.summary["R (Ohm)"] == pytest.approx(10e3, rel=0.02)


@pytest.mark.parametrize("sim_smu", [{"preset": "bfo", "seed": 2, "model": "4200A"}], indirect=True)
def test_a_fresh_bfo_device_on_the_4200a_is_high_resistance(sim_smu, tmp_path):
    assert "4200" in sim_smu.identity
    result = run_procedure(StairRead(), tmp_path / "b.csv", smu=sim_smu)
    assert result.ok and result.summary["R (Ohm)"] > 1e5


@pytest.mark.labqc_sim(preset="ohmic", seed=4)
def test_my_procedure_refuses_a_high_stair(sim_smu, tmp_path):
    with pytest.raises(ParameterError, match="0.5 V"):
        run_procedure(StairRead(top=2.0), tmp_path / "x.csv", smu=sim_smu)


@pytest.mark.labqc_sim("ohmic", seed=5)
def test_a_target_the_runner_opens_and_closes(sim_target, tmp_path):
    result = run_procedure(StairRead(top=0.1), tmp_path / "t.csv", target=sim_target)
    assert result.ok and result.summary["R (Ohm)"] == pytest.approx(10e3, rel=0.02)
    assert "preset ohmic, seed 5" in result.instrument


def test_both_instruments_over_sockets(sim_server, tmp_path):
    assert set(sim_server) == {"2614B", "4200A"}
    for model, resource in sim_server.items():
        assert resource.startswith("TCPIP0::127.0.0.1::")
        smu = open_smu(resource)
        try:
            assert model in smu.identity
            result = run_procedure(StairRead(), tmp_path / f"{model}.csv", smu=smu)
        finally:
            smu.close()
        assert result.ok and result.rows == 5
'''


README_EXAMPLE = TESTS[TESTS.index("@pytest.mark.labqc_sim(preset=\"ohmic\", seed=1)"):
                       TESTS.index("@pytest.mark.parametrize")].strip()


def run_pytest(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(project)]),
           "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}  # only the plugin named here, as in a clean CI job
    return subprocess.run([sys.executable, "-m", "pytest", "-p", PLUGIN, "-p", "no:cacheprovider", *args],
                          cwd=project, env=env, capture_output=True, text=True, timeout=300)


def make_project(tmp_path: Path, tests: str) -> Path:
    project = tmp_path / "lab"
    (project / "my_lab").mkdir(parents=True)
    (project / "tests").mkdir()
    (project / "my_lab" / "__init__.py").write_text("")
    (project / "my_lab" / "stair.py").write_text(textwrap.dedent(PROCEDURE))
    (project / "tests" / "test_stair.py").write_text(textwrap.dedent(tests))
    (project / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n")
    return project


def test_a_labs_own_project_uses_the_fixtures(tmp_path):
    # Its first test is README's example, word for word.
    assert README_EXAMPLE in (ROOT / "README.md").read_text(encoding="utf-8")
    project = make_project(tmp_path, TESTS)
    done = run_pytest(project, "-q", "--strict-markers")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 passed" in done.stdout


def test_the_marker_decides_the_device(tmp_path):
    # The same test on bfo instead of the resistor must fail: the marker is not decoration.
    on_bfo = TESTS.replace('preset="ohmic", seed=1)', 'preset="bfo", seed=1)')
    assert on_bfo != TESTS
    done = run_pytest(make_project(tmp_path, on_bfo), "-q", "-k", "test_stair_reads_the_resistor")
    assert done.returncode == 1 and "1 failed" in done.stdout, done.stdout + done.stderr


def test_the_marker_is_documented(tmp_path):
    done = run_pytest(make_project(tmp_path, TESTS), "--markers")
    assert done.returncode == 0 and "labqc_sim(preset=" in done.stdout


def test_pyproject_declares_the_pytest11_entry_point():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert PLUGIN in project["entry-points"]["pytest11"].values()
    assert project["entry-points"]["pytest11"][PLUGIN] == PLUGIN
