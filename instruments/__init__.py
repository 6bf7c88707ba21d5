"""Instrument layer: real drivers behind one source-measure interface, and the simulator.

Procedures use :mod:`instruments.smu` and :func:`instruments.connect.open_smu` only.
"""
