"""Each procedure opens the views its users look at (science.md, "What users look at"),
run from the dashboard on the simulator; a screenshot of each is a real picture that
names the run. With LABQC_UPDATE_SCREENSHOTS=1 the pictures are written to sample_data/
(the ones README shows)."""
import json
import os
from pathlib import Path

import numpy as np
import pytest

from labqc.gui.app import MainWindow
from labqc.instruments.sim.lab import get_lab, sim_library

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QImage

SAMPLE_DATA = Path(__file__).resolve().parents[2] / "sample_data"
SEED = 7
RUNS = {  # name: (procedure, preset, form values)
    "VoltageSweep": ("VoltageSweep", "bfo", {"cycles": "2", "step": "10"}),
    "CurrentSweep": ("CurrentSweep", "ag-nanowire", {"cycles": "2", "i_step": "200"}),
    "SetReset": ("SetReset", "ag-nanowire", {"cycles": "4"}),
    "PulseTrain": ("PulseTrain", "bfo", {"mode": "reset", "count": "100"}),
    "PulseTrain-ltp-ltd": ("PulseTrain", "bfo", {"mode": "ltp-ltd", "count": "30", "read_voltage": "0.2"}),
    "Endurance-pulse": ("Endurance", "bfo", {"method": "pulse", "cycles": "20", "set_voltage": "2.5",
                                            "reset_voltage": "-2.5", "set_compliance": "5 mA",
                                            "pulse_width": "20"}),
    "Retention": ("Retention", "ag-nanowire", {"duration": "200", "interval": "2"}),
}


@pytest.fixture
def window(qtbot, tmp_path):
    w = MainWindow(seed=SEED, directory=tmp_path / "results")
    w.resize(1500, 950)
    qtbot.addWidget(w, before_close_func=lambda w: w.manager.shutdown())
    w.show()
    yield w


def image_array(path) -> np.ndarray:
    img = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB888)
    assert not img.isNull()
    ptr = img.constBits()
    ptr.setsize(img.sizeInBytes())
    rows = np.frombuffer(ptr, np.uint8).reshape(img.height(), img.bytesPerLine())
    return rows[:, : 3 * img.width()].reshape(img.height(), img.width(), 3).copy()


def run(window, qtbot, name):
    procedure, preset, values = RUNS[name]
    get_lab(sim_library(preset, SEED)).reset()
    control = window.control
    control.instrument.preset.setCurrentText(preset)
    control.procedure.setCurrentText(procedure)
    for attr, text in values.items():
        control.form.set_value(attr, text)
    queued = control.request_run()
    assert queued is not None, control.form.message.text()
    qtbot.waitUntil(lambda: not window.manager.busy, timeout=60_000)
    qtbot.waitUntil(lambda: window.state.complete, timeout=10_000)
    window.plots.redraw(force=True)
    qtbot.wait(100)
    return queued


def shown_tabs(window):
    return window.plots.tabs.shown(), window.plots.tabs.tabText(window.plots.tabs.currentIndex())


def screenshot(window, name, tmp_path):
    folder = SAMPLE_DATA if os.environ.get("LABQC_UPDATE_SCREENSHOTS") else tmp_path
    path = window.export_png(folder / f"dashboard-{name}.png", whole_window=True)
    px = image_array(path)
    assert px.std() > 20 and len(np.unique(px.reshape(-1, 3) // 8, axis=0)) > 50
    return path


@pytest.mark.parametrize("name", list(RUNS))
def test_each_procedure_opens_its_views_and_a_screenshot_names_the_run(window, qtbot, tmp_path, name):
    queued = run(window, qtbot, name)
    plots = window.plots
    # Provenance: the window title and every view name the data file.
    assert queued.path.name in window.windowTitle()
    assert queued.path.name in plots.main.getPlotItem().titleLabel.text
    assert queued.path.name in plots.iv.getPlotItem().titleLabel.text
    for plot in plots.tabs.plots():
        assert queued.path.name in plot.getPlotItem().titleLabel.text
    assert window.default_export_path() == queued.path.with_name(f"{queued.path.stem}_dashboard.png")
    window._qtbot = qtbot
    CHECKS[name](window, queued)
    screenshot(window, name, tmp_path)


def check_voltage_sweep(window, queued):
    assert window.plots.x_choice.currentText() == "Voltage"
    assert shown_tabs(window) == (["HRS/LRS", "Level per cycle"], "HRS/LRS")
    assert window.plots.iv.getAxis("left").labelUnits == "A" and window.plots._compliance_lines


def check_current_sweep(window, queued):
    plots = window.plots
    assert plots.x_choice.currentText() == "Current"
    assert shown_tabs(window) == (["Level per cycle"], "Level per cycle")
    # V against I, with the voltage limit drawn (not a current compliance)
    assert plots.iv.getAxis("bottom").labelUnits == "A" and plots.iv.getAxis("left").labelUnits == "V"
    assert [abs(line.value()) for line in plots._compliance_lines] == [2.0, 2.0]
    c, g = plots.tabs.level_curve.getData()
    assert list(c) == [1.0, 2.0] and (g > 0.5).all()


def check_set_reset(window, queued):
    assert window.plots.x_choice.currentText() == "Time"
    assert shown_tabs(window) == (["HRS/LRS", "Level per cycle"], "HRS/LRS")
    names = [line.label.format for line in window.plots._compliance_lines]
    assert not any("factor" in n for n in names)


def check_pulse_train(window, queued):
    plots = window.plots
    assert plots.x_choice.currentText() == "Pulse number"
    assert shown_tabs(window) == (["I_i/I_1", "Polar", "Lag"], "I_i/I_1")
    x, y = plots.tabs.polar_curve.getData()
    assert len(x) == 100 and np.allclose(y, 0, atol=1e-9) and (x[0::2] > 0).all() and (x[1::2] < 0).all()
    # points, no line joining pulse tops and reads into a tangle
    assert plots.iv_curve.opts["pen"].style() == Qt.PenStyle.NoPen and plots.iv_curve.opts["symbol"] == "o"


def check_ltp_ltd(window, queued):
    plots = window.plots
    assert shown_tabs(window) == (["LTP/LTD fit"], "LTP/LTD fit")
    summary = json.loads(queued.path.with_name(queued.path.stem + ".summary.json").read_text())["results"]
    x, y = plots.tabs.ltp_points.getData()
    assert len(x) == 30 and np.all(np.diff(y[:10]) > -0.5)  # potentiation: G rises
    assert len(plots.tabs.ltp_curve.getData()[0]) > 0 and len(plots.tabs.ltd_curve.getData()[0]) > 0
    assert f"A_LTP = {summary['a_ltp']:.3g}" in plots.tabs.fit_text
    assert f"A_LTD = {summary['a_ltd']:.3g}" in plots.tabs.fit_text


def check_pulse_endurance(window, queued):
    plots = window.plots
    assert shown_tabs(window) == (["HRS/LRS", "Level per cycle"], "HRS/LRS")
    c, lrs = plots.tabs.lrs_curve.getData()
    _, hrs = plots.tabs.hrs_curve.getData()
    # The same reads the procedure booked per cycle (its summary), drawn live.
    summary = json.loads(queued.path.with_name(queued.path.stem + ".summary.json").read_text())["results"]
    booked = summary["per cycle"]
    assert list(c) == [row["cycle"] for row in booked] == list(range(1, 21))
    # (the view is logarithmic: getData gives log10 of what is drawn)
    assert np.allclose(lrs, np.log10([max(row["LRS G/G0"], 1e-6) for row in booked]), atol=1e-4)
    assert np.allclose(hrs, np.log10([max(row["HRS G/G0"], 1e-6) for row in booked]), atol=1e-4)
    # Reopened from its file: the same per-cycle reads.
    live = window.state
    window.open_file(queued.path).wait()
    qtbot = window._qtbot
    qtbot.waitUntil(lambda: window.state is not live, timeout=10_000)
    window.plots.redraw(force=True)
    c2, lrs2 = plots.tabs.lrs_curve.getData()
    assert list(c2) == list(c) and np.allclose(lrs2, lrs, rtol=1e-5)


def check_retention(window, queued):
    assert shown_tabs(window) == (["Retention"], "Retention")
    t, g = window.plots.tabs.retention_curve.getData()
    assert len(t) >= 90 and (t > 0).all()


CHECKS = {"VoltageSweep": check_voltage_sweep, "CurrentSweep": check_current_sweep, "SetReset": check_set_reset,
          "PulseTrain": check_pulse_train, "PulseTrain-ltp-ltd": check_ltp_ltd,
          "Endurance-pulse": check_pulse_endurance, "Retention": check_retention}


def test_every_procedure_has_views_of_its_own():
    from labqc.gui.live_plots import X_CHOICES
    from labqc.gui.view_plan import TABS, plan_for
    from labqc.procedures import PROCEDURES

    fallback = plan_for("no such procedure")
    for name in PROCEDURES:
        plan = plan_for(name, {"Mode": "ltp-ltd"} if name == "PulseTrain" else {})
        assert plan != fallback, name
        assert plan.x in X_CHOICES and set(plan.tabs) <= set(TABS) and plan.iv in ("iv", "points", "vi")
