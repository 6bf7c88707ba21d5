"""Dashboard benchmark: 10⁶ points on screen while 2·10⁴ points/s stream in.

The real main window (labqc.gui.app.MainWindow, offscreen, 1500×950) is filled with 10⁶ rows
of a synthetic voltage-sweep trace (labqc.synthetic, realistic scenario: plateaus, 1/f
and telegraph noise, R_s = 200 Ω) and then fed for ``--seconds`` by a background thread
emitting 1000-row chunks every 50 ms through the same signal path a run uses
(RunManager.chunk, queued to the GUI thread → LiveState.append). The dashboard's R_s is
set to 200 Ω, so both the measured and the corrected trace are drawn.

Measured on the GUI thread:
- ``max_block_ms``: the longest gap between two ticks of a 2 ms QTimer (an upper bound
  on how long the event loop was blocked; the goal is < 50 ms). On a shared machine the
  wall-clock gap includes time the thread was not scheduled, so ``max_block_cpu_ms``
  gives the GUI thread's own CPU time in the longest gap (time.thread_time), with the
  load average;
- ``fps``: paint events of the main plot per second (goal ≥ 10), ``fps_iv`` the same
  for the I–V view (it stands for the views redrawn on the alternate ticks), and the
  redraws with new data of each group per second;
- ``rss_mb``: resident memory at the end, ``peak_rss_mb`` (VmHWM) over the whole run
  (goal < 400 MB).
Also the p99 gap, the median time of one redraw (setData on one group of views), and the time
of a synchronous repaint (grab) of the whole plot area with 10⁶ points.

Usage: python benchmarks/dashboard.py [--seconds 10] [--points 1000000]
"""
from __future__ import annotations

import argparse
import json
import os
import threading
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PyQt6.QtCore import QEvent, QEventLoop, QObject, QTimer  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

from labqc.synthetic import scenario, voltage_sweep_trace  # noqa: E402
from labqc.units import G0  # noqa: E402

RATE = 20_000  # points per second streamed during the measurement
CHUNK = 1_000
R_SERIES = 200.0


class SyntheticRows:
    """Rows in the store's columns, made on demand from one realistic G/G0 trace on a
    0→3 V→0 sweep per cycle (repeated with time running on), so that the benchmark's
    own data does not count against the dashboard's memory."""

    def __init__(self, seed: int = 1) -> None:
        tr, v = voltage_sweep_trace(scenario("realistic", n_cycles=100, seed=seed))
        self.g, self.v = tr.g.astype(np.float32), v.astype(np.float32)
        starts = np.zeros(tr.g.size, dtype=np.int32)
        starts[tr.cycle_starts] = 1
        self.cycle = np.cumsum(starts).astype(np.int32)
        self.n_cycles = int(self.cycle[-1])

    def rows(self, a: int, b: int) -> dict[str, np.ndarray]:
        k = np.arange(a, b)
        j, rep = k % self.g.size, k // self.g.size
        g, v = self.g[j], self.v[j]
        i = g * np.float32(G0) * v
        compliance = np.abs(i) > 2e-3
        i = np.where(compliance, np.sign(i) * np.float32(2e-3), i)
        return {"t": k / RATE, "v": v, "i": i, "g": g, "compliance": compliance,
                "cycle": (self.cycle[j] + rep * self.n_cycles).astype(np.int32),
                "segment": np.zeros(k.size, dtype=np.int8), "pulse": np.full(k.size, -1, dtype=np.int32)}


def chunks(rows: SyntheticRows, start: int, stop: int, size: int):
    for a in range(start, stop, size):
        yield rows.rows(a, min(a + size, stop))


class PaintCounter(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def rss_mb() -> tuple[float, float]:
    now = peak = float("nan")
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                now = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    return now, peak


def pump(app: QApplication, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.001)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--points", type=int, default=1_000_000)
    args = ap.parse_args()

    app = QApplication.instance() or QApplication([])
    from labqc.gui.app import MainWindow

    stream_n = int(RATE * (args.seconds + 2))
    rows = SyntheticRows()
    window = MainWindow(directory="/tmp/labqc-dashboard-bench")
    window.resize(1500, 950)
    window.show()
    window.live_state = window.state  # as when a run has started: chunks go to the shown state
    window.r_series.setValue(R_SERIES)
    window.plots.show_view_for("VoltageSweep")
    pump(app, 0.5)

    # Prefill through the signal path (as fast as the GUI takes it), then let the
    # detector and histogram catch up with the backlog.
    t0 = time.perf_counter()
    for chunk in chunks(rows, 0, args.points, 50_000):
        window.manager.chunk.emit(chunk)
    pump(app, 0.2)
    while not window.state.caught_up:
        pump(app, 0.1)
    prefill_s = time.perf_counter() - t0

    # One synchronous repaint of the plot area with everything on screen.
    grabs = []
    for _ in range(3):
        g0 = time.perf_counter()
        window.plots.redraw(force=True)
        window.plots.grab()
        grabs.append(time.perf_counter() - g0)

    # Streaming phase.
    gaps: list[float] = []
    cpu_gaps: list[float] = []
    last = [time.perf_counter(), time.thread_time()]

    def beat() -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        gaps.append(now - last[0])
        cpu_gaps.append(cpu - last[1])
        last[0], last[1] = now, cpu

    heartbeat = QTimer()
    heartbeat.setInterval(2)
    heartbeat.timeout.connect(beat)
    counter, counter_iv = PaintCounter(), PaintCounter()
    window.plots.main.viewport().installEventFilter(counter)
    window.plots.iv.viewport().installEventFilter(counter_iv)
    redraw_times: list[float] = []
    original = window.plots.redraw

    def timed_redraw(*a, **kw) -> bool:
        r0 = time.perf_counter()
        done = original(*a, **kw)
        if done:
            redraw_times.append(time.perf_counter() - r0)
        return done

    window.plots.redraw = timed_redraw
    stop = threading.Event()

    def feed() -> None:
        period = CHUNK / RATE
        nxt = time.perf_counter()
        for chunk in chunks(rows, args.points, args.points + stream_n, CHUNK):
            if stop.is_set():
                return
            window.manager.chunk.emit(chunk)
            nxt += period
            time.sleep(max(0.0, nxt - time.perf_counter()))

    feeder = threading.Thread(target=feed, daemon=True)
    redraws0, paints0 = window.plots.redraws, counter.count
    second0, paints_iv0 = window.plots.secondary_redraws, counter_iv.count
    heartbeat.start()
    last[0], last[1] = time.perf_counter(), time.thread_time()
    t_start = time.perf_counter()
    cpu_start = time.thread_time()
    feeder.start()
    loop = QEventLoop()  # the application's event loop, as app.exec() runs it
    QTimer.singleShot(int(1000 * args.seconds), loop.quit)
    loop.exec()
    elapsed = time.perf_counter() - t_start
    gui_cpu = time.thread_time() - cpu_start
    stop.set()
    heartbeat.stop()
    feeder.join()
    paints = counter.count - paints0
    redraws = window.plots.redraws - redraws0
    paints_iv = counter_iv.count - paints_iv0
    second = window.plots.secondary_redraws - second0
    points = len(window.state.store)
    now_mb, peak_mb = rss_mb()
    gaps_ms = np.array(gaps[1:]) * 1e3
    cpu_ms = np.array(cpu_gaps[1:]) * 1e3
    result = {
        "points_on_screen": points,
        "streamed_points_per_s": round((points - args.points) / elapsed),
        "seconds": round(elapsed, 2),
        "max_block_ms": round(float(gaps_ms.max()), 1),
        "p99_gap_ms": round(float(np.percentile(gaps_ms, 99)), 1),
        "max_block_cpu_ms": round(float(cpu_ms.max()), 1),
        "p99_block_cpu_ms": round(float(np.percentile(cpu_ms, 99)), 1),
        "gui_thread_cpu_fraction": round(gui_cpu / elapsed, 2),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "fps": round(paints / elapsed, 1),
        "redraws_per_s": round(redraws / elapsed, 1),
        "fps_iv": round(paints_iv / elapsed, 1),
        "secondary_redraws_per_s": round(second / elapsed, 1),
        "median_redraw_ms": round(1e3 * float(np.median(redraw_times)), 1) if redraw_times else None,
        "full_repaint_ms": round(1e3 * min(grabs), 1),
        "plateaus": len(window.state.plateaus),
        "prefill_s": round(prefill_s, 2),
        "rss_mb": round(now_mb, 1),
        "peak_rss_mb": round(peak_mb, 1),
    }
    print(f"{points:,} points on screen, streamed {result['streamed_points_per_s']:,}/s for {elapsed:.1f} s")
    print(f"GUI thread: longest gap {result['max_block_ms']} ms (p99 {result['p99_gap_ms']} ms); "
          f"main plot {result['fps']} paints/s ({result['redraws_per_s']} redraws/s), I–V "
          f"{result['fps_iv']} paints/s ({result['secondary_redraws_per_s']} redraws/s); median redraw "
          f"{result['median_redraw_ms']} ms; full repaint {result['full_repaint_ms']} ms")
    print(f"GUI thread CPU: longest block {result['max_block_cpu_ms']} ms (p99 {result['p99_block_cpu_ms']} ms), "
          f"busy {100 * result['gui_thread_cpu_fraction']:.0f} % of the time; load average "
          f"{result['load_average_1min']} on {result['cpus']} CPUs")
    print(f"memory: {result['rss_mb']} MB now, {result['peak_rss_mb']} MB peak")
    window.close()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
