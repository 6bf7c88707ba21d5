"""labqc: acquisition and analysis for quantum-conductance memristor research.

This package is the core layer: units, analysis, results files, run plans and the
command line. It imports neither Qt nor VISA; the layers above it (instruments,
procedures, gui) import it, never the other way round.
"""
import os as _os

__version__ = "0.1.0"

# Installed, the layers are subpackages of this one (labqc.instruments, labqc.procedures,
# labqc.gui; see pyproject.toml). In a source checkout they are the folders beside this one:
# look for them there first, so that a checkout (or a git worktree of it) runs its own code.
_checkout = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if _os.path.isfile(_os.path.join(_checkout, "pyproject.toml")) and \
        _os.path.isdir(_os.path.join(_checkout, "instruments")):
    __path__.append(_checkout)  # type: ignore[name-defined]  # noqa: F821

