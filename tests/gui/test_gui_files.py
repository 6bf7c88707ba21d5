"""Past results files open into the same views (pulse train, endurance, retention), the
PNG export works on them, unreadable files get one line, and the run browser keeps only
the newest runs' arrays in memory."""
import pytest

from labqc.gui.files import RunRecord, compliance_limits, load_run
from labqc.gui.live_state import LiveState
from labqc.procedures import Endurance, PulseTrain, Retention
from labqc.procedures.runner import Target, run_procedure


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("runs")
    runs = {"train": PulseTrain(count=30),
            "endurance": Endurance(cycles=3),
            "retention": Retention(duration=50, spacing="log", per_decade=5)}
    target = Target(preset="bfo", seed=21)
    return {name: run_procedure(proc, d / f"{name}.csv", target=target).path for name, proc in runs.items()}


def test_pulse_train_file_fills_the_per_pulse_views(files):
    record, header = load_run(files["train"])
    assert record.procedure == "PulseTrain" and record.in_memory
    k, current = record.state.pulse_current.result()
    assert len(k) == 30 and k[0] == 1 and abs(current[0]) > 0
    assert ("Compliance", 5e-3) in compliance_limits(header["parameters"])


def test_endurance_and_retention_files(files):
    record, _ = load_run(files["endurance"])
    cycles, lrs = record.state.lrs.result()
    _, hrs = record.state.hrs.result()
    assert list(cycles) == [1.0, 2.0, 3.0] and len(hrs) == 3
    assert (lrs > hrs).all()  # the read after SET is the low-resistance state
    record, _ = load_run(files["retention"])
    t, g = record.state.retention()
    assert len(t) > 5 and (t > 0).all() and (g > 0).all()


def test_open_file_in_the_window_and_export(window, qtbot, files, tmp_path):
    loader = window.open_file(files["train"])
    qtbot.waitUntil(lambda: window.browser.count() == 1, timeout=10_000)
    loader.wait()
    assert window.plots.tabs.tabText(window.plots.tabs.currentIndex()) == "I_i/I_1"
    window.plots.redraw(force=True)
    x, y = window.plots.ratio_curve.getData()
    assert len(x) == 30 and y[0] == pytest.approx(1.0)
    x, y = window.plots.lag_curve.getData()
    assert len(x) == 29
    window.plots.set_x("Pulse number")
    window.plots.redraw(force=True)
    px, _ = window.plots.measured_curve.getData()
    assert len(px) == 30
    assert window.export_png(tmp_path / "train.png").stat().st_size > 10_000


def test_unreadable_file_is_one_log_line(window, qtbot, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    loader = window.open_file(bad)
    qtbot.waitUntil(lambda: "cannot open" in window.log.toPlainText(), timeout=10_000)
    loader.wait()
    assert "not a labqc results file" in window.log.toPlainText()
    assert window.browser.count() == 0


def test_browser_keeps_only_the_newest_arrays(window, qtbot, files):
    browser = window.browser
    for k in range(browser.keep + 2):
        browser.add(RunRecord(f"run {k}", files["retention"], "Retention", state=LiveState()))
    in_memory = [r.in_memory for r in browser.records]
    assert in_memory == [True] * browser.keep + [False] * 2
    assert "[on disk]" in browser.item(browser.count() - 1).text()
    oldest = browser.records[-1]
    window.show_record(oldest)  # re-read from its file
    qtbot.waitUntil(lambda: oldest.in_memory, timeout=10_000)
    assert window.state is oldest.state and len(window.state.store) > 0
    assert sum(r.in_memory for r in browser.records) == browser.keep


def test_x_axis_choices_and_series_resistance_on_a_file(window, qtbot, files):
    record, header = load_run(files["endurance"], r_series=0.0)
    window.browser.add(record)
    window._show_loaded(record, header)
    plots = window.plots
    for choice, units in (("Voltage", "V"), ("Current", "A"), ("Time", "s")):
        plots.set_x(choice)
        plots.redraw(force=True)
        x, y = plots.measured_curve.getData()
        assert plots.main.getAxis("bottom").labelUnits == units and len(x) > 0
    assert plots.corrected_curve.getData()[0] is None or len(plots.corrected_curve.getData()[0]) == 0
    window.r_series.setValue(300.0)  # the toolbar setting
    assert record.state.r_series == 300.0 and record.state.detector.r_series == 300.0
    qtbot.waitUntil(lambda: record.state.caught_up, timeout=5_000)
    plots.redraw(force=True)
    xc, yc = plots.corrected_curve.getData()
    xm, ym = plots.measured_curve.getData()
    assert len(xc) > 0 and len(xc) == len(xm)
    legend = [label.text for _, label in plots.main.getPlotItem().legend.items]
    assert any("R_s removed" in text for text in legend)
