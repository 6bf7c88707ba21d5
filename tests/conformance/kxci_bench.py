"""A simulated 4200A-SCS served on a loopback KXCI socket and reached with pyvisa-py, set
up the way Tektronix's KXCI examples set up theirs: NUL write and read termination, every
command sent with ``query()`` and the reply ``rstrip()``-ed (their instrcomms.py), and
``time.sleep`` between status polls (here on a simulated clock 100 times faster than real).
"""
from __future__ import annotations

import time

import pyvisa

from labqc.instruments.sim.lab import RES_4200A_LAN, SimulatedLab
from labqc.instruments.sim.server import start_background

TIME_SCALE = 0.01  # wall seconds per simulated second
R = 10e3  # ohm, the ohmic preset on SMU1 and PMU channel 1; every other channel is open


class KxciBench:
    """One served lab and one pyvisa-py session on its KXCI port."""

    def __init__(self, preset: str = "ohmic") -> None:
        self.lab = SimulatedLab(preset, seed=3, time_scale=TIME_SCALE)
        self.server = start_background(self.lab, port_2614b=None, port_4200a=0)
        self.resource = self.server.resources["4200A"]
        self.rm = pyvisa.ResourceManager("@py")
        self.inst = self.rm.open_resource(self.resource)
        self.inst.timeout = 5000
        self.inst.write_termination = "\0"
        self.inst.read_termination = "\0"

    @property
    def emulator(self):
        return self.lab.emulator(RES_4200A_LAN)

    def query(self, cmd: str) -> str:
        """As the examples' instrcomms.Communications.query: send, read, rstrip()."""
        return self.inst.query(cmd).rstrip()

    @staticmethod
    def sleep(seconds: float) -> None:
        """``time.sleep(seconds)`` of the examples, in simulated seconds."""
        time.sleep(seconds * TIME_SCALE)

    def wait_sp(self) -> None:
        """The examples' loop after ME1: poll SP every second until it reads 0 or 1."""
        for _ in range(10_000):
            if int(self.query("SP")) in [0, 1]:
                return
            self.sleep(1)
        raise AssertionError("SP never read 0 or 1")

    def wait_pmu(self) -> None:
        """The examples' loop after :PMU:EXECUTE: poll :PMU:TEST:STATUS? until it reads 0."""
        for _ in range(10_000):
            if int(self.query(":PMU:TEST:STATUS?")) == 0:
                return
            self.sleep(1)
        raise AssertionError(":PMU:TEST:STATUS? never read 0")

    def retrieve(self, name: str) -> list[float]:
        """The examples' retrieve_measurements: RD 'name', k from 1 until the reply is "0"."""
        index, values = 1, []
        while True:
            data = self.query(f"RD '{name}', {index}")
            if data == "0":
                return values
            values.append(float(data))
            index += 1

    def close(self) -> None:
        try:
            self.inst.close()
            self.rm.close()
        finally:
            self.server.stop()
