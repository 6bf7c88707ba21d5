"""Shared test set-up: Qt offscreen, and a fresh simulated lab per test where asked."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def private_dashboard_settings(tmp_path_factory):
    """Every test keeps the dashboard's remembered settings (labqc.gui.settings) in its own
    temporary folder, never the user's."""
    from PyQt6.QtCore import QSettings

    folder = tmp_path_factory.mktemp("settings")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    yield folder
