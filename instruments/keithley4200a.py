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
from dataclasses import replace
from typing import Iterator

import numpy as np

from labqc.instruments import kxci_route as route
from labqc.instruments.errors import CapabilityError, ConnectionLost, InstrumentError, ProtocolError
from labqc.instruments.kxci_capabilities import CAPABILITIES, MAX_DELAY, POINTS_PER_TEST, SETTLE, K4200ACapabilities
from labqc.instruments.kxci_follow import RunFollower
from labqc.instruments.kxci_format import do_items, num, nums, parse_items, parse_spot
from labqc.instruments.kxci_messages import msg
from labqc.instruments.kxci_sampling import run_sampling
from labqc.instruments.kxci_pulses import PMU_CURRENT_RANGES, PMU_RANGES_NO_RPM, PmuPulses
from labqc.instruments.kxci_session import KXCI, SB_BUSY, SB_SYNTAX_ERROR
from labqc.instruments.smu import KIND_POINT, READING, PulseTrain, Request, Sampling, SourceMeasure, Sweep


def has_rpm(options: list[str], channel: int) -> bool:
    """Whether ``*OPT?`` shows an RPM on PMU card 1's ``channel``: entries such as
    ``PMU1RPM1-1``; firmware seen on hardware leaves the first one out while the RPM is
    there (docs/keithley4200a.md, "Identity and errors"), so RPM 1 counts as present when RPM 2 is listed."""
    found = {int(m.group(1)) for o in options if (m := re.search(r"RPM1?-(\d)$", o))}
    return channel in found or (channel == 1 and 2 in found)


def tv_number(smu: int) -> int:
    """The ``TV`` number of SMU ``smu``: 1-4 for SMU1-4, 7-10 for SMU5-8 (5-6 and 11-16 are
    voltmeters)."""
    return smu if smu <= 4 else smu + 2


def sweep_tests(s: Sweep, line_frequency: float) -> tuple[float, list[tuple[int, np.ndarray]]]:
    """How a Sweep runs in system mode: the ``DT`` delay of every point (a point takes DT
    plus the reading: ~100 µs settling at delay factor 1, then the integration of NPLC
    line periods), and the tests it is cut into, ``(first point, levels)`` of at most 4096
    points each, the levels as sent (6 significant digits), which the readings report."""
    reading = SETTLE + s.nplc / line_frequency
    delay = min(MAX_DELAY, max(0.0, s.step_time - reading))
    tests = [(start, np.array([float(x) for x in nums(s.levels[start:start + POINTS_PER_TEST]).split(",")]))
             for start in range(0, s.points, POINTS_PER_TEST)]
    return delay, tests


# --- the driver ---------------------------------------------------------------------------


class Keithley4200A(PmuPulses, SourceMeasure):
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
        self.pmu_used = False  # a train ran on the PMU: output_off and abort address it too
        self.follower = RunFollower(self.kxci)  # timestamps handed out, and following running tests
        try:
            self._connect()
        except BaseException:
            self.close()  # do not leave a half-open session behind
            raise

    def _connect(self) -> None:
        # Device clear first: KXCI otherwise may return stale values (docs/keithley4200a.md).
        self.kxci.device_clear()
        self.kxci.command(msg("command_set"))  # the 4200A command set (IT4, 4096-point buffers)
        self.kxci.command(msg("clear_error"))
        self.identity = self.kxci.query(msg("identity"))
        self._options(self.kxci.query(msg("options")))
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
        k.command(msg("user_mode"))
        k.command(msg("integration", nplc=float(nplc)))
        k.command(self.range_floor_command(None))
        k.checkpoint()  # GPIB: the set-up was accepted before the output turns on
        try:
            setting = self._source_cmd(source, level, compliance)
            k.command(setting)  # on, with its limit
            t = self.follower.stamp(k.clock())
            v, i, comp = self._spot(setting)
        except BaseException:
            self.output_off()  # recovers the session if it has to
            raise
        k.command(msg("user_off", ch=self.smu))
        k.checkpoint()
        out = np.zeros(1, dtype=READING)
        out[0] = (t, float(num(level)), v, i, comp, 0, KIND_POINT)
        return out

    def abort(self) -> None:
        """``ME4`` (system-mode test) and ``:PMU:ABORT``, then every output off."""
        for cmd in [msg("abort_test")] + ([msg("pmu_abort")] if self.pmu_used else []):
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
        k.command(msg("user_mode"))
        k.command(msg("user_off", ch=self.smu))
        if self.pmu_used:
            k.command(msg("pmu_output", ch=self.pmu, on=False))
        k.checkpoint()

    def close(self) -> None:
        self.kxci.adapter.close()

    # -- helpers shared by the operations ------------------------------------------------
    def range_floor_command(self, measure_range: float | None) -> str:
        """``RG ch,I``: the lowest current range autorange may use. KXCI has no fixed measure
        range for system-mode tests, so a V source's ``measure_range`` becomes this floor
        (readings never drop below it: no slow low-range settling); None restores the
        power-on floor, since RG persists between requests."""
        return msg("range_floor", ch=self.smu, amps=float(measure_range or self._lowest_range))

    def _source_cmd(self, source: str, level: float, compliance: float) -> str:
        """User-mode ``DV``/``DI`` with autorange and the compliance in the same command."""
        letter = "V" if source == "V" else "I"
        return msg("user_source", source=letter, ch=self.smu, level=float(level), compliance=float(compliance))

    def _spot(self, setting: str, fresh: bool = True) -> tuple[float, float, bool]:
        """TV, the source ``setting`` again (the 4200A wants it re-applied before the other
        quantity is measured), then TI; ``fresh``: the setting was just sent, else it is
        sent before TV too (the last reading was a TI)."""
        if not fresh:
            self.kxci.command(setting)
        v, cv, _ = parse_spot(self.kxci.query(msg("test_voltage", n=tv_number(self.smu))))
        self.kxci.command(setting)
        i, ci, _ = parse_spot(self.kxci.query(msg("test_current", ch=self.smu)))
        return v, i, cv or ci

    def buffer(self) -> tuple[list[str], list[str], list[str], int]:
        """The items of ``DO`` of our SMU's current, voltage and timestamps so far, and how
        many readings all three hold (a reading may land between the DOs). A buffer that
        holds no reading yet answers an empty reply, which is no readings."""
        ch, k = self.smu, self.kxci
        items = [do_items(k.query(msg("data_out", name=nm), empty_ok=True))
                 for nm in (f"I{ch}", f"V{ch}", f"CH{ch}T")]  # the timestamp label is fixed: CHnT
        return items[0], items[1], items[2], min(len(x) for x in items)

    # -- Sweep: system mode --------------------------------------------------------------
    def _sweep(self, s: Sweep) -> Iterator[np.ndarray]:
        k = self.kxci
        delay, tests = sweep_tests(s, self.line_frequency)
        k.command(msg("exit_on_compliance", on=False))  # run through compliance points; EC 1 would end a SET at the first
        # Output to standby when each test ends, on the instrument itself: a host that dies
        # leaves the device unbiased at the end of the running test (docs/keithley4200a.md).
        k.command(msg("standby_at_end", ch=self.smu, on=True))
        k.command(msg("integration", nplc=float(s.nplc)))
        # The voltage of a current source autoranges: KXCI has no system-mode V range.
        k.command(self.range_floor_command(s.measure_range if s.source == "V" else None))
        for start, levels in tests:
            # Between chained tests the SMU is in standby for the few ms the next set-up takes.
            self._sweep_setup(s, levels, delay)
            k.command(msg("run_page"))
            t0 = self.follower.start()  # the test's timestamps count from ME1
            k.command(msg("run_test"))
            yield from self.follower.follow(len(levels) * s.step_time, self.system_busy,
                                    self._sweep_reader(s, levels, start, t0))

    def _sweep_setup(self, s: Sweep, levels: np.ndarray, delay: float) -> None:
        k, ch = self.kxci, self.smu
        mode = 1 if s.source == "V" else 2  # CH mode: 1 voltage source, 2 current source
        k.command(msg("define_page"))
        k.command(msg("channel", ch=ch, mode=mode, func=1))  # VAR1 on our SMU; the DUT returns to ground
        for other in self.smus:
            if other != ch:
                k.command(msg("undefine", ch=other))  # it takes no part in the test
        k.command(msg("source_page"))
        # The compliance is part of the list command: it is set before the test can energise.
        k.command(msg("list_sweep", source=s.source, ch=ch, compliance=float(s.compliance), levels=levels))
        k.command(msg("hold_time", seconds=0))
        k.command(msg("delay_time", seconds=float(delay)))
        k.command(msg("measure_page"))
        k.command(msg("display_list"))
        k.command(msg("list_names", ch=ch))
        k.checkpoint()

    def system_busy(self) -> bool:
        """Whether a system-mode test is running (status byte); a set syntax-error bit raises."""
        sb = self.kxci.status_byte()
        if sb & SB_SYNTAX_ERROR:
            self.kxci.raise_reported(msg("run_test"), "set the syntax-error bit")
        return bool(sb & SB_BUSY)

    def _sweep_reader(self, s: Sweep, levels: np.ndarray, start: int, t0: float):
        """``fetch(final)`` for :meth:`RunFollower.follow`: the readings of this test not yet returned,
        from ``DO`` of the current, the voltage and the timestamps."""
        n = len(levels)
        got = 0

        def fetch(final: bool) -> np.ndarray:
            nonlocal got
            i_items, v_items, t_items, m = self.buffer()
            if m > n or (final and m != n):
                raise ProtocolError(f"the test made {m} readings where the sweep has {n} points")
            i, ci = parse_items(i_items[got:m])
            v, cv = parse_items(v_items[got:m])
            stamps, _ = parse_items(t_items[got:m])
            out = np.zeros(m - got, dtype=READING)
            out["t"] = np.maximum(t0 + stamps, self.follower.t_last)
            out["source"] = levels[got:m]
            out["v"], out["i"] = v, i
            # A voltage source's limit shows on the current reading, a current source's on the voltage.
            out["compliance"] = ci if s.source == "V" else cv
            out["index"] = np.arange(start + got, start + m)
            out["kind"] = KIND_POINT
            if m > got:
                self.follower.stamp(out["t"][-1])
            got = m
            return out

        return fetch

    # -- Sampling: system-mode sampling tests of bounded length --------------------------
    def _sampling(self, s: Sampling) -> Iterator[np.ndarray]:
        """Instrument-timed tests of at most 30 s, each ending in standby (kxci_sampling)."""
        yield from run_sampling(self, s, SETTLE + s.nplc / self.line_frequency)
