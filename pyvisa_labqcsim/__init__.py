"""PyVISA looks for a backend named ``@labqcsim`` in a top-level module ``pyvisa_labqcsim``;
this shim is all that module is. The backend itself lives in instruments/sim/visa_backend.py.

    pyvisa.ResourceManager("@labqcsim")                 # default simulated lab
    pyvisa.ResourceManager("preset=bfo;seed=3@labqcsim")  # see labqc.instruments.sim.lab.sim_library
"""
from labqc.instruments.sim.visa_backend import WRAPPER_CLASS  # noqa: F401
