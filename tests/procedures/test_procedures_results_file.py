"""The results writer: PyMeasure's format (Results.load reads it back with parameters and
metadata), chunks flushed as they come, and I/O errors that fail loudly with what was
written intact."""
import errno
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from pymeasure.experiment import Results

from labqc.instruments.smu import KIND_POINT, READING
from labqc.results import (COLUMNS, ResultsWriter, read_data, read_header, read_summary,
                           summary_path, write_summary)
from labqc.procedures import VoltageSweep
from labqc.procedures.base import reading_rows
from labqc.instruments.target import Target


def chunk(n, start=0.0):
    a = np.zeros(n, READING)
    a["t"] = start + np.arange(n) * 0.01
    a["source"] = np.linspace(0.01, 1.0, n)
    a["v"] = a["source"]
    a["i"] = a["v"] * 3 * 7.748091729e-5
    a["compliance"] = np.arange(n) % 7 == 0
    a["index"] = np.arange(n)
    a["kind"] = KIND_POINT
    return a


def stamped(target=None, **params):
    proc = VoltageSweep(**params)
    proc.stamp_metadata("KEITHLEY INSTRUMENTS INC.,MODEL 2614B,4321,3.2.2", target)
    proc.evaluate_metadata()
    return proc


def test_pymeasure_loads_the_file_with_parameters_metadata_and_rows(tmp_path):
    path = tmp_path / "sweep.csv"
    proc = stamped(Target(preset="ag-nanowire", seed=4), set_compliance=7e-3, cycles=4, step=2.5)
    with ResultsWriter(path, proc) as w:
        w.write(reading_rows(chunk(50)))
        w.write(reading_rows(chunk(30, 1.0), cycle=2, segment="reset"))
    loaded = Results.load(str(path))
    p = loaded.procedure
    assert type(p) is VoltageSweep
    assert (p.set_compliance, p.cycles, p.step) == (7e-3, 4, 2.5)
    # where it was measured: the Target, under the header names it always had
    assert (p.target_resource, p.target_preset, p.target_seed) == ("", "ag-nanowire", "4")
    assert "2614B" in p.instrument and "ag-nanowire" in p.instrument
    assert float(p.g0.split()[0]) == pytest.approx(7.748091729e-5, rel=1e-9)
    data = loaded.data
    assert list(data.columns) == list(COLUMNS)
    assert len(data) == 80
    assert data["Compliance"].dtype == bool and data["Compliance"].sum() == 8 + 5
    assert set(data["Segment"]) == {"set", "reset"}
    assert data["G/G0"].to_numpy() == pytest.approx(3.0)
    # pandas alone reads it too, and so does our own header reader
    assert len(pd.read_csv(path, comment="#")) == 80
    header = read_header(path)
    assert header["procedure"] == "labqc.procedures.voltage_sweep.VoltageSweep"
    assert header["parameters"]["SET compliance"] == "0.007 A"
    assert "Start time" in header["metadata"]
    assert header["metadata"]["Simulator preset"] == "ag-nanowire" and header["metadata"]["Seed"] == "4"


def test_rows_are_on_disk_after_each_chunk_before_close(tmp_path):
    path = tmp_path / "live.csv"
    w = ResultsWriter(path, stamped())
    w.write(reading_rows(chunk(10)))
    assert len(read_data(path)) == 10  # readable while the writer is still open
    w.write(reading_rows(chunk(5, 1.0)))
    assert len(read_data(path)) == 15
    w.close()
    assert w.rows == 15 and w.closed


def test_writer_refuses_to_overwrite_an_existing_file(tmp_path):
    path = tmp_path / "old.csv"
    path.write_text("precious\n")
    with pytest.raises(FileExistsError):
        ResultsWriter(path, stamped())
    assert path.read_text() == "precious\n"


def test_a_missing_column_is_named(tmp_path):
    w = ResultsWriter(tmp_path / "x.csv", stamped())
    with pytest.raises(ValueError, match="G_corr/G0"):
        w.write(reading_rows(chunk(3))[[c for c in COLUMNS if c != "G_corr/G0"]])
    w.close()


def test_disk_full_device_fails_at_once():
    # /dev/full accepts the open and fails every write with ENOSPC, like a full disk.
    with pytest.raises(OSError) as info:
        ResultsWriter("/dev/full", stamped())
    assert info.value.errno == errno.ENOSPC


def test_file_size_limit_mid_run_raises_and_leaves_whole_rows(tmp_path):
    # A real OS-level write failure in the middle of a run: RLIMIT_FSIZE makes the
    # kernel refuse writes past 12 kB (EFBIG), in a child process so pytest is unaffected.
    path = tmp_path / "limited.csv"
    script = textwrap.dedent(f"""
        import resource, sys
        import numpy as np
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_procedures_results_file import chunk, stamped
        from labqc.results import ResultsWriter
        from labqc.procedures.base import reading_rows
        resource.setrlimit(resource.RLIMIT_FSIZE, (12000, 12000))
        w = ResultsWriter({str(path)!r}, stamped())
        try:
            for k in range(100):
                w.write(reading_rows(chunk(20, k)))
        except OSError as exc:
            print("ERR", exc.errno, w.rows)
            sys.exit(0)
        print("NOERR")
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    tag, code, rows = out.stdout.split()
    assert tag == "ERR" and int(code) == errno.EFBIG
    data = read_data(path)
    assert len(data) == int(rows) > 0
    assert len(data) % 20 == 0  # cut back to the last complete chunk
    assert path.read_text().endswith("\n")


def test_summary_json_round_trip_with_nan_and_numpy(tmp_path):
    data = tmp_path / "run.csv"
    target = write_summary(data, {"V_SET (V)": np.float64(1.25), "HRS": float("nan"),
                                  "levels": np.array([1.0, 2.0]), "n": np.int64(3)})
    assert target == summary_path(data) == tmp_path / "run.summary.json"
    back = read_summary(data)
    assert back == {"V_SET (V)": 1.25, "HRS": None, "levels": [1.0, 2.0], "n": 3}


def test_a_file_whose_header_is_not_written_yet_reads_as_no_rows(tmp_path):
    # Readers (the plan runner's tests, a dashboard opening a live file) poll files that a
    # run has only just created.
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert len(read_data(empty)) == 0
    comments_only = tmp_path / "comments.csv"
    comments_only.write_text("#Procedure: <labqc.procedures.VoltageSweep>\n#Parameters:\n")
    assert len(read_data(comments_only)) == 0
