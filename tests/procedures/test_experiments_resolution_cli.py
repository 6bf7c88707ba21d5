"""`labqc run ... --check` prints the resolution advice and runs nothing; a run warns when
its reads cannot resolve 0.5 G0; a program-to-level that misses its target exits 5."""
from labqc.cli import main
from labqc.instruments.sim.lab import get_lab, sim_library
from labqc.results import read_summary


def test_check_prints_the_advice_and_runs_nothing(tmp_path, capsys):
    path = tmp_path / "p.csv"
    code = main(["run", "PulseTrain", "--sim", "bfo", "--read-voltage", "0.1", "--check", "-o", str(path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "nothing was run" in out and "read between pulses at 0.1 V" in out
    assert "3.87 µA" in out  # 0.5 G0 at 0.1 V: 0.5 x 77.48 µS x 0.1 V
    assert not path.exists()


def test_check_on_the_4200a_uses_its_figures(capsys):
    assert main(["run", "SetReset", "--resource", "GPIB0::17::INSTR", "--sim", "bfo", "--check"]) == 0
    out = capsys.readouterr().out
    assert "(4200A)" in out and "the 4200A floor" in out


def test_a_run_warns_when_its_reads_cannot_resolve_half_quanta(tmp_path, capsys):
    get_lab(sim_library("ohmic", 0)).reset()
    code = main(["run", "Retention", "--sim", "ohmic", "--duration", "5", "--interval", "1",
                 "--prepare", "none", "--read-voltage", "0.01", "--nplc", "0.001",
                 "-o", str(tmp_path / "r.csv"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 0
    assert "warning:" in err and "NOT resolvable" in err and "10 mV" in err


def test_a_run_with_resolvable_reads_prints_no_resolution_warning(tmp_path, capsys):
    get_lab(sim_library("ohmic", 0)).reset()
    code = main(["run", "Retention", "--sim", "ohmic", "--duration", "5", "--interval", "1",
                 "--prepare", "none", "--read-voltage", "0.1", "--nplc", "1",
                 "-o", str(tmp_path / "r.csv"), "--no-progress"])
    assert code == 0
    assert "resolvable" not in capsys.readouterr().err


def test_program_to_level_that_misses_its_target_exits_5(tmp_path, capsys):
    get_lab(sim_library("ag-nanowire", 0)).reset()
    path = tmp_path / "prog.csv"
    # 20 G0 needs ~1.5 mA at 1 V; a 50 uA compliance that may not grow cannot get there
    code = main(["run", "SetReset", "--sim", "ag-nanowire", "--mode", "program", "--target", "20",
                 "--tolerance", "0.5", "--set-compliance", "50uA", "--max-compliance", "50uA",
                 "--max-attempts", "2", "-o", str(path), "--no-progress"])
    assert code == 5
    assert read_summary(path)["results"]["reached"] is False
    assert "did not reach 20" in capsys.readouterr().out


def test_program_to_level_that_reaches_its_target_exits_0(tmp_path, capsys):
    get_lab(sim_library("ag-nanowire", 0)).reset()
    path = tmp_path / "prog.csv"
    code = main(["run", "SetReset", "--sim", "ag-nanowire", "--mode", "program", "--target", "1",
                 "--tolerance", "0.25", "-o", str(path), "--no-progress"])
    assert read_summary(path)["results"]["reached"] is True
    assert code == 0


def test_check_judges_the_reads_a_search_decides_on(capsys):
    assert main(["run", "ProgramToLevel", "--sim", "ag-nanowire", "--nplc", "0.01", "--check"]) == 0
    out = capsys.readouterr().out
    # 0.5 G0 at 0.1 V (3.9 uA) against the 1 mA range at NPLC 0.01 (2 uA): not resolvable
    assert "read after each search pulse at 0.1 V" in out and "NOT resolvable" in out
    assert main(["run", "ProgramToLevel", "--sim", "ag-nanowire", "--nplc", "0.1", "--check"]) == 0
    assert "NOT" not in capsys.readouterr().out.split("search pulse")[1].splitlines()[0]
