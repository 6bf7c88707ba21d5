"""The resolution check under the parameter form: it warns, naming the setting that would
resolve 0.5 G0 steps, when the form's reads cannot; the warning goes once they can; the
Run and Abort buttons do not move while its text changes.

Figures by hand from the 2600B datasheet's current offsets (labqc/resolution.py's table):
VoltageSweep's reset branch reads at a median |V| of 1.5 V on the 10 mA range (its 10 mA
compliance): 0.5 G0 x 1.5 V = 58 uA. The 10 mA range's 2.5 uA offset at 1 PLC grows as
sqrt(1/NPLC): 25 uA at NPLC 0.01 (2.3 floors, below the 3 needed), 7.9 uA at NPLC 0.1
(7.3 floors)."""
import gc

import pytest
from PyQt6.QtCore import QEvent
from PyQt6.QtWidgets import QApplication

from labqc.gui.resolution_view import DEBOUNCE_MS
from labqc.gui.run_control import RunControl, RunManager
from labqc.instruments.connect import SIM_4200A


@pytest.fixture
def panel(qtbot, tmp_path):
    # Dashboards of earlier test files may still be dying (pyqtgraph items deleted late,
    # their anchors erring in the event loop); let them go before this panel's event loop
    # runs, so their errors are not counted against this file.
    with qtbot.capture_exceptions():
        gc.collect()
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
        QApplication.processEvents()
    manager = RunManager()
    panel = RunControl(manager, directory=tmp_path)
    qtbot.addWidget(panel)
    panel.resize(380, 900)
    panel.show()
    qtbot.waitExposed(panel)
    panel.procedure.setCurrentText("VoltageSweep")
    return panel


def set_field(panel, attr: str, text: str) -> None:
    panel.form.set_value(attr, text)


def test_unresolvable_nplc_warns_and_names_the_remedy_then_clears(panel, qtbot):
    view = panel.resolution
    set_field(panel, "nplc", "0.01")
    qtbot.waitUntil(lambda: view.warns, timeout=10_000)
    assert "NOT resolvable" in view.text and "NPLC 0.1 would resolve them" in view.text
    assert "1.5 V" in view.text and "10 mA range" in view.text
    warning_style = view.label.styleSheet()

    set_field(panel, "nplc", "0.1")
    qtbot.waitUntil(lambda: not view.warns, timeout=10_000)
    assert "NOT" not in view.text and "resolvable at every read" in view.text
    assert view.label.styleSheet() != warning_style  # neutral, not the warning's colour


def test_edits_are_debounced_into_one_recomputation(panel, qtbot):
    view = panel.resolution
    qtbot.waitUntil(lambda: not view.timer.isActive(), timeout=10_000)
    calls = []
    view.timer.timeout.connect(lambda: calls.append(1))
    for text in ("0.", "0.0", "0.01"):  # typing, one keystroke at a time
        set_field(panel, "nplc", text)
    qtbot.waitUntil(lambda: view.warns, timeout=10_000)
    qtbot.wait(2 * DEBOUNCE_MS)
    assert calls == [1]


def test_the_buttons_stay_put_while_the_advice_changes(panel, qtbot):
    view = panel.resolution
    set_field(panel, "nplc", "1")
    qtbot.waitUntil(lambda: "every read" in view.text, timeout=10_000)
    qtbot.wait(50)
    before = (panel.run_button.geometry(), panel.abort_button.geometry(), view.height())
    set_field(panel, "nplc", "0.01")
    # The set branch up to 2 V: median 1 V, read on the 10 mA range (25 G0 x 1 V = 1.9 mA),
    # 39 uA against 25 uA: a second unresolvable read, a longer advice.
    set_field(panel, "v_set", "2 V")
    qtbot.waitUntil(lambda: view.warns, timeout=10_000)
    qtbot.wait(50)
    assert view.text.count("NOT resolvable") >= 2
    assert (panel.run_button.geometry(), panel.abort_button.geometry(), view.height()) == before


def test_the_instrument_model_follows_the_instrument_box(panel, qtbot):
    view = panel.resolution
    set_field(panel, "nplc", "1")
    qtbot.waitUntil(lambda: "(2614B)" in view.text, timeout=10_000)
    panel.instrument.resource.setCurrentText(SIM_4200A)
    qtbot.waitUntil(lambda: "(4200A)" in view.text, timeout=10_000)


def test_a_value_not_understood_is_not_judged_and_does_not_warn(panel, qtbot):
    view = panel.resolution
    set_field(panel, "nplc", "fast")
    qtbot.waitUntil(lambda: "not judged" in view.text, timeout=10_000)
    assert not view.warns
    assert panel.form.message.text() == ""  # the form's own message waits for Run
