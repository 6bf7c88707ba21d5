"""Lab benchmark: live chunks of two stations through the coordinator, and `lab status` of ten.

1. Streaming. A real `labqc lab coordinator` (its data proxy on 127.0.0.1) and two publisher
   processes, each the stations' own ChunkPublisher (labqc.procedures.station_stream) sending
   ``--rate`` points/s (default 2·10⁴) as 200-row chunks of six float columns for ``--seconds``.
   A watcher per station (ChunkWatcher, in this process) counts every row and takes each
   chunk's latency: its arrival minus the wall time the publisher stamped on it when sending.
   Goal: every point received, p99 latency <= 100 ms.
2. Status. Ten station actors (StationActor around a simulated Station, idle) in one more
   process, signed in at the coordinator; ``LabDirector.status()`` (asks all ten at once and
   waits for their answers) timed ``--repeats`` times. Goal: <= 200 ms. The wall time of the
   whole `labqc lab status` command (a new Python process: imports dominate) is reported too.

Usage: python benchmarks/lab.py [--seconds 10] [--rate 20000] [--repeats 30]
The final printed line is JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # a checkout (or worktree) imports its own labqc

from labqc.procedures.station_director import LabDirector  # noqa: E402
from labqc.procedures.station_stream import ChunkWatcher  # noqa: E402

CHUNK_ROWS = 200
PUBLISHER = """
import sys, time
import numpy as np
from labqc.chunk import from_columns
from labqc.procedures.station_stream import ChunkPublisher
name, port, rate, seconds, rows = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
pub = ChunkPublisher(name, "127.0.0.1", port)
cols = ["Time (s)", "Source voltage (V)", "Voltage (V)", "Current (A)", "G/G0", "G_corr/G0"]
time.sleep(1.5)   # the watchers' subscriptions reach this publisher through the proxy
chunks = int(rate * seconds / rows)
start = time.perf_counter()
for k in range(chunks):
    t = (k * rows + np.arange(rows)) / rate
    pub.publish(from_columns(dict(zip(cols, [t, t, t, t * 1e-4, np.sin(t), np.cos(t)]))))
    lag = start + (k + 1) * rows / rate - time.perf_counter()
    if lag > 0:
        time.sleep(lag)
pub("status", type("R", (), {"status": "finished", "rows": chunks * rows})())
print(chunks * rows, flush=True)
pub.close()
"""
STATIONS = """
import sys, threading, time
from labqc.procedures.station import Station
from labqc.procedures.station_actor import StationActor
from pyleco.utils.events import SimpleEvent
port, home, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
stop = SimpleEvent()
def one(i):
    with StationActor(Station(f"st{i:02d}", f"{home}/st{i:02d}", preset="bfo"), host="127.0.0.1", port=port) as a:
        a.listen(stop_event=stop)
threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
for t in threads: t.start()
print("ready", flush=True)
sys.stdin.read()   # until the benchmark closes our stdin
stop.set()
"""


def free_port(pair: bool = False) -> int:
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not pair:
            return port
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port - 1))
            return port
        except OSError:
            continue
    raise RuntimeError("no free ports")


def spawn(args: list[str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, **kwargs)


def watch(name: str, port: int, seconds: float, out: dict) -> None:
    watcher = ChunkWatcher(name, "127.0.0.1", port)
    latencies, rows = [], 0
    out["ready"].set()
    deadline = time.monotonic() + seconds + 60
    try:
        while time.monotonic() < deadline:
            got = watcher.receive(timeout_s=1.0)
            if got is None:
                continue
            header, frame = got
            if frame is None:
                break
            latencies.append(time.time() - header["t"])
            rows += len(frame)
    finally:
        watcher.close()
    out[name] = {"rows": rows, "latencies": latencies}


def streaming(coordinator_data_port: int, seconds: float, rate: float) -> dict:
    results: dict = {}
    threads = []
    for name in ("stA", "stB"):
        results["ready"] = threading.Event()
        t = threading.Thread(target=watch, args=(name, coordinator_data_port - 1, seconds, results))
        t.start()
        results["ready"].wait(10)
        threads.append(t)
    pubs = [spawn(["-c", PUBLISHER, name, str(coordinator_data_port), str(rate), str(seconds), str(CHUNK_ROWS)],
                  stdout=subprocess.PIPE, text=True) for name in ("stA", "stB")]
    sent = [int(p.communicate(timeout=seconds + 120)[0].strip() or 0) for p in pubs]
    for t in threads:
        t.join(seconds + 90)
    out = {}
    for name, n in zip(("stA", "stB"), sent):
        lat = np.array(results.get(name, {}).get("latencies", [np.nan])) * 1000
        out[name] = {"points_sent": n, "points_received": results.get(name, {}).get("rows", 0),
                     "latency_ms_p50": round(float(np.nanpercentile(lat, 50)), 2),
                     "latency_ms_p99": round(float(np.nanpercentile(lat, 99)), 2),
                     "latency_ms_max": round(float(np.nanmax(lat)), 2)}
    return out


def status_of_ten(port: int, lab_dir: str, home: str, repeats: int) -> dict:
    stations = spawn(["-c", STATIONS, str(port), home, "10"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     text=True)
    try:
        assert stations.stdout.readline().strip() == "ready"
        with LabDirector("bench", "127.0.0.1", port, lab=lab_dir) as d:
            deadline = time.monotonic() + 60
            while sum(s["state"] == "idle" for s in d.status()) < 10:
                if time.monotonic() > deadline:
                    raise RuntimeError("the ten stations did not all sign in within 60 s")
                time.sleep(0.5)
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                answer = d.status()
                times.append((time.perf_counter() - t0) * 1000)
                assert sum(s["state"] == "idle" for s in answer) == 10
        t0 = time.perf_counter()
        cli = subprocess.run([sys.executable, "-m", "labqc", "lab", "--coordinator", f"127.0.0.1:{port}",
                              "--lab", lab_dir, "status", "--json"], cwd=ROOT, capture_output=True, text=True,
                             timeout=120)
        cli_ms = (time.perf_counter() - t0) * 1000
        listed = len(json.loads(cli.stdout)) if cli.returncode == 0 else 0
        return {"stations": 10, "status_ms_median": round(float(np.median(times)), 2),
                "status_ms_max": round(float(np.max(times)), 2), "cli_wall_ms": round(cli_ms, 1),
                "cli_stations_listed": listed}
    finally:
        stations.stdin.close()
        try:
            stations.wait(timeout=20)
        except subprocess.TimeoutExpired:
            stations.kill()
            stations.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=2e4, help="points/s per station")
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    port, data_port = free_port(), free_port(pair=True)
    with tempfile.TemporaryDirectory() as tmp:
        log = open(Path(tmp) / "coordinator.log", "w")
        coordinator = spawn(["-m", "labqc", "lab", "coordinator", "--port", str(port), "--data-port",
                             str(data_port)], stdout=subprocess.PIPE, stderr=log, text=True)
        try:
            assert coordinator.stdout.readline().strip() == "ready"
            stream = streaming(data_port, args.seconds, args.rate)
            status = status_of_ten(port, str(Path(tmp) / "lab"), str(Path(tmp) / "stations"), args.repeats)
        finally:
            coordinator.kill()
            coordinator.wait(timeout=20)
            log.close()
    every = all(s["points_received"] == s["points_sent"] > 0 for s in stream.values())
    p99 = max(s["latency_ms_p99"] for s in stream.values())
    print(json.dumps({
        "streaming": {"rate_points_per_s_each": args.rate, "seconds": args.seconds, **stream},
        "status": status, "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "targets": {"every_point": True, "latency_ms_p99": 100, "status_ms": 200},
        "meets_targets": {"every_point": every, "latency_p99": p99 <= 100,
                          "status": status["status_ms_max"] <= 200},
    }))


if __name__ == "__main__":
    main()
