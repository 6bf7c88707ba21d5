"""labqc: acquisition and analysis for quantum-conductance memristor research.

This package is the core layer: units, analysis, results files, run plans and the
command line. It imports neither Qt nor VISA; the layers above it (instruments,
procedures, gui) import it, never the other way round.
"""
__version__ = "0.1.0"
