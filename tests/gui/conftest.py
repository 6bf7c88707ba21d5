"""The dashboard window most GUI tests use; files that need another seed or size define
their own ``window`` fixture, which takes precedence."""
import pytest

from labqc.gui.app import MainWindow


@pytest.fixture
def window(qtbot, tmp_path):
    w = MainWindow(directory=tmp_path)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()
