"""The dashboard window most GUI tests use; files that need another seed or size define
their own ``window`` fixture, which takes precedence. Every test keeps the dashboard's
settings in its own temporary folder (tests/conftest.py), never the user's."""
import gc

import pytest
from PyQt6.QtCore import QEvent
from PyQt6.QtWidgets import QApplication

from labqc.gui.app import MainWindow


@pytest.fixture(autouse=True)
def let_widgets_die_in_their_own_test(qtbot):
    """After each test, delete its closed dashboards at once. pyqtgraph items deleted late
    err in whichever later test next runs the event loop ("ViewBox has been deleted"),
    so each test's teardown noise stays in its own teardown instead of failing another."""
    yield
    with qtbot.capture_exceptions():
        gc.collect()
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
        QApplication.processEvents()


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
