"""Speed of the simulated lab: device model, PyVISA backend, loopback socket.

    python benchmarks/sim.py [--quick]

Figures (printed, and as JSON on the final line):
- model_steps_per_s: source steps per second through ``make_device(preset, 0).apply(Drive)``
  for one drive of 10^6 steps (target >= 10^6/s), and in 1000-step drives;
- readings_per_s_{backend,socket}: one query per reading, ``print(smua.measure.i())``,
  through the in-process backend and through pyvisa-py on the loopback server;
- printbuffer_readings_per_s_{backend,socket}: one 10^4-point REAL32 printbuffer of a
  finished linear sweep, read by byte count (transfer and decode only).
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pyvisa

from labqc.instruments.sim.device import Drive
from labqc.instruments.sim.lab import RES_2614B_GPIB, SimulatedLab, sim_library
from labqc.instruments.sim.presets import PRESETS, make_device
from labqc.instruments.sim.server import start_background

PRESET = "bfo" if "bfo" in PRESETS else "ohmic"  # the physics preset once it exists
BUFFER_POINTS = 10_000


def model_rate(steps: int, chunk: int | None = None) -> float:
    device = make_device(PRESET, 0)
    # A small triangle sweep, well below switching thresholds, then back: read-like steps.
    levels = 0.05 * np.abs(((np.arange(steps) / 500.0) % 2.0) - 1.0)
    chunk = chunk or steps
    t0 = time.perf_counter()
    for start in range(0, steps, chunk):
        device.apply(Drive("V", levels[start:start + chunk], dwell=1e-3, t_int=1e-3,
                           compliance=1e-3))
    return steps / (time.perf_counter() - t0)


def open_2614b(rm: pyvisa.ResourceManager, resource: str):
    inst = rm.open_resource(resource, read_termination="\n", write_termination="\n",
                            timeout=60_000)
    inst.write("reset()")
    inst.write("smua.source.func = smua.OUTPUT_DCVOLTS smua.source.limiti = 1e-3 "
               "smua.measure.nplc = 0.01 smua.source.levelv = 0.05 smua.source.output = smua.OUTPUT_ON")
    return inst


def query_rate(inst, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        float(inst.query("print(smua.measure.i())"))
    return n / (time.perf_counter() - t0)


def printbuffer_rate(inst) -> float:
    n = BUFFER_POINTS
    inst.write("smua.nvbuffer1.clear() smua.trigger.source.linearv(0, 0.05, %d) "
               "smua.trigger.source.action = smua.ENABLE smua.trigger.measure.i(smua.nvbuffer1) "
               "smua.trigger.measure.action = smua.ENABLE smua.trigger.count = %d "
               "smua.trigger.initiate() waitcomplete()" % (n, n))
    inst.write("format.data = format.REAL32 format.byteorder = format.LITTLEENDIAN")
    t0 = time.perf_counter()
    inst.write("printbuffer(1, %d, smua.nvbuffer1.readings)" % n)
    raw = inst.read_bytes(2 + 4 * n + 1)
    values = np.frombuffer(raw[2:-1], dtype="<f4")
    rate = n / (time.perf_counter() - t0)
    inst.write("format.data = format.ASCII")
    if raw[:2] != b"#0" or len(values) != n or not np.all(np.isfinite(values)):
        raise RuntimeError(f"printbuffer returned {raw[:16]!r}... ({len(raw)} bytes)")
    return rate


def close_2614b(inst) -> None:
    inst.write("smua.source.output = smua.OUTPUT_OFF")
    inst.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and queries")
    args = parser.parse_args()
    steps = 100_000 if args.quick else 1_000_000
    queries = 300 if args.quick else 2000
    results: dict[str, float | str | int] = {"preset": PRESET, "model_steps": steps}

    results["model_steps_per_s"] = round(model_rate(steps))
    results["model_steps_per_s_1000_step_drives"] = round(model_rate(steps, chunk=1000))
    print(f"model ({PRESET}): {results['model_steps_per_s']:,} steps/s in one drive, "
          f"{results['model_steps_per_s_1000_step_drives']:,} steps/s in 1000-step drives")

    inst = open_2614b(pyvisa.ResourceManager(sim_library(PRESET, 0)), RES_2614B_GPIB)
    results["readings_per_s_backend"] = round(query_rate(inst, queries))
    results["printbuffer_readings_per_s_backend"] = round(printbuffer_rate(inst))
    close_2614b(inst)
    print(f"backend: {results['readings_per_s_backend']:,} queries/s, "
          f"{results['printbuffer_readings_per_s_backend']:,} readings/s in a REAL32 printbuffer")

    server = start_background(SimulatedLab(PRESET, 0), port_2614b=0, port_4200a=None)
    try:
        inst = open_2614b(pyvisa.ResourceManager("@py"), server.resources["2614B"])
        results["readings_per_s_socket"] = round(query_rate(inst, queries))
        results["printbuffer_readings_per_s_socket"] = round(printbuffer_rate(inst))
        close_2614b(inst)
    finally:
        server.stop()
    print(f"socket:  {results['readings_per_s_socket']:,} queries/s, "
          f"{results['printbuffer_readings_per_s_socket']:,} readings/s in a REAL32 printbuffer")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
