"""What the dashboard remembers between sessions (QSettings, organisation "labqc",
application "dashboard"): the instrument box, the procedure chosen, the values last used
for each procedure, the results folder, and the window's layout (geometry, docks,
splitters). Values given on the command line win over remembered ones.

Tests point QSettings at a temporary folder (tests/gui/conftest.py), never at the user's.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

from PyQt6.QtCore import QByteArray, QSettings

if TYPE_CHECKING:
    from labqc.gui.app import MainWindow

ORGANISATION, APPLICATION = "labqc", "dashboard"


def open_settings() -> QSettings:
    """The user's settings in QSettings' default format (the platform's own unless a test
    chose another with QSettings.setDefaultFormat and setPath)."""
    return QSettings(QSettings.defaultFormat(), QSettings.Scope.UserScope, ORGANISATION, APPLICATION)


def _text(settings: QSettings, key: str) -> str | None:
    value = settings.value(key)
    return None if value is None else str(value)


def restore(window: "MainWindow", *, keep: set[str] = frozenset()) -> None:
    """Apply the remembered settings to ``window``; ``keep``: instrument fields given on
    the command line ("preset", "seed", "resource"), left as they are."""
    s = open_settings()
    box = window.control.instrument
    kind = _text(s, "instrument/kind")
    if kind is not None and not keep:
        box.kind.setCurrentText(kind)
    for name, apply in (("resource", box.resource.setCurrentText), ("preset", box.preset.setCurrentText),
                        ("seed", lambda t: box.seed.setValue(int(t))), ("time_scale", box.time_scale.setText)):
        value = _text(s, f"instrument/{name}")
        if value is not None and name not in keep:
            try:
                apply(value)
            except ValueError:
                pass
    form = window.control.form
    try:
        form.memory.update(json.loads(_text(s, "values") or "{}"))
    except (ValueError, TypeError):
        pass  # unreadable remembered values: the procedures' defaults
    procedure = _text(s, "procedure")
    control = window.control
    if procedure and control.procedure.findText(procedure) >= 0:
        control.procedure.setCurrentText(procedure)
    if form.cls is not None:  # the current procedure's remembered values
        for attr, text in form.memory.get(form.cls.__name__, {}).items():
            if attr in form.fields:
                form.set_value(attr, text)
    folder = _text(s, "results_folder")
    if folder and not window.directory_given:
        control.directory.setText(folder)
    for key, target in (("window/geometry", window.restoreGeometry), ("window/state", window.restoreState)):
        value = s.value(key)
        if isinstance(value, QByteArray) and not value.isEmpty():
            target(value)
    for k, splitter in enumerate(window.plots.splitters):
        value = s.value(f"window/splitter{k}")
        if isinstance(value, QByteArray) and not value.isEmpty():
            splitter.restoreState(value)


def save(window: "MainWindow") -> None:
    """Remember the window's settings now."""
    s = open_settings()
    box = window.control.instrument
    s.setValue("instrument/kind", box.kind.currentText())
    s.setValue("instrument/resource", box.resource.currentText())
    s.setValue("instrument/preset", box.preset.currentText())
    s.setValue("instrument/seed", str(box.seed.value()))
    s.setValue("instrument/time_scale", box.time_scale.text())
    form = window.control.form
    form.remember()
    s.setValue("values", json.dumps(form.memory))
    s.setValue("procedure", window.control.procedure.currentText())
    s.setValue("results_folder", window.control.directory.text())
    s.setValue("window/geometry", window.saveGeometry())
    s.setValue("window/state", window.saveState())
    for k, splitter in enumerate(window.plots.splitters):
        s.setValue(f"window/splitter{k}", splitter.saveState())
    s.sync()


__all__ = ["restore", "save", "open_settings"]
