"""A PNG of the dashboard after a simulated bfo voltage sweep is a real picture: not
blank, many colours, the trace and the plateau colours present, the export readable."""
import numpy as np
import pytest
from PyQt6.QtGui import QImage

from labqc.gui.app import MainWindow
from labqc.instruments.sim.lab import get_lab, sim_library

SEED = 3


def image_array(path) -> np.ndarray:
    img = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB888)
    assert not img.isNull()
    ptr = img.constBits()
    ptr.setsize(img.sizeInBytes())
    rows = np.frombuffer(ptr, np.uint8).reshape(img.height(), img.bytesPerLine())
    return rows[:, : 3 * img.width()].reshape(img.height(), img.width(), 3).copy()


def run_bfo_sweep(window, qtbot, cycles: int = 2, step: str = "10") -> None:
    window.control.procedure.setCurrentText("VoltageSweep")
    window.control.form.set_value("cycles", str(cycles))
    window.control.form.set_value("step", step)
    assert window.control.request_run() is not None
    qtbot.waitUntil(lambda: not window.manager.busy, timeout=30_000)
    qtbot.waitUntil(lambda: window.state.complete, timeout=5_000)
    window.plots.redraw(force=True)
    qtbot.wait(100)


@pytest.fixture
def window(qtbot, tmp_path):
    get_lab(sim_library("bfo", SEED)).reset()
    w = MainWindow(seed=SEED, directory=tmp_path / "results")
    w.resize(1500, 950)
    qtbot.addWidget(w, before_close_func=lambda w: w.manager.shutdown())
    w.show()
    yield w
    w.manager.shutdown()
    w.close()


def test_dashboard_png_after_a_bfo_sweep_is_not_blank(window, qtbot, tmp_path):
    run_bfo_sweep(window, qtbot)
    path = window.export_png(tmp_path / "dashboard.png", whole_window=True)
    px = image_array(path)
    assert px.shape[:2] == (window.height(), window.width())
    assert px.std() > 20  # not a flat image
    colours = np.unique(px.reshape(-1, 3) // 8, axis=0)
    assert len(colours) > 50
    flat = px.reshape(-1, 3).astype(int)

    def has(rgb, tol=40, at_least=50):
        return int((np.abs(flat - np.array(rgb)).sum(axis=1) < tol).sum()) >= at_least

    assert has((230, 85, 13))  # plateau segments (orange)
    assert has((44, 160, 44))  # I–V trace (green)
    assert has((150, 150, 150)) or has((31, 119, 180))  # the G/G0 trace


def test_views_alone_export_and_png_suffix(window, qtbot, tmp_path):
    run_bfo_sweep(window, qtbot, cycles=1, step="20")
    path = window.export_png(tmp_path / "views")  # suffix added
    assert path.suffix == ".png" and path.exists()
    px = image_array(path)
    assert px.shape[:2] == (window.plots.height(), window.plots.width())
    assert px.std() > 20
