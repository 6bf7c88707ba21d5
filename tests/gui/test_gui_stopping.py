"""Stopping from the dashboard, as a user does it: Abort during a long wait between
retention samples (real time), closing the window during a run, and a request the
instrument cannot do refused in the form before anything is queued or cleared."""
import time

import pytest
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication, QMessageBox

from labqc.gui.app import MainWindow
from labqc.instruments.connect import SIM_2614B
from labqc.instruments.sim.lab import get_lab, sim_library
from labqc.results import read_data

SEED = 5


@pytest.fixture
def lab():
    for scale in (0.0, 1.0):
        get_lab(sim_library("bfo", SEED, scale)).reset()
    return lambda scale=0.0: get_lab(sim_library("bfo", SEED, scale))


@pytest.fixture
def window(qtbot, tmp_path, lab):
    w = MainWindow(seed=SEED, directory=tmp_path)
    qtbot.addWidget(w, before_close_func=lambda w: w.manager.shutdown())
    w.show()
    yield w
    w.manager.shutdown()
    w.close()


def slow_retention(window, interval: str = "10") -> None:
    """Retention in real time: the first sample is `interval` seconds away."""
    window.control.instrument.time_scale.setText("1")
    window.control.procedure.setCurrentText("Retention")
    form = window.control.form
    form.set_value("prepare", "none")
    form.set_value("duration", "100")
    form.set_value("interval", interval)


def answer(button) -> list:
    """Click `button` on the next modal question; returns the texts it asked."""
    asked = []

    def click():
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, click)
            return
        asked.append(box.text())
        box.button(button).click()

    QTimer.singleShot(20, click)
    return asked


def test_abort_during_a_wait_between_samples_stops_within_seconds(window, qtbot, lab):
    slow_retention(window)
    run = window.control.request_run()
    qtbot.waitSignal(window.manager.started, timeout=10_000).wait() if not window.live_state else None
    qtbot.waitUntil(lambda: window.live_state is not None, timeout=10_000)
    qtbot.wait(500)  # now inside the 10 s wait for the first sample
    t_click = time.monotonic()
    window.control.abort_button.click()
    # At once: the panel says so and Abort cannot be pressed again.
    assert window.control.status.text().startswith("Stopping")
    assert not window.control.abort_button.isEnabled()
    assert window.manager.busy
    qtbot.waitUntil(lambda: not window.manager.busy, timeout=15_000)
    stopped_after = time.monotonic() - t_click
    assert stopped_after < 3.0, stopped_after  # the 10 s wait was interrupted
    assert window.control.status.text().startswith("Aborted — outputs off")
    assert window.control.eta.text() == "" or "stopped" in window.control.eta.text()
    assert not lab(1.0).emulator(SIM_2614B).any_output_on
    assert run.path.exists() and len(read_data(run.path)) == 0


def test_closing_during_a_run_asks_and_no_keeps_it_running(window, qtbot, lab):
    slow_retention(window)
    window.control.request_run()
    qtbot.waitUntil(lambda: window.live_state is not None, timeout=10_000)
    asked = answer(QMessageBox.StandardButton.No)
    window.close()
    qtbot.waitUntil(lambda: bool(asked), timeout=5_000)
    assert "Abort the run and close?" in asked[0]
    assert window.isVisible() and window.manager.busy
    assert window.control.status.text().startswith("Running")


def test_closing_during_a_run_yes_aborts_outputs_off_then_closes(window, qtbot, lab):
    slow_retention(window)
    run = window.control.request_run()
    qtbot.waitUntil(lambda: window.live_state is not None, timeout=10_000)
    asked = answer(QMessageBox.StandardButton.Yes)
    t_close = time.monotonic()
    window.close()
    qtbot.waitUntil(lambda: bool(asked), timeout=5_000)
    # The window stays responsive and says what it is doing while the instrument stops.
    assert window.isVisible() and window.control.status.text().startswith("Stopping")
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=15_000)
    assert time.monotonic() - t_close < 4.0
    assert not window.manager.busy
    assert not lab(1.0).emulator(SIM_2614B).any_output_on
    assert run.path.exists()


def test_a_compliance_beyond_the_instrument_is_refused_before_queueing(window, qtbot, lab, tmp_path):
    control = window.control
    control.procedure.setCurrentText("VoltageSweep")
    control.form.set_value("cycles", "1")
    control.form.set_value("step", "50")
    assert control.request_run() is not None
    qtbot.waitUntil(lambda: not window.manager.busy, timeout=30_000)
    shown, rows = window.state, len(window.state.store)
    entries = window.browser.count()
    log_before = window.log.toPlainText().count("refused")
    control.form.set_value("set_compliance", "5 A")
    assert control.request_run() is None
    msg = control.form.message.text()
    assert "2614B" in msg and "5 A exceeds 1.5 A" in msg  # the instrument's limit, one sentence
    assert control.status.text().startswith("Refused:")
    assert not window.manager.busy and not window.manager.queue
    assert window.state is shown and len(window.state.store) == rows  # views untouched
    assert window.browser.count() == entries  # no phantom "running" entry
    assert window.log.toPlainText().count("refused") == log_before + 1  # logged once
    assert len(list(tmp_path.glob("*.csv"))) == 1  # only the first run's file
