"""The dashboard window most GUI tests use; files that need another seed or size define
their own ``window`` fixture, which takes precedence. Every test keeps the dashboard's
settings in its own temporary folder (tests/conftest.py), never the user's."""
import pytest

from labqc.gui.app import MainWindow


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
