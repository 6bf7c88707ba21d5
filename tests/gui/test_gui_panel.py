"""The run-control panel as a user meets it: buttons that stay put, inline errors that
wrap, values kept when switching procedure, fields greyed out when their mode does not
use them, one click in the Runs list, a log that keeps following, and settings that
persist between sessions (in a temporary settings folder, see conftest.py)."""
from PyQt6.QtCore import Qt

from labqc.gui.app import MainWindow


def test_run_and_abort_stay_put_when_the_status_wraps(window, qtbot):
    control = window.control
    before = (control.run_button.mapTo(window, control.run_button.rect().topLeft()),
              control.abort_button.mapTo(window, control.abort_button.rect().topLeft()))
    control.set_status("Refused: " + "a very long sentence about what the instrument cannot do " * 4)
    qtbot.wait(50)
    after = (control.run_button.mapTo(window, control.run_button.rect().topLeft()),
             control.abort_button.mapTo(window, control.abort_button.rect().topLeft()))
    assert before == after


def test_an_inline_error_wraps_inside_the_panel(window, qtbot):
    control = window.control
    control.procedure.setCurrentText("VoltageSweep")
    width = control.form.width()
    control.form.set_value("set_compliance", "a long text that is not a number at all, really not")
    assert control.request_run() is None
    qtbot.wait(50)
    _, _, error = control.form.fields["set_compliance"]
    assert error.isVisible() and "is not a number" in error.text()
    assert control.form.width() == width  # the form did not widen
    assert error.geometry().right() <= control.form.width()  # and nothing is cut off at the right


def test_switching_procedure_keeps_the_edited_values(window):
    form = window.control.form
    window.control.procedure.setCurrentText("VoltageSweep")
    form.set_value("cycles", "7")
    form.set_value("set_compliance", "2 mA")
    window.control.procedure.setCurrentText("Retention")
    assert "cycles" not in form.fields
    window.control.procedure.setCurrentText("VoltageSweep")
    assert form.text("cycles") == "7" and form.text("set_compliance") == "2 mA"


def test_fields_the_mode_does_not_use_are_disabled(window):
    form = window.control.form
    window.control.procedure.setCurrentText("Endurance")
    form.set_value("method", "sweep")
    assert not form.fields["pulse_width"][1].isEnabled() and form.fields["step"][1].isEnabled()
    form.set_value("method", "pulse")
    assert form.fields["pulse_width"][1].isEnabled() and not form.fields["step"][1].isEnabled()
    window.control.procedure.setCurrentText("Retention")
    form.set_value("spacing", "log")
    assert not form.fields["interval"][1].isEnabled() and form.fields["per_decade"][1].isEnabled()


def test_one_click_in_the_runs_list_shows_that_run(window, qtbot):
    control = window.control
    control.procedure.setCurrentText("VoltageSweep")
    control.form.set_value("cycles", "1")
    control.form.set_value("step", "50")
    first, second = control.request_run(), control.request_run()
    qtbot.waitUntil(lambda: not window.manager.busy and not window.manager.queue, timeout=30_000)
    window.bottom.setCurrentWidget(window.browser)
    older = next(r for r in window.browser.records if r.path == first.path)
    item = window.browser.item(window.browser.records.index(older))
    rect = window.browser.visualItemRect(item)
    qtbot.mouseClick(window.browser.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: window.state is older.state, timeout=5_000)
    assert first.path.name in window.windowTitle()


def test_the_log_keeps_following_after_the_runs_tab_was_used(window, qtbot):
    log = window.log
    for k in range(200):
        log.log(f"line {k}")
    window.bottom.setCurrentWidget(window.browser)  # the user looks at the runs
    for k in range(200, 400):
        log.log(f"line {k}")
    window.bottom.setCurrentWidget(log)
    qtbot.wait(50)
    bar = log.verticalScrollBar()
    assert bar.value() == bar.maximum() > 0
    # Scrolled up by the user: it stays where they put it.
    bar.triggerAction(bar.SliderAction.SliderToMinimum)
    log.log("one more")
    assert bar.value() == 0


def test_settings_persist_between_sessions(qtbot, tmp_path):
    first = MainWindow(directory=tmp_path)
    qtbot.addWidget(first)
    first.show()
    first.control.instrument.preset.setCurrentText("ag-nanowire")
    first.control.instrument.seed.setValue(12)
    first.control.procedure.setCurrentText("Endurance")
    first.control.form.set_value("cycles", "42")
    first.control.procedure.setCurrentText("Retention")
    first.control.form.set_value("duration", "600 s")
    first.resize(720, 610)  # (within the offscreen screen, which clamps larger windows)
    size = (first.width(), first.height())
    assert size[0] == 720  # not the default width
    first.close()
    second = MainWindow()
    qtbot.addWidget(second)
    box = second.control.instrument
    assert box.preset.currentText() == "ag-nanowire" and box.seed.value() == 12
    assert second.control.procedure.currentText() == "Retention"
    assert second.control.form.text("duration") == "600 s"
    assert second.control.directory.text() == str(tmp_path)
    second.control.procedure.setCurrentText("Endurance")
    assert second.control.form.text("cycles") == "42"
    assert (second.width(), second.height()) == size
    # A value given on the command line wins over the remembered one.
    third = MainWindow(preset="bfo", seed=3)
    qtbot.addWidget(third)
    assert third.control.instrument.preset.currentText() == "bfo" and third.control.instrument.seed.value() == 3
