"""The dashboard's catalog tab (gui/run_browser.py): filters narrow the table, a run opens
into the views, a selection is pooled into the histogram view; GUI runs appear in it."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from labqc.analyze_cli import load
from labqc.catalog import Catalog
from labqc.catalog_files import import_directory

SET = Path(__file__).resolve().parents[2] / "sample_data" / "multi-device"


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.delenv("LABQC_CATALOG", raising=False)
    with Catalog(tmp_path / "catalog.sqlite") as cat:
        import_directory(cat, SET)
    from labqc.gui.app import MainWindow

    w = MainWindow(directory=tmp_path)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()


def test_filters_narrow_the_table(window):
    b = window.catalog_browser
    assert b.table.rowCount() == 15
    assert [b.device.itemText(k) for k in range(b.device.count())] == ["(any)", "NW1", "NW2", "NW3", "NW4", "NW5"]
    b.device.setCurrentText("NW2")
    assert b.table.rowCount() == 3
    b.procedure.setCurrentText("CurrentSweep")
    assert b.table.rowCount() == 2
    assert {b.table.item(r, 3).text() for r in range(2)} == {"NW2"}
    b.use_dates.setChecked(True)
    b.since.setDate(b.until.date().addYears(5))  # a window after every run
    assert b.table.rowCount() == 0
    b.use_dates.setChecked(False)
    assert b.table.rowCount() == 2


def test_open_a_run_shows_it(window, qtbot):
    b = window.catalog_browser
    b.procedure.setCurrentText("CurrentSweep")
    b.table.selectRow(0)
    b.open_selected()
    qtbot.waitUntil(lambda: not window.loaders and len(window.state.store) > 0, timeout=30_000)
    shown = window.browser.records[0]
    assert shown.path == Path(b.runs[0]["path"]) and shown.state is window.state
    assert len(window.state.store) > 0.9 * b.runs[0]["rows"]


def test_pool_a_selection_into_the_histogram(window, qtbot):
    b = window.catalog_browser
    b.procedure.setCurrentText("CurrentSweep")
    b.device.setCurrentText("NW1")
    b.table.selectAll()
    chosen = b.selected()
    assert len(chosen) == 2
    with qtbot.waitSignal(b.pooled, timeout=60_000) as got:
        b.pool_selected()
    result = got.args[0]
    assert [r["id"] for r in result.runs] == [r["id"] for r in chosen]
    counts = window.state.histogram.counts
    # every usable sample of the two files is in the histogram on screen
    usable = sum(int(np.isfinite(load(Path(r["path"]))["g"]).sum()) for r in chosen)
    assert abs(int(counts.sum()) - usable) <= 2
    peak = window.state.histogram.centers[np.argmax(counts)]
    assert min(abs(peak - q) for q in (1.0, 2.0, 3.0)) < 0.1  # a quantised level, R_s-corrected
    assert "pooled 2 runs" in b.status.text()


def test_a_gui_run_appears_in_the_catalog(window, qtbot):
    control = window.control
    control.form.set_value("device", "NW42")
    with qtbot.waitSignal(window.manager.finished, timeout=120_000):
        control.request_run()
    qtbot.waitUntil(lambda: "NW42" in [window.catalog_browser.device.itemText(k)
                                       for k in range(window.catalog_browser.device.count())], timeout=10_000)
    window.catalog_browser.device.setCurrentText("NW42")
    assert window.catalog_browser.table.rowCount() == 1
    assert window.catalog_browser.table.item(0, 5).text() == "finished"
