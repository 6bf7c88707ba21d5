"""The window builds, its form comes from the procedure's parameters, and bad
parameters are refused with the procedure's sentence before anything runs."""
import pytest

from labqc.gui.view_plan import TABS
from labqc.procedures import PROCEDURES


def test_window_builds_with_views_and_axis_units(window):
    plots = window.plots
    assert window.control.procedure.count() == len(PROCEDURES)
    assert plots.main.getAxis("bottom").labelUnits == "s"
    assert plots.iv.getAxis("bottom").labelUnits == "V" and plots.iv.getAxis("left").labelUnits == "A"
    assert "G0" in plots.hist.getAxis("bottom").labelText
    assert [plots.tabs.tabText(k) for k in range(plots.tabs.count())] == list(TABS)
    assert window.log.maximumBlockCount() > 0  # the log has a line cap


def test_form_follows_the_procedure_with_units_and_defaults(window):
    control = window.control
    control.procedure.setCurrentText("PulseTrain")
    form = control.form
    assert "amplitude" in form.fields and "v_set" not in form.fields
    assert form.text("width") == "5 ms"  # default, with the parameter's unit
    assert form.text("compliance") == "5 mA"  # an SI prefix, not 0.005
    form.set_value("compliance", "0.0004")
    form.fields["compliance"][1].editingFinished.emit()
    assert form.text("compliance") == "400 µA"  # written back as it was understood


def test_invalid_parameters_are_refused_with_the_procedures_sentence(window, tmp_path):
    control = window.control
    control.procedure.setCurrentText("VoltageSweep")
    control.form.set_value("step", "0")
    assert control.request_run() is None
    assert "the voltage step must be > 0 mV" in control.form.message.text()
    assert control.status.text().startswith("Refused:")
    assert not window.manager.busy and not window.manager.queue
    assert list(tmp_path.iterdir()) == []  # nothing was opened or written


def test_unreadable_value_is_flagged_inline(window):
    form = window.control.form
    form.set_value("set_compliance", "five")
    assert window.control.request_run() is None
    _, _, error = form.fields["set_compliance"]
    assert "is not a number" in error.text() and not error.isHidden()
    form.set_value("set_compliance", "2mA")  # SI prefixes are understood
    form.set_value("cycles", "1")
    proc = form.build()
    assert proc.set_compliance == pytest.approx(2e-3)
    assert error.isHidden()


def test_visa_kind_needs_a_resource(window):
    box = window.control.instrument
    box.kind.setCurrentIndex(1)
    box.resource.setCurrentText("")
    assert window.control.request_run() is None
    assert "VISA resource" in window.control.status.text()
