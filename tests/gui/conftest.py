"""The dashboard window most GUI tests use; files that need another seed or size define
their own ``window`` fixture, which takes precedence. Every test keeps the dashboard's
settings (labqc.gui.settings) in its own temporary folder, never the user's."""
import pytest
from PyQt6.QtCore import QSettings

from labqc.gui.app import MainWindow


@pytest.fixture(autouse=True)
def private_settings(tmp_path_factory):
    folder = tmp_path_factory.mktemp("settings")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    yield folder


def close_window(w) -> None:
    """Close without the "abort the run?" question: stop any run first."""
    w.manager.shutdown()
    w.close()


@pytest.fixture
def window(qtbot, tmp_path):
    w = MainWindow(directory=tmp_path)
    qtbot.addWidget(w, before_close_func=lambda w: w.manager.shutdown())
    w.show()
    yield w
    close_window(w)
