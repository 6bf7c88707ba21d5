"""Pulse trains on the 4200A-SCS: the PMU (standard pulse or Segment Arb), or the SMU when
only it can hold the train's compliance (:mod:`labqc.instruments.kxci_route`).

A mixin of :class:`~labqc.instruments.keithley4200a.Keithley4200A`; what goes over the wire
is in docs/keithley4200a.md.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from labqc.instruments import kxci_route as route
from labqc.instruments import kxci_sarb as sarb
from labqc.instruments.errors import ProtocolError
from labqc.instruments.kxci_format import (num, parse_int, parse_pmu_points, pmu_compliance, pmu_i_overflow,
                                     pmu_v_overflow)
from labqc.instruments.kxci_messages import msg
from labqc.instruments.smu import KIND_PULSE, KIND_READ, READING, PulseTrain, Sweep

# --- limits of the 4225-PMU on its 10 V range (docs/keithley4200a.md) ------------------------
PMU_MAX_V = 10.0  # V, the PMU 10 V range we use (into high impedance)
PMU_MAX_PERIOD = 1.0  # s, standard pulse mode
SARB_MAX_PERIOD = 1000.0  # s, Segment Arb (gap split in 1 s segments, <= 2048 per sequence)
PMU_MAX_BURST = 10_000  # pulses per :PMU:PULSE:BURST:COUNT
PMU_MAX_SAMPLES = 65_536  # points per channel per execution
PMU_PAGE = 2048  # points per :PMU:DATA:GET
PMU_CURRENT_RANGES = (100e-9, 1e-6, 10e-6, 100e-6, 1e-3, 10e-3, 200e-3)  # A, 10 V range with an RPM
PMU_RANGES_NO_RPM = (10e-3, 200e-3)  # A, 10 V range straight from the PMU (LLEC works only on these)


def standard_mode(p: PulseTrain) -> bool:
    """Standard pulse mode plays a burst of identical pulses with no reads between them."""
    return p.read_levels is None and bool(np.all(p.amplitudes == p.amplitudes[0])) and p.period <= PMU_MAX_PERIOD


def pmu_range(p: PulseTrain, caps) -> float:
    """The PMU's fixed measure range for ``p``: the smallest one at or above the largest
    current the circuit can pass (so no reading can overflow), or, when ``measure_range``
    asks for finer resolution, the smallest at or above it (larger currents then read as
    overflow, NaN). A range measures; it does not limit."""
    ranges = caps.pmu_ranges
    want = p.measure_range or route.pmu_current_bound(p, caps.load(p), caps.llec)
    return next((r for r in ranges if r >= want * (1 - 1e-9)), ranges[-1])


class PmuPulses:
    """``_pulses(train)`` for the driver: where it runs, and the PMU's side of it.

    A mixin: it uses the driver's ``kxci``, ``pmu``, ``rpm``, ``capabilities``, ``follower``
    and ``pmu_used``, and its system-mode ``_sweep`` (the same class) for trains on the SMU."""

    def _pulses(self, p: PulseTrain) -> Iterator[np.ndarray]:
        if self.capabilities.route(p) == "smu":
            yield from self._smu_pulses(p)
        elif standard_mode(p):
            yield from self._standard_pulses(p)
        else:
            yield from self._sarb_pulses(p)

    def _smu_pulses(self, p: PulseTrain) -> Iterator[np.ndarray]:
        """The train as a system-mode list sweep in steps of its width, so the compliance is
        the SMU's real limit; the reading at the end of each pulse (and of each read) is kept."""
        plan = route.smu_plan(p)
        sweep = Sweep(plan.levels, p.compliance, step_time=plan.step, nplc=p.nplc, measure_range=p.measure_range)
        for chunk in self._sweep(sweep):
            point = chunk["index"]
            chunk = chunk[plan.keep[point]]
            point = chunk["index"]
            chunk["kind"] = plan.kind[point]
            chunk["index"] = plan.pulse[point]
            if len(chunk):
                yield chunk

    def _pmu_setup(self, mode: int, p: PulseTrain) -> None:
        k, ch = self.kxci, self.pmu
        self.pmu_used = True
        k.command(msg("pmu_init", mode=mode))  # must come first; purges earlier PMU data
        if self.rpm:
            k.command(msg("pmu_rpm_to_pmu", ch=ch))
        k.command(msg("pmu_source_range", ch=ch))
        # A fixed range measures; it limits nothing (overflow is a status bit).
        k.command(msg("pmu_measure_range", ch=ch, amps=float(pmu_range(p, self.capabilities))))
        # The series load stated by the user (or the PMU's default): it scales the output
        # for the load, and it is what bounds the current (kxci_route.pmu_current_bound).
        k.command(msg("pmu_load", ch=ch, ohms=float(self.capabilities.load(p) or route.PMU_DEFAULT_LOAD)))
        # LLEC fires extra pulses at each step, which move a memristor: only when asked for,
        # and the capability check allowed it (standard pulse mode, a PMU range).
        k.command(msg("pmu_llec", ch=ch, on=self.llec))

    def _standard_pulses(self, p: PulseTrain) -> Iterator[np.ndarray]:
        """One burst of identical pulses (<= 10000), its spot means streamed while it runs."""
        k, ch = self.kxci, self.pmu
        edge = sarb.edge_time(p.width)
        self._pmu_setup(0, p)
        k.command(msg("pmu_spot_mean"))  # one point per pulse
        # The train's amplitude is counted from the base; ours are absolute tops.
        k.command(msg("pmu_train", ch=ch, base=float(p.base), amplitude=float(p.amplitudes[0] - p.base)))
        k.command(msg("pmu_times", ch=ch, period=float(p.period), width=float(p.width), rise=float(edge),
                      fall=float(edge)))
        k.command(msg("pmu_burst", count=int(p.count)))
        k.command(msg("pmu_output", ch=ch, on=True))  # takes effect at EXECUTE

        def readings(first: int, points: np.ndarray, t0: float) -> np.ndarray:
            # Standard spot mean: VH,IH,TH,SH (top of the pulse), then VL,IL,TL,SL (base).
            out = np.zeros(len(points), dtype=READING)
            out["t"] = t0 + points[:, 2]
            out["source"] = p.amplitudes[first:first + len(points)]
            out["v"], out["i"] = points[:, 0], points[:, 1]
            out["compliance"] = pmu_compliance(points[:, 3].astype(np.int64))
            out["index"] = np.arange(first, first + len(points))
            out["kind"] = KIND_PULSE
            return out

        yield from self._pmu_execute(p.count * p.period, p.count, readings)

    def _sarb_pulses(self, p: PulseTrain) -> Iterator[np.ndarray]:
        """Segment Arb: one sequence per distinct (pulse, read), looped over identical runs;
        one execution per list of at most 128 runs, each streamed while it runs."""
        k, ch = self.kxci, self.pmu
        self._pmu_setup(1, p)
        defined: dict[tuple[float, float | None], int] = {}
        per_pulse = 2 if p.read_levels is not None else 1
        done = 0
        for n_run, chunk in enumerate(sarb.split_runs(sarb.runs(p.amplitudes, p.read_levels),
                                                      PMU_MAX_SAMPLES // per_pulse)):
            entries = []
            new = {(a, r) for a, r, _ in chunk} - defined.keys()
            if len(defined) + len(new) > sarb.MAX_SEQUENCES:
                defined.clear()  # renumber from 1: one execution needs at most 128 sequences
            for a, r, loops in chunk:
                key = (a, r)
                if key not in defined:
                    defined[key] = len(defined) + 1
                    self._define_sequence(defined[key], sarb.period_sequence(a, r, p))
                entries.append(f"{defined[key]},{loops}")
            k.command(msg("pmu_sarb_list", ch=ch, entries=",".join(entries)))
            if n_run == 0:
                k.command(msg("pmu_output", ch=ch, on=True))
            n = sum(loops for _, _, loops in chunk)
            yield from self._pmu_execute(n * p.period, n * per_pulse, self._sarb_readings(p, done, per_pulse))
            done += n

    def _define_sequence(self, number: int, seq: sarb.Sequence) -> None:
        ch = self.pmu
        arrays = {
            "TIME": seq.times,
            "STARTV": seq.start,
            "STOPV": seq.stop,
            "MEAS:TYPE": [1 if m else 0 for m in seq.measured],  # 1: spot mean over the window
            "MEAS:START": seq.window[0],
            "MEAS:STOP": seq.window[1],
        }
        for name, values in arrays.items():
            text = [str(v) if name == "MEAS:TYPE" else num(v) for v in values]
            for b, batch in enumerate(sarb.batches(text)):
                suffix = "" if b == 0 else ":ADD"
                self.kxci.command(msg("pmu_sarb_values", what=name + suffix, ch=ch, seq=int(number),
                                      values=",".join(batch)))

    def _sarb_readings(self, p: PulseTrain, first_pulse: int, per_pulse: int):
        """``readings(first_point, points, t0)`` for one Segment Arb execution: V,I,T,S per
        measured segment, the pulse top then (with reads) the read of each period."""
        def readings(first: int, points: np.ndarray, t0: float) -> np.ndarray:
            k = np.arange(first, first + len(points))
            pulse = first_pulse + k // per_pulse
            is_read = (k % per_pulse) == 1
            out = np.zeros(len(points), dtype=READING)
            out["t"] = t0 + points[:, 2]
            out["v"], out["i"] = points[:, 0], points[:, 1]
            out["compliance"] = pmu_compliance(points[:, 3].astype(np.int64))
            out["index"] = pulse
            out["kind"] = np.where(is_read, KIND_READ, KIND_PULSE)
            out["source"] = p.amplitudes[pulse]
            if per_pulse == 2:
                out["source"][is_read] = p.read_levels[pulse[is_read]]
            return out

        return readings

    def _pmu_execute(self, expected: float, points: int, readings) -> Iterator[np.ndarray]:
        """EXECUTE and stream the points as ``:PMU:DATA:COUNT?`` grows (pages of 2048),
        until ``:PMU:TEST:STATUS?`` reads 0 and all ``points`` are in."""
        k, ch = self.kxci, self.pmu
        k.checkpoint()
        t0 = self.follower.start()  # the PMU's T counts from EXECUTE
        got = 0

        def fetch(final: bool) -> np.ndarray | None:
            nonlocal got
            count = parse_int(k.query(msg("pmu_count", ch=ch)), msg("pmu_count", ch=ch))
            if count > points or (final and count != points):
                raise ProtocolError(f"the PMU holds {count} points where this train makes {points}")
            pages = []
            while got < count:
                n = min(PMU_PAGE, count - got)
                reply = k.query(msg("pmu_get", ch=ch, start=int(got), count=int(n)))
                pages.append(readings(got, self._pmu_page(reply, n), t0))
                got += n
            if not pages:
                return None
            out = np.concatenate(pages)
            out["t"] = np.maximum(out["t"], self.follower.t_last)
            self.follower.stamp(out["t"][-1])
            return out

        k.command(msg("pmu_execute"))
        running = msg("pmu_running")
        yield from self.follower.follow(expected, lambda: parse_int(k.query(running), running) != 0, fetch)

    def _pmu_page(self, reply: str, n: int) -> np.ndarray:
        """One page of spot-mean points as rows V, I, T, S: from ``V,I,T,S`` (Segment Arb) or
        ``VH,IH,TH,SH,VL,IL,TL,SL`` (standard pulse, whose top comes first)."""
        points = parse_pmu_points(reply, status_columns=(3, 7))
        if len(points) != n or points.shape[1] not in (4, 8):
            raise ProtocolError(f"a PMU data page held {len(points)} points of {points.shape[1]} values "
                                f"where {n} points of 4 or 8 were asked")
        points = points[:, :4].copy()
        status = points[:, 3].astype(np.int64)
        points[pmu_v_overflow(status), 0] = np.nan  # beyond the range: not a measurement
        points[pmu_i_overflow(status), 1] = np.nan
        return points
