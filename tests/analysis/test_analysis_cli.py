"""`labqc analyze FILE` end to end: results CSV in, summary and PNG figures out."""
import numpy as np
import pandas as pd
import pytest

from labqc.cli import main
from labqc.synthetic import make_trace, scenario
from labqc.units import G0


def write_results(path, df, header=True):
    with open(path, "w") as f:
        if header:
            f.write("#Procedure: <labqc.procedures.sweeps.CurrentSweep>\n#Parameters:\n#\tCompliance: 0.0004 A\n#Data:\n")
        df.to_csv(f, index=False)
    return path


@pytest.fixture(scope="module")
def sweep_csv(tmp_path_factory):
    tr = make_trace(scenario("realistic", n_cycles=4, seed=31))
    n = tr.g.size
    cycle = np.searchsorted(tr.cycle_starts, np.arange(n), side="right") - 1
    v = np.full(n, 0.1)
    df = pd.DataFrame({
        "Time (s)": np.arange(n) * 0.1, "Voltage (V)": v, "Current (A)": tr.g * G0 * v,
        "G (S)": tr.g * G0, "G/G0": tr.g, "Compliance": False, "Cycle": cycle,
    })
    return write_results(tmp_path_factory.mktemp("run") / "sweep.csv", df)


def test_analyze_prints_a_summary_and_writes_figures(sweep_csv, capsys):
    assert main(["analyze", str(sweep_csv)]) == 0
    out = capsys.readouterr().out
    assert "cycles: 4" in out
    rs = float(out.split("series resistance: ")[1].split(" ")[0])
    assert rs == pytest.approx(200.0, rel=0.05)
    assert "histogram peaks (corrected, G0):" in out and "level (G0)" in out
    for name in ("sweep_histogram.png", "sweep_trace.png"):
        png = sweep_csv.parent / name
        assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"


def test_given_series_resistance_and_no_figures(tmp_path, capsys):
    g = np.repeat([1.0, 2.0, 3.0], 200) + np.random.default_rng(0).normal(0, 0.02, 600)
    path = write_results(tmp_path / "g.csv", pd.DataFrame({"G/G0": g}), header=False)
    assert main(["analyze", str(path), "--r-series", "0", "--no-figures"]) == 0
    out = capsys.readouterr().out
    assert "0.0 ± 0.0 ohm (given)" in out and "plateaus: 3 (3 on the quantum grid" in out
    assert not list(tmp_path.glob("*.png"))


def test_pulse_file_gets_pulse_views(tmp_path, capsys):
    pulse = np.repeat(np.arange(1, 51), 8)
    current = np.repeat(1e-4 * (1 - 0.005 * np.arange(50)), 8)
    df = pd.DataFrame({"Pulse": pulse, "Current (A)": current, "Voltage (V)": 1.5, "G/G0": current / 1.5 / G0})
    path = write_results(tmp_path / "train.csv", df)
    assert main(["analyze", str(path)]) == 0
    assert "pulses: 50; I_N/I_1 = 0.755" in capsys.readouterr().out
    assert (tmp_path / "train_pulses.png").stat().st_size > 10_000


def test_pulse_and_read_rows_are_told_apart_by_segment(tmp_path, capsys):
    # A SET train as the procedures write it: a reset (pulse -1), then pulse/read pairs.
    n = 40
    level = np.minimum(1.0 + 0.5 * (np.arange(n) // 8), 3.0)  # G/G0 after each pulse
    rows = [dict(Segment="reset", Pulse=-1, **{"Voltage (V)": -1.0, "Current (A)": -1e-5})]
    for i in range(n):
        rows.append({"Segment": "pulse", "Pulse": i + 1, "Voltage (V)": 1.5, "Current (A)": 1e-4 * level[i]})
        rows.append({"Segment": "read", "Pulse": i + 1, "Voltage (V)": 0.1, "Current (A)": 0.1 * G0 * level[i]})
    df = pd.DataFrame(rows)
    df["G/G0"] = df["Current (A)"] / df["Voltage (V)"] / G0
    path = write_results(tmp_path / "set.csv", df)
    assert main(["analyze", str(path), "--r-series", "0", "--no-figures"]) == 0
    out = capsys.readouterr().out
    assert "pulses: 40; I_N/I_1 = 3.000" in out
    assert "G/G0 at the read 1.00 -> 3.00" in out


def test_compliance_samples_are_left_out(tmp_path, capsys):
    g = np.repeat([1.0, 2.0], 200) + np.random.default_rng(1).normal(0, 0.02, 400)
    comp = np.zeros(400, bool)
    comp[300:] = True
    path = write_results(tmp_path / "c.csv", pd.DataFrame({"G/G0": g, "Compliance": comp}), header=False)
    assert main(["analyze", str(path), "--r-series", "0", "--no-figures"]) == 0
    assert "400 samples (300 usable)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "does not exist"),
        ("", "not a readable results CSV"),
        ("a,b\n1,2\n", "no 'G/G0' column"),
        ("G/G0\nnan\nnan\n", "no finite G/G0"),
        ("G/G0\n-1\n-1\n-1\n", "negative"),
    ],
)
def test_bad_file_is_one_sentence_and_exit_code_2(tmp_path, capsys, content, message):
    path = tmp_path / "bad.csv"
    if content is not None:
        path.write_text(content)
    assert main(["analyze", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and "Traceback" not in "".join(err)


def test_importing_the_registrar_loads_no_scipy_matplotlib_or_views():
    # `labqc --help` imports every registrar: the heavy libraries load only when the command runs.
    import subprocess
    import sys

    code = (
        "import sys, labqc.analyze_cli\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('scipy', 'matplotlib', 'ruptures', 'pandas')"
        " or m == 'labqc.views' or m == 'labqc.plateaus')\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def test_estimated_series_resistance_prints_its_interval(sweep_csv, capsys):
    assert main(["analyze", str(sweep_csv), "--no-figures"]) == 0
    out = capsys.readouterr().out
    line = next(s for s in out.splitlines() if s.startswith("series resistance:"))
    lo, hi = (float(v) for v in line.split("95 % interval ")[1].split(" ohm")[0].split(".."))
    assert lo <= 200.0 <= hi and hi - lo < 60.0  # the trace was made with 200 ohm


def test_a_single_level_file_says_why_it_has_no_levels(tmp_path, capsys):
    g = 4.0 + np.random.default_rng(1).normal(0, 0.03, 2000)
    path = write_results(tmp_path / "one.csv", pd.DataFrame({"G/G0": g}), header=False)
    assert main(["analyze", str(path), "--no-figures"]) == 0
    out = capsys.readouterr().out
    assert "no levels: all plateaus sit at one level" in out and "(0 on the quantum grid" in out
