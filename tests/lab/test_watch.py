"""`labqc gui --watch`: a station's live run in the dashboard's views, fed by published chunks."""
from __future__ import annotations

import numpy as np
import pandas as pd

from labqc.gui.live_state import LiveState
from labqc.gui.stream_buffer import chunk_from_frame
from labqc.gui.watch import WatchWindow
from labqc.procedures.station_director import LabDirector

from .conftest import wait_for


def marks(state: LiveState) -> list[tuple]:
    return [(p.start, p.stop, round(float(p.level), 6)) for p in state.plateaus]


def test_the_watch_window_shows_the_remote_run_with_the_same_plateaus_as_its_file(lab, qtbot):
    window = WatchWindow("nw", "127.0.0.1", lab.data_port - 1)
    qtbot.addWidget(window)
    qtbot.wait(1000)  # the subscription travels through the proxy to the station
    with LabDirector("alice", "127.0.0.1", lab.port, lab=lab.tmp / "lab") as d:
        for _ in range(3):  # a run joined late (the subscription not through yet) is not judged
            before = len(d.call("nw", "station_runs"))
            window.state.finished = False
            d.call("nw", "run_procedure", procedure="CurrentSweep", parameters={"cycles": "1"})
            qtbot.waitUntil(lambda: window.state.finished and window.state.complete, timeout=60_000)
            runs = wait_for(lambda: (r := d.call("nw", "station_runs")) and len(r) > before and r, 30,
                            "the catalog row")
            if not window.joined_mid_run:
                break
        assert not window.joined_mid_run, "three runs and never one seen from its start"
    record = runs[-1]
    assert record["procedure"] == "CurrentSweep" and record["status"] == "finished"
    frame = pd.read_csv(record["path"], comment="#")
    local = LiveState()
    local.append(chunk_from_frame(frame))
    local.finish()
    while not local.complete:
        local.process()
    # every measured row arrived, and the online detector found what it finds in the file
    np.testing.assert_array_equal(window.state.store["t"], local.store["t"])
    np.testing.assert_array_equal(window.state.store["g"], local.store["g"])
    assert marks(window.state) == marks(local)
    assert "read-only" in window.windowTitle() and "rows" in window.status.text()
    window.close()
