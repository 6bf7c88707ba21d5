"""Every way a run can end leaves the outputs off, the file readable and the summary
honest: finished, stopped, interrupted, an exception in the procedure, an instrument
timeout (fault injection), a write failure; bad parameters are refused before anything
is energised."""
import pytest

from labqc.instruments.connect import SIM_2614B
from labqc.instruments.sim.lab import get_lab, sim_library
from labqc.results import read_data, read_summary
from labqc.procedures import VoltageSweep
from labqc.procedures.base import ParameterError
from labqc.procedures.runner import ABORTED, FAILED, FINISHED, Target, run_procedure


@pytest.fixture
def lab():
    lab = get_lab(sim_library("bfo", 5))
    lab.reset()
    return lab


BFO5 = Target(preset="bfo", seed=5)


def sweep(**kw):
    return VoltageSweep(**{"cycles": 2, "step": 20, **kw})


def outputs_on(lab):
    return lab.emulator(SIM_2614B).any_output_on


def test_done(lab, tmp_path):
    result = run_procedure(sweep(), tmp_path / "done.csv", target=BFO5)
    assert result.status == FINISHED and not outputs_on(lab)


def test_stop_request_aborts_cleanly(lab, tmp_path):
    batches = []
    seen_on = []

    def listener(topic, payload):
        if topic == "batch":
            batches.append(len(payload))
            seen_on.append(outputs_on(lab))

    result = run_procedure(sweep(), tmp_path / "stop.csv", target=BFO5, listeners=[listener],
                           should_stop=lambda: len(batches) >= 2)
    assert result.status == ABORTED
    assert not outputs_on(lab)
    assert len(read_data(result.path)) == sum(batches) == result.rows
    assert read_summary(result.path)["status"] == "aborted"
    assert result.summary["cycles done"] < 2


def test_keyboard_interrupt_mid_sweep(lab, tmp_path):
    def listener(topic, payload):
        if topic == "batch":
            raise KeyboardInterrupt  # what Ctrl-C does at that moment

    result = run_procedure(sweep(), tmp_path / "ctrlc.csv", target=BFO5, listeners=[listener])
    assert result.status == ABORTED and not outputs_on(lab)
    assert result.rows > 0 and len(read_data(result.path)) == result.rows


class Exploding(VoltageSweep):
    """A procedure with a bug after its first branch."""

    def execute(self):
        self.measure(self.set_sweep(), segment="set")
        raise ZeroDivisionError("a bug in the analysis")


def test_exception_in_the_procedure(lab, tmp_path):
    proc = Exploding(step=20)
    result = run_procedure(proc, tmp_path / "bug.csv", target=BFO5)
    assert result.status == FAILED and "ZeroDivisionError: a bug in the analysis" in result.error
    assert not outputs_on(lab)
    assert len(read_data(result.path)) == result.rows == 301
    assert read_summary(result.path)["error"] == result.error


def test_instrument_timeout_by_fault_injection(tmp_path):
    # The 2614B answers message 29 (a readback during the first RESET branch) a minute
    # late: past the driver's VISA timeout, with the SET branch already on disk.
    lib = sim_library("bfo", 6, faults={SIM_2614B: "delay@29:60"})
    lab = get_lab(lib)
    lab.reset()
    proc = VoltageSweep(step=20, cycles=2)
    result = run_procedure(proc, tmp_path / "timeout.csv", target=Target(preset="bfo", seed=6), visa_library=lib)
    assert result.status == FAILED
    assert result.error.startswith("InstrumentTimeout")
    assert not outputs_on(lab)
    rows = read_data(result.path)  # whatever was written reads back
    assert len(rows) == result.rows > 301 and (rows["Segment"] == "set").sum() == 301


def test_disk_full_before_the_first_row_energises_nothing(lab):
    with pytest.raises(OSError):
        run_procedure(sweep(), "/dev/full", target=BFO5)
    assert not outputs_on(lab)


@pytest.mark.parametrize("params, words", [
    ({"set_compliance": 0.0}, "SET branch needs a current compliance"),
    ({"step": 0.0}, "step must be > 0"),
    ({"cycles": 0}, "at least 1"),
])
def test_bad_parameters_refused_before_opening_anything(lab, tmp_path, params, words):
    messages = lab.emulator(SIM_2614B).messages
    with pytest.raises(ParameterError, match=words):
        run_procedure(sweep(**params), tmp_path / "no.csv", target=BFO5)
    assert lab.emulator(SIM_2614B).messages == messages  # not a byte was sent
    assert not (tmp_path / "no.csv").exists()


def test_out_of_range_voltage_refused_by_the_instrument_check(lab, tmp_path):
    from labqc.instruments.errors import CapabilityError

    with pytest.raises(CapabilityError, match="exceeds the maximum of 200 V"):
        run_procedure(sweep(v_set=205.0, step=1000), tmp_path / "no.csv", target=BFO5)
    assert not outputs_on(lab) and not (tmp_path / "no.csv").exists()


def test_existing_file_is_not_overwritten(lab, tmp_path):
    path = tmp_path / "keep.csv"
    path.write_text("yesterday's data\n")
    with pytest.raises(ParameterError, match="already exists"):
        run_procedure(sweep(), path, target=BFO5)
    assert path.read_text() == "yesterday's data\n"


def test_a_failing_listener_does_not_end_the_run(lab, tmp_path):
    def broken_plot(topic, payload):
        if topic == "batch":
            raise RuntimeError("plot widget gone")

    result = run_procedure(sweep(cycles=1), tmp_path / "plot.csv", target=BFO5, listeners=[broken_plot])
    assert result.status == FINISHED and not outputs_on(lab)
    assert result.warnings and "RuntimeError: plot widget gone" in result.warnings[0]
    assert read_summary(result.path)["warnings"] == result.warnings


def test_stopped_sweep_keeps_its_half_cycle(lab, tmp_path):
    seen = []

    def listener(topic, payload):
        if topic == "batch":
            seen.append(payload["Segment"][-1])

    result = run_procedure(sweep(), tmp_path / "half.csv", target=BFO5, listeners=[listener],
                           should_stop=lambda: "reset" in seen)
    assert result.status == ABORTED
    first = result.summary["per cycle"][0]
    assert result.summary["cycles done"] == 0 and first["complete"] is False
    assert first["LRS G/G0"] > 0 and "HRS G/G0" not in first
