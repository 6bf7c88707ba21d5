"""Keithley 4200A-SCS over KXCI, behind :class:`~labqc.instruments.smu.SourceMeasure`.

    with Keithley4200A("TCPIP0::192.168.0.5::1225::SOCKET") as smu:   # Ethernet: NUL + ACK
        for chunk in smu.run(Sweep(levels, compliance=1e-4)):
            ...
    Keithley4200A("GPIB0::17::INSTR", visa_library=sim_library("ohmic"))  # GPIB: status byte

Sweeps run in system mode on one SMU, spot reads and sampling in user mode, pulse trains
on the PMU when the stated series load keeps the current within the compliance, else on
the SMU when they are slow enough, else they are refused (:mod:`labqc.instruments.kxci_route`).
The commands sent and the replies expected are in docs/keithley4200a.md.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Callable, Iterator

import numpy as np

from labqc.instruments import kxci_route as route
from labqc.instruments import kxci_sarb as sarb
from labqc.instruments.errors import (CapabilityError, ConnectionLost, InstrumentError, InstrumentReportedError,
                                InstrumentTimeout, ProtocolError)
from labqc.instruments.kxci_format import (do_items, num, nums, parse_int, parse_items, parse_pmu_points, parse_spot,
                                     pmu_compliance, pmu_i_overflow, pmu_v_overflow)
from labqc.instruments.kxci_session import KXCI, SB_BUSY, SB_SYNTAX_ERROR
from labqc.instruments.smu import (KIND_POINT, KIND_PULSE, KIND_READ, READING, Capabilities, PulseTrain, Request,
                             Sampling, SourceMeasure, Sweep)

# --- limits (4200A-SCS datasheet and KXCI manual; docs/keithley4200a.md) ---------------

POINTS_PER_TEST = 4096  # a VL/IL list and the reading buffer
MAX_DELAY = 6.553  # s, DT
LINE_PERIOD = 1 / 50  # s, one PLC at 50 Hz: the longer of the two, so step-time checks hold on both
PMU_MAX_V = 10.0  # V, the PMU 10 V range we use (into high impedance)
PMU_MAX_PERIOD = 1.0  # s, standard pulse mode
SARB_MAX_PERIOD = 1000.0  # s, Segment Arb (gap split in 1 s segments, <= 2048 per sequence)
PMU_MAX_BURST = 10_000  # pulses per :PMU:PULSE:BURST:COUNT
PMU_MAX_SAMPLES = 65_536  # points per channel per execution
PMU_PAGE = 2048  # points per :PMU:DATA:GET
PMU_CURRENT_RANGES = (100e-9, 1e-6, 10e-6, 100e-6, 1e-3, 10e-3, 200e-3)  # A, 10 V range with an RPM
PMU_RANGES_NO_RPM = (10e-3, 200e-3)  # A, 10 V range straight from the PMU (LLEC works only on these)
MIN_SAMPLE_INTERVAL = 0.1  # s, user-mode sampling (two spot readings and a host wait)
SETTLE = 100e-6  # s, settling before each reading at delay factor 1
CHUNK_SECONDS = 1.0  # s of instrument time between reads of a running test's data



@dataclass(frozen=True)
class K4200ACapabilities(Capabilities):
    """The generic checks plus the 4200A's own: DT maximum, where a pulse train can run
    (PMU, SMU or nowhere) and the PMU's range, period and samples."""

    #: Current ranges of the PMU channel (measure ranges: none of them limits the current).
    pmu_ranges: tuple[float, ...] = PMU_CURRENT_RANGES
    has_pmu: bool = True
    #: The series load on the PMU's path the user states (ohm), sent as :PMU:LOAD; None: none.
    pmu_load: float | None = None
    #: Load-line effect compensation on the PMU (off unless asked for).
    llec: bool = False

    def check(self, request: Request) -> None:
        if isinstance(request, PulseTrain):
            self._check_train(request)
            return
        super().check(request)
        if isinstance(request, Sweep):
            integration = request.nplc * LINE_PERIOD
            if request.step_time < integration:
                self._fail(f"a step time of {request.step_time:g} s is shorter than the integration time "
                           f"of {integration:g} s at NPLC {request.nplc:g}")
            if request.step_time > MAX_DELAY + integration:
                self._fail(f"a step time of {request.step_time:g} s exceeds the longest step, "
                           f"{MAX_DELAY:g} s delay plus the integration time")
        elif isinstance(request, Sampling):
            gaps = np.diff(np.concatenate([[0.0], request.times]))
            if request.points > 1 and float(np.min(gaps[1:])) < MIN_SAMPLE_INTERVAL:
                self._fail(f"samples {float(np.min(gaps[1:])):g} s apart are closer than the "
                           f"{MIN_SAMPLE_INTERVAL:g} s user-mode sampling allows (use a Sweep of constant "
                           "levels for faster sampling)")

    def load(self, p: PulseTrain) -> float | None:
        """The series load on the PMU's path for ``p``: the request's, else the driver's."""
        return p.series_load or self.pmu_load

    def route(self, p: PulseTrain) -> str:
        """"pmu" or "smu": where ``p`` runs with its compliance honoured (see kxci_route)."""
        load = self.load(p)
        if self.has_pmu and route.pmu_honours(p, load, self.llec):
            return "pmu"
        if route.smu_plan(p) is not None:
            return "smu"
        stated = f"the stated {load:g} ohm load" if load else "no stated series load"
        self._fail(f"its PMU has no current limit, and with {stated} this train could drive "
                   f"{route.pmu_current_bound(p, load, self.llec):.3g} A, above the {p.compliance:g} A "
                   f"compliance, while it is too fast for an SMU (pulse width at least {route.SMU_MIN_STEP:g} s, "
                   "with the read and the gap whole multiples of it), so state a series load that holds the "
                   "current (--pmu-load) or use a compliance-limited SMU sweep")

    def _check_train(self, p: PulseTrain) -> None:
        where = self.route(p)
        if where == "smu":
            plan = route.smu_plan(p)
            replace(self, pulse_capable=True)._check_pulses(p)
            self.check(Sweep(plan.levels, p.compliance, step_time=plan.step, nplc=p.nplc,
                             measure_range=p.measure_range))
            return
        super().check(p)
        self._check_pmu(p)

    def _check_pmu(self, p: PulseTrain) -> None:
        lo, hi = route.PMU_LOAD_RANGE
        if p.series_load is not None and not lo <= p.series_load <= hi:
            self._fail(f"a series load of {p.series_load:g} ohm is outside the {lo:g} to {hi:g} ohm "
                       ":PMU:LOAD accepts")
        peak = route.peak_volts(p)
        if peak > PMU_MAX_V:
            self._fail(f"|V| = {peak:g} V exceeds the {PMU_MAX_V:g} V of the PMU's 10 V range")
        if p.read_levels is not None and p.read_width < self.min_pulse_width:
            self._fail(f"a read width of {p.read_width:g} s is below the minimum of {self.min_pulse_width:g} s")
        if self.llec and not (_standard_mode(p) and _pmu_range(p, self) >= min(PMU_RANGES_NO_RPM)):
            self._fail("load-line effect compensation works only in standard pulse mode (identical pulses, "
                       "no reads) on the PMU's 10 mA and 200 mA ranges, and this train needs Segment Arb or "
                       "an RPM range")
        limit = PMU_MAX_PERIOD if _standard_mode(p) else SARB_MAX_PERIOD
        if p.period > limit:
            self._fail(f"a period of {p.period:g} s exceeds the {limit:g} s the PMU allows for this train")
        try:
            sarb.period_sequence(float(p.amplitudes[0]), None if p.read_levels is None else
                                 float(p.read_levels[0]), p)
        except ValueError as exc:
            self._fail(str(exc))


CAPABILITIES = K4200ACapabilities(
    # Medium-power 4200-SMU without preamplifier; a 4200-PA adds 1 pA-10 nA ranges and a
    # 100 pA compliance floor, a high-power 4210-SMU goes to 1 A.
    model="4200A-SCS (4200-SMU + 4225-PMU/RPM)",
    max_voltage=210.0,
    max_current=0.1,
    min_compliance=100e-9,  # KXCI silently raises smaller limits; refuse them instead
    voltage_ranges=(20.0, 200.0),
    current_ranges=(100e-9, 1e-6, 10e-6, 100e-6, 1e-3, 10e-3, 100e-3),
    nplc_range=(0.01, 10.0),
    max_sweep_points=256 * POINTS_PER_TEST,  # chained tests of 4096
    min_step_time=2.5e-3,  # LPT's "minimum practical" step
    min_pulse_width=40e-9,  # PMU 10 V range
    max_pulse_count=PMU_MAX_BURST,
    max_samples=100_000,
    pulse_capable=True,
    extra={"points_per_test": POINTS_PER_TEST, "var1_points": 1024, "max_delay_s": MAX_DELAY,
           "pmu_max_v": PMU_MAX_V, "pmu_max_samples": PMU_MAX_SAMPLES, "pmu_page": PMU_PAGE,
           "pmu_current_ranges": PMU_CURRENT_RANGES, "min_sample_interval_s": MIN_SAMPLE_INTERVAL},
)


def has_rpm(options: list[str], channel: int) -> bool:
    """Whether ``*OPT?`` shows an RPM on PMU card 1's ``channel``: entries such as
    ``PMU1RPM1-1``; firmware seen on hardware leaves the first one out while the RPM is
    there (Py4200A), so RPM 1 counts as present when RPM 2 is listed."""
    found = {int(m.group(1)) for o in options if (m := re.search(r"RPM1?-(\d)$", o))}
    return channel in found or (channel == 1 and 2 in found)


def tv_number(smu: int) -> int:
    """The ``TV`` number of SMU ``smu``: 1-4 for SMU1-4, 7-10 for SMU5-8 (5-6 and 11-16 are
    voltmeters)."""
    return smu if smu <= 4 else smu + 2


def _standard_mode(p: PulseTrain) -> bool:
    """Standard pulse mode plays a burst of identical pulses with no reads between them."""
    return p.read_levels is None and bool(np.all(p.amplitudes == p.amplitudes[0])) and p.period <= PMU_MAX_PERIOD


def _pmu_range(p: PulseTrain, caps: K4200ACapabilities) -> float:
    """The PMU's fixed measure range for ``p``: the smallest one at or above the largest
    current the circuit can pass (so no reading can overflow), or, when ``measure_range``
    asks for finer resolution, the smallest at or above it (larger currents then read as
    overflow, NaN). A range measures; it does not limit."""
    ranges = caps.pmu_ranges
    want = p.measure_range or route.pmu_current_bound(p, caps.load(p), caps.llec)
    return next((r for r in ranges if r >= want * (1 - 1e-9)), ranges[-1])


# --- the driver ---------------------------------------------------------------------------


class Keithley4200A(SourceMeasure):
    """One SMU (and one PMU channel) of a 4200A-SCS as a :class:`SourceMeasure`.

    ``smu``: the SMU channel (1-8) for sweeps, sampling and spot reads. ``pmu_channel``:
    the PMU channel for pulse trains (card 1). ``framing``: "ethernet" or "gpib"; by default
    "ethernet" for ``TCPIP...::SOCKET`` resources, "gpib" otherwise. ``timeout``: seconds to
    wait for any one answer. ``line_frequency``: the mains frequency set in KCon (Hz), for the step timing.
    ``pmu_load``: the series load (ohm) in the PMU's path to the device, as you state it, for
    trains that state none (``PulseTrain.series_load``): sent as ``:PMU:LOAD``, it is what lets a
    train's compliance hold on the PMU (docs/keithley4200a.md).
    ``llec``: load-line effect compensation on the PMU (it fires extra pulses at each step).
    What is installed (SMUs, PMU, RPMs) is read from ``*OPT?``. Other keywords go to PyVISA.
    """

    capabilities: K4200ACapabilities = CAPABILITIES

    def __init__(self, adapter_or_resource, *, visa_library: str | None = None, smu: int = 1,
                 pmu_channel: int = 1, framing: str | None = None, timeout: float = 10.0,
                 line_frequency: float = 60.0, pmu_load: float | None = None, llec: bool = False,
                 **kwargs) -> None:
        if framing is None:
            text = adapter_or_resource.upper() if isinstance(adapter_or_resource, str) else ""
            framing = "ethernet" if text.startswith("TCPIP") and text.endswith("SOCKET") else "gpib"
        if not (1 <= smu <= 8 and 1 <= pmu_channel <= 2):
            raise ValueError(f"smu must be 1-8 and pmu_channel 1-2, got {smu} and {pmu_channel}")
        lo, hi = route.PMU_LOAD_RANGE
        if pmu_load is not None and not lo <= float(pmu_load) <= hi:
            raise ValueError(f"the PMU load must be {lo:g} to {hi:g} ohm, got {pmu_load!r}")
        self.pmu_load = None if pmu_load is None else float(pmu_load)
        self.llec = bool(llec)
        self.smu = smu
        self.pmu = pmu_channel
        self.line_frequency = float(line_frequency)
        self.kxci = KXCI(adapter_or_resource, framing, timeout, visa_library, **kwargs)
        self._pmu_used = False
        self._t_last = 0.0  # last timestamp handed out, to keep t monotonic across blocks
        self._live = True  # read data while a test runs (off if this KXCI refuses it)
        try:
            self._connect()
        except BaseException:
            self.close()  # do not leave a half-open session behind
            raise

    def _connect(self) -> None:
        # Device clear first: KXCI otherwise may return stale values (docs/keithley4200a.md).
        self.kxci.device_clear()
        self.kxci.command("EM 1,0")  # the 4200A command set (IT4, 4096-point buffers)
        self.kxci.command(":ERROR:LAST:CLEAR")
        self.identity = self.kxci.query("*IDN?")
        self._options(self.kxci.query("*OPT?"))
        self.kxci.checkpoint()

    def _options(self, reply: str) -> None:
        """What ``*OPT?`` lists: the SMU channels (to keep the others out of our tests),
        a PMU, and an RPM on our PMU channel (which brings the low-current ranges)."""
        opts = [o.strip().upper() for o in reply.split(",")]
        self.smus = sorted({int(m.group(1)) for o in opts if (m := re.fullmatch(r"(?:HP)?SMU(?:PA)?(\d)", o))})
        if self.smu not in self.smus:
            raise InstrumentError(f"the 4200A has no SMU{self.smu}: *OPT? lists {reply!r}")
        has_pmu = any("PMU" in o for o in opts)
        self.rpm = has_rpm(opts, self.pmu)
        # With a preamplifier autorange reaches 1 nA; without, 100 nA (the power-on floors).
        self._lowest_range = 1e-9 if f"SMUPA{self.smu}" in opts else 100e-9
        self.capabilities = replace(CAPABILITIES, has_pmu=has_pmu, pmu_load=self.pmu_load, llec=self.llec,
                                    pmu_ranges=PMU_CURRENT_RANGES if self.rpm else PMU_RANGES_NO_RPM)

    # -- SourceMeasure -----------------------------------------------------------------
    def _stream(self, request: Request) -> Iterator[np.ndarray]:
        if isinstance(request, Sweep):
            yield from self._sweep(request)
        elif isinstance(request, PulseTrain):
            yield from self._pulses(request)
        elif isinstance(request, Sampling):
            yield from self._sampling(request)
        else:
            raise CapabilityError(f"the 4200A cannot run a {type(request).__name__}")

    def read(self, level: float, *, compliance: float, source: str = "V", nplc: float = 1.0) -> np.ndarray:
        """One user-mode spot reading: source on with its limit, TV and TI, source off."""
        self.capabilities.check(Sweep([level], compliance, source=source, step_time=1.0, nplc=nplc))
        k = self.kxci
        k.command("US")
        k.command(self._integration(nplc))
        k.command(self._range_cmd(None))
        k.checkpoint()  # GPIB: the set-up was accepted before the output turns on
        try:
            setting = self._source_cmd(source, level, compliance)
            k.command(setting)  # on, with its limit
            t = self._stamp(k.clock())
            v, i, comp = self._spot(setting)
        except BaseException:
            self.output_off()  # recovers the session if it has to
            raise
        k.command(f"DV{self.smu}")
        k.checkpoint()
        out = np.zeros(1, dtype=READING)
        out[0] = (t, float(num(level)), v, i, comp, 0, KIND_POINT)
        return out

    def abort(self) -> None:
        """``ME4`` (system-mode test) and ``:PMU:ABORT``, then every output off."""
        for cmd in ["ME4"] + ([":PMU:ABORT"] if self._pmu_used else []):
            try:
                self.kxci.command(cmd)
            except InstrumentError:
                try:
                    self.kxci.device_clear()  # resynchronise; output_off below still runs
                except InstrumentError:
                    pass
        self.output_off()

    def output_off(self) -> None:
        """``DV`` with no level on the SMU, ``:PMU:OUTPUT:STATE ch,0`` if the PMU was used.

        On a dead connection: device clear and retry, then reconnect once and retry; if
        the outputs still cannot be confirmed off, raise ConnectionLost saying so.
        """
        try:
            self._outputs_off()
            return
        except InstrumentError:
            pass
        for recover in (self.kxci.device_clear, self.kxci.reconnect):
            try:
                recover()
                self._outputs_off()
                return
            except InstrumentError as exc:
                last = exc
        raise ConnectionLost(f"could not confirm that the 4200A outputs are off ({last}); "
                             "switch them off at the instrument")

    def _outputs_off(self) -> None:
        k = self.kxci
        k.command("US")
        k.command(f"DV{self.smu}")
        if self._pmu_used:
            k.command(f":PMU:OUTPUT:STATE {self.pmu},0")
        k.checkpoint()

    def close(self) -> None:
        self.kxci.adapter.close()

    # -- helpers shared by the operations ------------------------------------------------
    def _integration(self, nplc: float) -> str:
        """``IT4,delay factor,filter factor,NPLC``: default settling, no filter, this NPLC."""
        return f"IT4,1,0,{num(nplc)}"

    def _range_cmd(self, measure_range: float | None) -> str:
        """``RG ch,I``: the lowest current range autorange may use. KXCI has no fixed measure
        range for system-mode tests, so a V source's ``measure_range`` becomes this floor
        (readings never drop below it: no slow low-range settling); None restores the
        power-on floor, since RG persists between requests."""
        return f"RG {self.smu},{num(measure_range or self._lowest_range)}"

    def _source_cmd(self, source: str, level: float, compliance: float) -> str:
        """User-mode ``DV``/``DI`` with autorange and the compliance in the same command."""
        letter = "V" if source == "V" else "I"
        return f"D{letter}{self.smu},0,{num(level)},{num(compliance)}"

    def _spot(self, setting: str, fresh: bool = True) -> tuple[float, float, bool]:
        """TV, the source ``setting`` again (the 4200A wants it re-applied before the other
        quantity is measured), then TI; ``fresh``: the setting was just sent, else it is
        sent before TV too (the last reading was a TI)."""
        if not fresh:
            self.kxci.command(setting)
        v, cv, _ = parse_spot(self.kxci.query(f"TV{tv_number(self.smu)}"))
        self.kxci.command(setting)
        i, ci, _ = parse_spot(self.kxci.query(f"TI{self.smu}"))
        return v, i, cv or ci

    def _stamp(self, t: float) -> float:
        """Keep handed-out times monotonic within the session."""
        self._t_last = max(self._t_last, float(t))
        return self._t_last

    def _follow(self, expected: float, busy: Callable[[], bool],
                fetch: Callable[[bool], np.ndarray | None]) -> Iterator[np.ndarray]:
        """Follow a running test that needs ``expected`` s, yielding its readings as they come.

        Idle, then poll ``busy()`` with short idles between polls. Every ``interval`` of
        instrument time (1 s, or a sixteenth of a long test, so that re-reading a growing
        buffer stays cheap) ``fetch(final=False)`` returns the readings taken since the last
        fetch; once the test is done ``fetch(final=True)`` returns the rest. If this KXCI
        refuses data transfers during a test (-980), the readings come at the end instead.
        Gives up with InstrumentTimeout (and a device clear) when the test runs far over.
        """
        k = self.kxci
        interval = max(CHUNK_SECONDS, expected / 16)
        poll = min(1.0, max(0.005, 0.02 * expected))
        t_start = k.clock()
        give_up = t_start + expected + 10.0 + k.timeout
        next_fetch = t_start + interval
        k.idle(min(expected, interval) if self._live else expected)
        while True:
            running = busy()
            if not running or (self._live and k.clock() >= next_fetch):
                try:
                    chunk = fetch(not running)
                except InstrumentReportedError as exc:
                    if exc.code != -980 or not running:
                        raise
                    self._live = False  # "not valid during test execution": read at the end
                    chunk = None
                if chunk is not None and len(chunk):
                    yield chunk
                next_fetch = k.clock() + interval
            if not running:
                return
            if k.clock() > give_up:
                k.device_clear()  # whatever holds the instrument up, stop it and resynchronise
                raise InstrumentTimeout(f"the 4200A is still busy {expected + 10 + k.timeout:g} s after a "
                                        f"{expected:g} s operation began")
            left = t_start + expected - k.clock()
            k.idle(min(interval, left) if left > poll else poll)

    # -- Sweep: system mode --------------------------------------------------------------
    def _sweep(self, s: Sweep) -> Iterator[np.ndarray]:
        k = self.kxci
        # A point takes DT plus the reading: ~100 µs settling (delay factor 1) + integration.
        reading = SETTLE + s.nplc / self.line_frequency
        delay = min(MAX_DELAY, max(0.0, s.step_time - reading))
        k.command("EC 0")  # run through compliance points; EC 1 would end a SET at the first
        k.command(self._integration(s.nplc))
        # The voltage of a current source autoranges: KXCI has no system-mode V range.
        k.command(self._range_cmd(s.measure_range if s.source == "V" else None))
        for start in range(0, s.points, POINTS_PER_TEST):
            # Between chained tests the SMU holds 0 V for the few ms the next set-up takes.
            # The levels as sent (6 significant digits) are the ones the readings report.
            levels = np.array([float(x) for x in nums(s.levels[start:start + POINTS_PER_TEST]).split(",")])
            self._sweep_setup(s, levels, delay)
            k.command("MD")
            t0 = max(k.clock(), self._t_last)  # the test's timestamps count from ME1
            k.command("ME1")
            yield from self._follow(len(levels) * s.step_time, self._system_busy,
                                    self._sweep_reader(s, levels, start, t0))

    def _sweep_setup(self, s: Sweep, levels: np.ndarray, delay: float) -> None:
        k, ch = self.kxci, self.smu
        mode = 1 if s.source == "V" else 2  # CH mode: 1 voltage source, 2 current source
        k.command("DE")
        k.command(f"CH{ch},'V{ch}','I{ch}',{mode},1")  # VAR1 on our SMU; the DUT returns to ground
        for other in self.smus:
            if other != ch:
                k.command(f"CH{other}")  # undefined: it takes no part in the test
        k.command("SS")
        # The compliance is part of the list command: it is set before the test can energise.
        k.command(f"{s.source}L{ch},1,{num(s.compliance)},{nums(levels)}")
        k.command("HT 0")
        k.command(f"DT {num(delay)}")
        k.command("SM")
        k.command("DM2")
        k.command(f"LI 'I{ch}','V{ch}'")
        k.checkpoint()

    def _system_busy(self) -> bool:
        sb = self.kxci.status_byte()
        if sb & SB_SYNTAX_ERROR:
            self.kxci._raise_reported("ME1", "set the syntax-error bit")
        return bool(sb & SB_BUSY)

    def _sweep_reader(self, s: Sweep, levels: np.ndarray, start: int, t0: float):
        """``fetch(final)`` for :meth:`_follow`: the readings of this test not yet returned,
        from ``DO`` of the current, the voltage and the timestamps."""
        k, ch, n = self.kxci, self.smu, len(levels)
        got = 0

        def fetch(final: bool) -> np.ndarray:
            nonlocal got
            # DO returns the whole buffer so far; only the items not seen yet are parsed.
            i_items = do_items(k.query(f"DO 'I{ch}'"))
            v_items = do_items(k.query(f"DO 'V{ch}'"))
            t_items = do_items(k.query(f"DO 'CH{ch}T'"))  # the timestamp label is fixed: CHnT
            m = min(len(i_items), len(v_items), len(t_items))  # a reading may land between the DOs
            if m > n or (final and m != n):
                raise ProtocolError(f"the test made {m} readings where the sweep has {n} points")
            i, ci = parse_items(i_items[got:m])
            v, cv = parse_items(v_items[got:m])
            stamps, _ = parse_items(t_items[got:m])
            out = np.zeros(m - got, dtype=READING)
            out["t"] = np.maximum(t0 + stamps, self._t_last)
            out["source"] = levels[got:m]
            out["v"], out["i"] = v, i
            # A voltage source's limit shows on the current reading, a current source's on the voltage.
            out["compliance"] = ci if s.source == "V" else cv
            out["index"] = np.arange(start + got, start + m)
            out["kind"] = KIND_POINT
            if m > got:
                self._stamp(out["t"][-1])
            got = m
            return out

        return fetch

    # -- PulseTrain: PMU ---------------------------------------------------------------
    def _pulses(self, p: PulseTrain) -> Iterator[np.ndarray]:
        if self.capabilities.route(p) == "smu":
            yield from self._smu_pulses(p)
        elif _standard_mode(p):
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
        self._pmu_used = True
        k.command(f":PMU:INIT {mode}")  # must come first; purges earlier PMU data
        if self.rpm:
            k.command(f":PMU:RPM:CONFIGURE PMU1-{ch},0")
        k.command(f":PMU:SOURCE:RANGE {ch},10")
        # A fixed range measures; it limits nothing (overflow is a status bit).
        k.command(f":PMU:MEASURE:RANGE {ch},2,{num(_pmu_range(p, self.capabilities))}")
        # The series load stated by the user (or the PMU's default): it scales the output
        # for the load, and it is what bounds the current (kxci_route.pmu_current_bound).
        k.command(f":PMU:LOAD {ch},{num(self.capabilities.load(p) or route.PMU_DEFAULT_LOAD)}")
        # LLEC fires extra pulses at each step, which move a memristor: only when asked for,
        # and the capability check allowed it (standard pulse mode, a PMU range).
        k.command(f":PMU:LLEC:CONFIGURE {ch},{1 if self.llec else 0}")

    def _standard_pulses(self, p: PulseTrain) -> Iterator[np.ndarray]:
        """One burst of identical pulses (<= 10000), its spot means streamed while it runs."""
        k, ch = self.kxci, self.pmu
        edge = sarb.edge_time(p.width)
        self._pmu_setup(0, p)
        k.command(":PMU:MEASURE:MODE 1")  # spot mean, one point per pulse
        # The train's amplitude is counted from the base; ours are absolute tops.
        k.command(f":PMU:PULSE:TRAIN {ch},{num(p.base)},{num(p.amplitudes[0] - p.base)}")
        k.command(f":PMU:PULSE:TIMES {ch},{num(p.period)},{num(p.width)},{num(edge)},{num(edge)},0")
        k.command(f":PMU:PULSE:BURST:COUNT {p.count}")
        k.command(f":PMU:OUTPUT:STATE {ch},1")  # takes effect at EXECUTE

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
            k.command(f":PMU:SARB:WFM:SEQ:LIST {ch},{','.join(entries)}")
            if n_run == 0:
                k.command(f":PMU:OUTPUT:STATE {ch},1")
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
                self.kxci.command(f":PMU:SARB:SEQ:{name}{suffix} {ch},{number},{','.join(batch)}")

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
        t0 = max(k.clock(), self._t_last)  # the PMU's T counts from EXECUTE
        got = 0

        def fetch(final: bool) -> np.ndarray | None:
            nonlocal got
            count = parse_int(k.query(f":PMU:DATA:COUNT? {ch}"), ":PMU:DATA:COUNT?")
            if count > points or (final and count != points):
                raise ProtocolError(f"the PMU holds {count} points where this train makes {points}")
            pages = []
            while got < count:
                n = min(PMU_PAGE, count - got)
                pages.append(readings(got, self._pmu_page(k.query(f":PMU:DATA:GET {ch},{got},{n}"), n), t0))
                got += n
            if not pages:
                return None
            out = np.concatenate(pages)
            out["t"] = np.maximum(out["t"], self._t_last)
            self._stamp(out["t"][-1])
            return out

        k.command(":PMU:EXECUTE")
        yield from self._follow(expected, lambda: parse_int(k.query(":PMU:TEST:STATUS?"),
                                                            ":PMU:TEST:STATUS?") != 0, fetch)

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

    # -- Sampling: user mode -----------------------------------------------------------
    def _sampling(self, s: Sampling) -> Iterator[np.ndarray]:
        k = self.kxci
        k.command("US")
        k.command(self._integration(s.nplc))
        k.command(self._range_cmd(s.measure_range if s.source == "V" else None))
        k.checkpoint()
        setting = self._source_cmd(s.source, s.level, s.compliance)
        k.command(setting)  # limit and level together
        k.checkpoint()
        t0 = k.clock()
        level = float(num(s.level))  # as sent
        for index, at in enumerate(s.times):
            wait = t0 + float(at) - k.clock()
            if wait > 0:
                k.idle(wait)
            t = self._stamp(k.clock())
            v, i, comp = self._spot(setting, fresh=index == 0)
            out = np.zeros(1, dtype=READING)
            out[0] = (t, level, v, i, comp, index, KIND_POINT)
            yield out

