"""The dashboard's process stays lean: opening it imports neither IPython (PyMeasure's
notebook support) nor SciPy's signal/optimize packages and ruptures (file analysis and
fits load them when used), and IPython still imports normally afterwards."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import importlib.util
import sys
installed = importlib.util.find_spec('IPython') is not None  # an optional PyMeasure dependency
import labqc.gui.app
heavy = [m for m in ('IPython', 'scipy.signal', 'scipy.optimize', 'scipy.stats', 'ruptures') if m in sys.modules]
print('heavy:', heavy)
import pymeasure.experiment.experiment as e
print('display:', hasattr(e, 'display'))
if installed:
    import IPython
    print('ipython:', IPython.__name__)
else:
    print('ipython: not installed')
"""


def test_opening_the_dashboard_imports_no_notebook_or_analysis_packages():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "heavy: []" in lines
    assert "display: False" in lines
    # Where IPython is installed it still imports after the dashboard hid it; a clean CI
    # install has no IPython, and then there is nothing to hide or restore.
    assert "ipython: IPython" in lines or "ipython: not installed" in lines
    assert "IPython could not be imported" not in out.stderr  # PyMeasure's warning kept quiet
