"""`labqc list` and `labqc run` end to end, as a user types them: in-process for the
simulator, and as a subprocess against the loopback TCP server for what only a real
process can show (Ctrl-C, SIGTERM, a file-size limit), with the instrument's outputs
checked from outside afterwards."""
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labqc.instruments.sim.lab import RES_2614B_LAN, SimulatedLab, get_lab, sim_library
from labqc.instruments.sim.server import start_background
from labqc.cli import main
from labqc.results import read_data, read_summary
from labqc.procedures import PROCEDURES

ROOT = Path(__file__).resolve().parents[2]


def test_list_shows_every_procedure_with_units_and_defaults(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in PROCEDURES:
        assert f"{name}:" in out
    assert "--set-compliance" in out and "5 mA" in out and "0.005 A" not in out
    assert "20 µA" in out and "2e-05" not in out  # CurrentSweep's I_max
    assert "--rate" in out and "90 nA/s" in out


def test_run_on_the_simulator_writes_file_and_summary(tmp_path, capsys):
    get_lab(sim_library("bfo", 0)).reset()
    path = tmp_path / "sweep.csv"
    code = main(["run", "VoltageSweep", "--sim", "bfo", "--cycles", "1", "--step", "20",
                 "--set-compliance", "5mA", "-o", str(path), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0
    assert "VoltageSweep finished" in out and str(path) in out and "V_SET" in out
    assert len(read_data(path)) == 2 * 301 + 2
    assert read_summary(path)["parameters"]["SET compliance"] == "0.005 A"


def test_progress_goes_to_stderr(tmp_path, capsys):
    get_lab(sim_library("ohmic", 0)).reset()
    assert main(["run", "Retention", "--sim", "ohmic", "--duration", "50", "--interval", "5",
                 "--prepare", "none", "-o", str(tmp_path / "r.csv")]) == 0
    err = capsys.readouterr().err
    assert "100.0%" in err and "s instrument time" in err and "ETA" in err


@pytest.mark.parametrize("args, words", [
    (["--step", "0"], "step must be > 0 mV"),
    (["--set-compliance", "lots"], "--set-compliance 'lots' is not a number"),
    (["--cycles", "1.5"], "--cycles '1.5' must be a whole number"),
    (["--v-set", "205", "--step", "1000"], "exceeds the maximum of 200 V"),
])
def test_bad_parameters_one_sentence_exit_2(tmp_path, capsys, args, words):
    code = main(["run", "VoltageSweep", "--sim", "bfo", "-o", str(tmp_path / "x.csv"), *args])
    # (lines about other layers' commands not being installed are not ours to judge)
    err = [ln for ln in capsys.readouterr().err.splitlines() if "commands are unavailable" not in ln]
    assert code == 2
    assert len(err) == 1 and words in err[0] and err[0].startswith("labqc run VoltageSweep: ")
    assert not (tmp_path / "x.csv").exists()


# --------------------------------------------------------------- a real process
@pytest.fixture
def server():
    """The simulated lab on a loopback port, at a time scale that makes a run last."""
    lab = SimulatedLab("bfo", seed=3, time_scale=0.3)
    srv = start_background(lab, port_2614b=0, port_4200a=None)
    yield lab, srv.resources["2614B"]
    srv.stop()


def launch(resource_name, path, *extra, preexec=None):
    cmd = [sys.executable, "-m", "labqc.cli", "run", "VoltageSweep", "--resource", resource_name,
           "--step", "10", "--cycles", "3", "-o", str(path), *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=preexec)


def wait_for_progress(proc, timeout=60.0):
    """Block until the run prints its first progress line (it is measuring)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if "instrument time" in line:
            return
        if proc.poll() is not None:
            break
    raise AssertionError(f"no progress from the run: {proc.stderr.read()}")


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_aborts_cleanly(server, tmp_path, sig, code):
    lab, res = server
    path = tmp_path / "interrupted.csv"
    proc = launch(res, path)
    wait_for_progress(proc)
    deadline = time.monotonic() + 20
    while not lab.emulator(RES_2614B_LAN).any_output_on:  # interrupt it while energised
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.01)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "aborted" in err
    assert not lab.emulator(RES_2614B_LAN).any_output_on
    rows = read_data(path)
    assert 0 < len(rows) < 3 * 1202
    assert read_summary(path)["status"] == "aborted"


def test_file_size_limit_fails_loudly_with_outputs_off(server, tmp_path):
    lab, res = server
    # RLIMIT_FSIZE is POSIX's; on Windows this module still imports and the test is skipped.
    resource = pytest.importorskip("resource")
    lab.clock.time_scale = 0.0
    path = tmp_path / "full.csv"

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (60_000, 60_000))

    proc = launch(res, path, "--no-progress", preexec=limit)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert "File too large" in err and "outputs off" in err
    assert not lab.emulator(RES_2614B_LAN).any_output_on
    rows = read_data(path)
    assert len(rows) > 0 and path.stat().st_size <= 60_000


def test_no_instrument_at_the_resource_is_one_sentence_exit_1(capsys):
    code = main(["run", "VoltageSweep", "--resource", "GPIB0::99::INSTR", "--sim", "bfo", "--no-progress"])
    err = [ln for ln in capsys.readouterr().err.splitlines() if "commands are unavailable" not in ln]
    assert code == 1 and len(err) == 1
    assert err[0].startswith("labqc run VoltageSweep: could not open GPIB0::99::INSTR")


@pytest.mark.parametrize("spelling", ["voltage-sweep", "voltagesweep", "VOLTAGE_SWEEP", "Voltage-Sweep"])
def test_a_procedure_is_named_in_any_case_and_kebab_form(tmp_path, capsys, spelling):
    get_lab(sim_library("ohmic", 0)).reset()
    path = tmp_path / "v.csv"
    assert main(["run", spelling, "--sim", "ohmic", "--cycles", "1", "--v-set", "0.2", "--v-reset", "0.2",
                 "--step", "50", "-o", str(path), "--no-progress"]) == 0
    assert "VoltageSweep finished" in capsys.readouterr().out
    assert read_summary(path)["procedure"] == "VoltageSweep"
    assert main(["list", spelling]) == 0
    out = capsys.readouterr().out
    assert out.startswith("VoltageSweep:") and "CurrentSweep:" not in out


def test_an_unknown_procedure_is_refused_with_the_choices(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "voltage-swoop"])
    assert exc.value.code == 2
    assert "invalid choice: 'voltage-swoop'" in capsys.readouterr().err
    assert main(["list", "voltage-swoop"]) == 2
    assert "choose one of VoltageSweep" in capsys.readouterr().err


def test_help_shows_defaults_with_si_prefixes(capsys):
    with pytest.raises(SystemExit):
        main(["run", "current-sweep", "--help"])
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert "(default: 20 µA)" in out and "(default: 2 V)" in out and "(default: 100 nA)" in out


def test_a_reader_that_stops_early_gets_no_traceback(tmp_path):
    """`labqc list | head -1`: the pipe closes before labqc is done writing."""
    import os

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first write: every write fails
    proc = subprocess.run([sys.executable, "-m", "labqc", "list"], stdout=write_end, stderr=subprocess.PIPE,
                          text=True, timeout=120, cwd=str(ROOT))
    os.close(write_end)
    assert "Traceback" not in proc.stderr and "BrokenPipeError" not in proc.stderr, proc.stderr
    assert proc.returncode == 1
