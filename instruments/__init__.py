"""Instrument layer: real drivers behind one source-measure interface, and the simulator.

Procedures use :mod:`labqc.instruments.smu` and :func:`labqc.instruments.connect.open_smu` only.
"""
