"""Runs from the dashboard on the simulated 2614B: a run streams into the views and
finishes, abort turns the outputs off (read back from the simulated instrument), runs
queue up and execute in order."""
import pytest

from labqc.gui.app import MainWindow
from labqc.instruments.connect import SIM_2614B
from labqc.instruments.sim.lab import get_lab, sim_library
from labqc.results import read_data

SEED = 11


@pytest.fixture
def lab():
    lab = get_lab(sim_library("bfo", SEED))
    lab.reset()
    return lab


@pytest.fixture
def window(qtbot, tmp_path, lab):
    w = MainWindow(seed=SEED, directory=tmp_path)
    qtbot.addWidget(w, before_close_func=lambda w: w.manager.shutdown())
    w.show()
    yield w
    w.manager.shutdown()
    w.close()


def sweep_form(window, cycles: int, step: str = "20") -> None:
    window.control.procedure.setCurrentText("VoltageSweep")
    window.control.form.set_value("cycles", str(cycles))
    window.control.form.set_value("step", step)


def test_simulated_run_streams_shows_plateaus_and_finishes(window, qtbot, lab):
    sweep_form(window, cycles=2, step="10")
    run = window.control.request_run()
    assert run is not None and window.manager.busy
    seen_while_running = []
    window.manager.chunk.connect(lambda _: seen_while_running.append(window.manager.busy))
    qtbot.waitUntil(lambda: not window.manager.busy, timeout=30_000)
    qtbot.waitUntil(lambda: window.state.complete, timeout=5_000)
    window.plots.redraw(force=True)
    assert seen_while_running and all(seen_while_running)  # rows arrived while the run was going
    assert window.control.status.text().startswith("Finished")
    assert "outputs off" in window.control.status.text()
    assert not lab.emulator(SIM_2614B).any_output_on
    rows = read_data(run.path)
    finite = rows["G/G0"].notna().sum()
    assert len(window.state.store) == finite  # every drawable row came through memory
    # The online detector found the high-conductance plateau of each SET branch.
    high = [p for p in window.state.plateaus if p.level > 10]
    assert len(high) >= 2 and all(p.stop is not None for p in window.state.plateaus)
    xs, ys = window.plots.plateau_curve.getData()
    assert len(xs) == 2 * len(window.state.plateaus)
    assert any(label.isVisible() and "G0" in label.textItem.toPlainText()
               for label in window.plots.plateau_labels)
    # HRS/LRS reads split by the branch before them, one each per cycle.
    assert len(window.state.lrs.result()[1]) == 2 and len(window.state.hrs.result()[1]) == 2
    hist = window.state.histogram
    assert hist.counts.sum() + hist.n_outside == finite and hist.counts.sum() > 0
    assert window.browser.count() == 1 and "finished" in window.browser.item(0).text()


def test_abort_turns_the_outputs_off(window, qtbot, lab):
    sweep_form(window, cycles=200, step="10")
    run = window.control.request_run()
    waiting = window.control.request_run()  # queued behind it
    qtbot.waitUntil(lambda: len(window.state.store) > 0, timeout=20_000)
    assert window.control.abort_button.isEnabled()
    window.control.abort_button.click()
    qtbot.waitUntil(lambda: not window.manager.busy, timeout=30_000)
    assert window.control.status.text().startswith("Aborted — outputs off")
    # Abort holds the queue: the next run waits for "Resume queue" and never started.
    assert list(window.manager.queue) == [waiting] and not waiting.path.exists()
    assert window.control.resume_button.isEnabled()
    window.control.clear_button.click()
    assert not window.manager.queue
    assert not lab.emulator(SIM_2614B).any_output_on
    assert lab.emulator(SIM_2614B).outputs_on() and not any(lab.emulator(SIM_2614B).outputs_on().values())
    assert 0 < len(read_data(run.path)) < 200 * 1200  # stopped early, rows on disk


def test_queue_runs_in_order(window, qtbot, lab):
    sweep_form(window, cycles=1, step="50")
    first = window.control.request_run()
    second = window.control.request_run()
    assert first.path != second.path
    qtbot.waitUntil(lambda: not window.manager.busy and not window.manager.queue, timeout=30_000)
    assert first.path.exists() and second.path.exists()
    assert window.browser.count() == 2
    assert window.browser.records[0].path == second.path  # newest first


def test_opening_a_file_during_a_run_keeps_the_run_streaming(window, qtbot, lab, tmp_path):
    from labqc.procedures import Endurance
    from labqc.procedures.runner import Target, run_procedure

    past = run_procedure(Endurance(cycles=2), tmp_path / "past.csv", target=Target(preset="bfo", seed=SEED + 1)).path
    sweep_form(window, cycles=200, step="10")
    window.control.request_run()
    qtbot.waitUntil(lambda: len(window.state.store) > 0, timeout=20_000)
    live = window.live_state
    window.open_file(past).wait()
    qtbot.waitUntil(lambda: window.state is not live, timeout=10_000)
    shown = len(window.state.store)
    before = len(live.store)
    qtbot.waitUntil(lambda: len(live.store) > before, timeout=20_000)
    assert len(window.state.store) == shown  # the file's view did not receive the run's rows
    window.control.abort_button.click()
    qtbot.waitUntil(lambda: not window.manager.busy, timeout=30_000)
    assert not lab.emulator(SIM_2614B).any_output_on
