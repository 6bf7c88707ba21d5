"""The parameter form of the run-control panel, generated from a procedure's Parameters.

- units and defaults from the procedure; values shown with their unit and an SI prefix
  (labqc.quantity: "5 mA", not "0.005"), and any value typed (``5m``, ``5 mA``, ``0.005``)
  read by the command line's own parser and written back in that form once understood;
- each bad value and the procedure's own ``validate()`` sentence shown inline, wrapped to
  the panel's width;
- fields that do not matter for the chosen mode are disabled (pulse width in sweep mode);
- the values edited for each procedure are kept when switching to another procedure and
  back (and saved between sessions by labqc.gui.settings).
"""
from __future__ import annotations

from typing import Any

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
                             QSizePolicy, QVBoxLayout, QWidget)

from labqc.procedures.base import (BooleanParameter, FloatParameter, LabqcProcedure, ListParameter,
                                   ParameterError, parameter_specs)
from labqc.procedures.spec import build, parse_value
from labqc.procedures.parameters import help_of
from labqc.quantity import format_quantity

ERROR_STYLE = "color: #c0392b;"

#: Fields that matter only for some values of another field, per procedure class:
#: field -> (controlling field, the values for which it matters). Names not in a
#: procedure are ignored, so a renamed parameter only loses its greying.
RELEVANT: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {
    "Endurance": {"step": ("method", ("sweep",)), "step_time": ("method", ("sweep",)),
                  "nplc": ("method", ("sweep", "pulse")), "pulse_width": ("method", ("pulse",))},
    "SetReset": {"cycles": ("mode", ("cycle",)),
                 **{f: ("mode", ("program",)) for f in ("target", "tolerance", "compliance_factor",
                                                        "max_compliance", "amplitude_step",
                                                        "max_set_voltage", "max_attempts")}},
    "PulseTrain": {"read_voltage": ("reads", ("true",)), "read_width": ("reads", ("true",)),
                   "prepare_voltage": ("prepare", ("true",)), "prepare_compliance": ("prepare", ("true",))},
    "Retention": {"interval": ("spacing", ("linear",)), "first": ("spacing", ("log",)),
                  "per_decade": ("spacing", ("log",)), "prepare_voltage": ("prepare", ("set", "reset")),
                  "prepare_compliance": ("prepare", ("set", "reset"))},
    "CurrentSweep": {f: ("reset", ("true",)) for f in ("reset_voltage", "reset_compliance", "reset_step",
                                                       "reset_step_time")},
    "VoltageSweep": {"v_set": ("branches", ("both", "set")), "set_compliance": ("branches", ("both", "set")),
                     "rate": ("branches", ("both", "set")), "v_reset": ("branches", ("both", "reset")),
                     "reset_compliance": ("branches", ("both", "reset")),
                     "reset_rate": ("branches", ("both", "reset"))},
}


def value_text(param: Any, value: Any) -> str:
    """How a parameter value is shown in its field."""
    units = getattr(param, "units", None)
    if isinstance(param, FloatParameter) and isinstance(value, (int, float)):
        return format_quantity(float(value), units)
    if isinstance(param, BooleanParameter):
        return "true" if value else "false"
    return str(value)


class ParameterForm(QWidget):
    """The parameters of one procedure class, with inline messages."""

    changed = pyqtSignal()  # a value or the procedure changed (for views that follow the form)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.cls: type[LabqcProcedure] | None = None
        self.fields: dict[str, tuple[Any, QWidget, QLabel]] = {}
        self.memory: dict[str, dict[str, str]] = {}  # procedure name -> attr -> text
        self.layout_ = QFormLayout(self)
        self.layout_.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        self.message = self._error_label()

    @staticmethod
    def _error_label() -> QLabel:
        label = QLabel("")
        label.setWordWrap(True)
        label.setStyleSheet(ERROR_STYLE)
        # Wrapped text may grow in height, never widen the form (it would be cut off).
        label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        return label

    def remember(self) -> None:
        """Keep the current procedure's texts (restored when it is chosen again)."""
        if self.cls is not None:
            self.memory[self.cls.__name__] = {a: self.text(a) for a in self.fields}

    def set_procedure(self, cls: type[LabqcProcedure]) -> None:
        self.remember()
        while self.layout_.rowCount():
            self.layout_.removeRow(0)
        self.message = self._error_label()
        self.cls, self.fields = cls, {}
        for attr, param in parameter_specs(cls):
            self._add_row(cls, attr, param)
        self.layout_.addRow(self.message)
        for attr, text in self.memory.get(cls.__name__, {}).items():
            if attr in self.fields:
                self.set_value(attr, text)
        self.update_relevance()
        self.changed.emit()

    def _add_row(self, cls, attr: str, param: Any) -> None:
        widget = self._editor(param)
        widget.setToolTip(help_of(param))
        error = self._error_label()
        error.hide()
        # A number's text carries its unit ("5 mA"); the label names it for other fields.
        units = "" if isinstance(param, FloatParameter) else getattr(param, "units", None)
        holder = QWidget()
        col = QVBoxLayout(holder)
        col.setSpacing(0)
        col.setContentsMargins(0, 0, 0, 0)
        box = QHBoxLayout()
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(widget, 1)
        box.addWidget(QLabel(units or ""))
        col.addLayout(box)
        col.addWidget(error)
        self.layout_.addRow(param.name, holder)
        self.fields[attr] = (param, widget, error)
        if isinstance(widget, QLineEdit):
            widget.editingFinished.connect(lambda a=attr: self._check_field(a, normalise=True))
            widget.textChanged.connect(self.changed)
        elif isinstance(widget, QCheckBox):
            widget.toggled.connect(self.update_relevance)
            widget.toggled.connect(self.changed)
        else:
            widget.currentTextChanged.connect(self.update_relevance)
            widget.currentTextChanged.connect(self.changed)

    @staticmethod
    def _editor(param: Any) -> QWidget:
        if isinstance(param, BooleanParameter):
            w = QCheckBox()
            w.setChecked(bool(param.value))
            return w
        if isinstance(param, ListParameter):
            w = QComboBox()
            w.addItems([str(c) for c in param.choices])
            w.setCurrentText(str(param.value))
            return w
        return QLineEdit(value_text(param, param.value))

    def update_relevance(self, *_) -> None:
        """Disable the fields the chosen mode does not use (their values are kept)."""
        rules = RELEVANT.get(self.cls.__name__, {}) if self.cls else {}
        for attr, (_, widget, _) in self.fields.items():
            rule = rules.get(attr)
            on = rule is None or rule[0] not in self.fields or self.text(rule[0]) in rule[1]
            widget.setEnabled(on)
            label = self.layout_.labelForField(widget.parentWidget())
            if label is not None:
                label.setEnabled(on)

    def text(self, attr: str) -> str:
        _, w, _ = self.fields[attr]
        if isinstance(w, QCheckBox):
            return "true" if w.isChecked() else "false"
        if isinstance(w, QComboBox):
            return w.currentText()
        return w.text()

    def set_value(self, attr: str, text: str) -> None:
        _, w, _ = self.fields[attr]
        if isinstance(w, QCheckBox):
            w.setChecked(text.lower() in ("true", "1", "yes", "on"))
        elif isinstance(w, QComboBox):
            w.setCurrentText(text)
        else:
            w.setText(text)
        self.update_relevance()

    def _check_field(self, attr: str, normalise: bool = False) -> str:
        """Check one value; show and return its message ('' when fine). ``normalise``
        writes an understood number back as the form shows values ("0.005" -> "5 mA")."""
        param, widget, error = self.fields[attr]
        text = self.text(attr)
        try:
            value = parse_value(param, text)
            msg = ""
            if normalise and isinstance(widget, QLineEdit):
                shown = value_text(param, value)
                if shown != text:
                    widget.setText(shown)
        except ValueError as exc:
            msg = f"{param.name} {text!r} {exc}"
        error.setText(msg)
        error.setVisible(bool(msg))
        return msg

    def build_quietly(self) -> LabqcProcedure:
        """The procedure with the form's values, showing no message (ParameterError or
        ValueError when they are refused): for views that follow the form as it is edited."""
        assert self.cls is not None
        return build(self.cls, {a: self.text(a) for a in self.fields}, label=lambda _, param: param.name)

    def build(self) -> LabqcProcedure:
        """The procedure with the form's values; ParameterError (one sentence, also shown
        in the form) when a value or the procedure's validate() refuses them."""
        assert self.cls is not None
        try:
            messages = [m for m in (self._check_field(a) for a in self.fields) if m]
            if messages:
                raise ParameterError(messages[0])
            proc = build(self.cls, {a: self.text(a) for a in self.fields}, label=lambda _, param: param.name)
        except ParameterError as exc:
            self.message.setText(str(exc))
            raise
        self.message.setText("")
        return proc


__all__ = ["ParameterForm", "value_text", "RELEVANT"]
