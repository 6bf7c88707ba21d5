"""Installing labqc claims one top-level name (plus the PyVISA plugin PyVISA requires), and
a user's own gui.py, instruments.py and procedures.py next to their script cannot take the
place of labqc's layers. Checked on the source checkout and on a wheel built from it and
installed into a folder of its own, each in a fresh Python process started in the user's
folder (where Python looks first for imports)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("gui", "instruments", "procedures")

#: A lab script that imports its own modules (named like labqc's layers, each announcing
#: itself on stderr when imported) and then drives labqc's command line.
USER_SCRIPT = textwrap.dedent("""\
    import sys
    import procedures                      # the user's own file, on purpose
    import labqc.cli

    code_list = labqc.cli.main(["list", "VoltageSweep"])
    code_run = labqc.cli.main(["run", "VoltageSweep", "--sim", "ohmic", "--cycles", "1",
                               "--v-set", "0.2", "--v-reset", "0.2", "--step", "50",
                               "-o", "sweep.csv", "--no-progress"])
    import labqc.procedures, labqc.instruments, labqc.gui
    print("USER procedures is", procedures.WHO)
    print("LABQC procedures from", labqc.procedures.__file__)
    print("LABQC gui from", labqc.gui.__file__)
    sys.exit(code_list or code_run)
""")


def _user_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "my lab"
    folder.mkdir()
    for name in LAYERS:
        (folder / f"{name}.py").write_text(
            f"import sys\nWHO = 'the user'\nprint('USER FILE {name}.py imported', file=sys.stderr)\n")
    (folder / "measure.py").write_text(USER_SCRIPT)
    return folder


def _run_script(folder: Path, pythonpath: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(pythonpath), "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, "measure.py"], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=300)


def _assert_labqc_unshadowed(proc: subprocess.CompletedProcess, folder: Path, labqc_root: Path) -> None:
    assert proc.returncode == 0, proc.stderr
    # The script imported its own procedures.py (once); labqc imported none of the user's files.
    assert proc.stderr.count("USER FILE procedures.py imported") == 1, proc.stderr
    assert "USER FILE gui.py" not in proc.stderr and "USER FILE instruments.py" not in proc.stderr
    assert "USER procedures is the user" in proc.stdout
    assert "VoltageSweep:" in proc.stdout and "VoltageSweep finished" in proc.stdout
    for line in proc.stdout.splitlines():
        if line.startswith("LABQC "):
            where = Path(line.split(" from ", 1)[1]).resolve()
            assert labqc_root.resolve() in where.parents, line
    rows = (folder / "sweep.csv").read_text().splitlines()
    assert sum(1 for r in rows if not r.startswith("#")) > 10


def test_a_users_script_among_files_named_like_the_layers_runs_from_the_checkout(tmp_path):
    folder = _user_folder(tmp_path)
    _assert_labqc_unshadowed(_run_script(folder, ROOT), folder, ROOT)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel of this checkout, built from a copy of the files git does not ignore (the
    build leaves its scratch folders in the source tree)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    tracked = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=ROOT, capture_output=True, check=True)
    for name in tracked.stdout.decode().split("\0"):
        if name and not name.startswith(("tests/", "benchmarks/", "sample_data/")) and (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            (src / name).write_bytes((ROOT / name).read_bytes())
    out = tmp / "dist"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)],
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    (path,) = out.glob("labqc-*.whl")
    return path


def test_the_wheel_installs_no_top_level_gui_instruments_or_procedures(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    # pyvisa_labqcsim is where PyVISA looks for the '@labqcsim' backend: the name is PyVISA's rule.
    assert top == {"labqc", "pyvisa_labqcsim"}
    for layer in LAYERS:
        assert f"labqc/{layer}/__init__.py" in names
    assert "labqc/instruments/sim/__init__.py" in names
    info = {n.rsplit("/", 1)[1]: n for n in names if n.split("/", 1)[0].endswith(".dist-info")}
    top_level = zipfile.ZipFile(wheel).read(info["top_level.txt"]).decode().split() if "top_level.txt" in info else []
    assert not set(top_level) & set(LAYERS)
    entry_points = zipfile.ZipFile(wheel).read(info["entry_points.txt"]).decode()
    for layer in LAYERS:  # every entry point names a module inside labqc
        assert f"= {layer}." not in entry_points
    assert "labqc = labqc.cli:main" in entry_points


def test_a_users_script_runs_with_labqc_installed_from_the_wheel(wheel, tmp_path):
    site = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
                              str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr
    folder = _user_folder(tmp_path)
    _assert_labqc_unshadowed(_run_script(folder, site), folder, site)


def test_python_dash_m_labqc_is_the_labqc_command(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "labqc", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)

    from labqc import __version__

    version = run("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"labqc {__version__}"
    listed = run("list")
    assert listed.returncode == 0 and "VoltageSweep:" in listed.stdout and "Retention:" in listed.stdout
    bad = run("run", "VoltageSweep", "--step", "0", "-o", str(tmp_path / "x.csv"))
    assert bad.returncode == 2 and "step must be > 0 mV" in bad.stderr
    bare = run()
    assert bare.returncode == 2 and "usage: labqc" in bare.stdout
