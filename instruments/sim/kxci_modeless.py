"""Handlers of the simulated 4200A's modeless commands: identity, errors, status byte,
pages, integration and ranges, and the PMU's run control (EXECUTE, ABORT, OUTPUT:STATE,
TEST:STATUS?), which touches the timeline.

A mixin of :class:`~labqc.instruments.sim.kxci4200a.K4200AEmulator`; the command table
(kxci_commands.py) checks the arguments before a handler runs.
"""
from __future__ import annotations

from labqc.instruments.sim.kxci_settings import BUFFER, EMULATOR
from labqc.instruments.sim.kxci_syntax import KxciError
from labqc.instruments.sim.kxci_system import source_and_compliance

FIRMWARE = "V1.13"
#: NPLC of IT1, IT2, IT3.
IT_NPLC = {1: 0.01, 2: 1.0, 3: 10.0}


class Modeless:
    """Identity, errors, status, pages, modeless SMU settings, PMU run control."""

    # --- identity and errors ---------------------------------------------------------------
    def identify(self) -> str:
        return f"KEITHLEY INSTRUMENTS,KI4200A,{self.serial},{FIRMWARE}"

    def short_id(self) -> str:
        return f"KI4200A {FIRMWARE}"

    def options(self) -> str:
        if not self.full_set:
            raise KxciError(-992, "*OPT? needs the 4200A command set (EM 1,0).")
        opts = [f"SMU{ch}" for ch in self.smu]
        if self.pmu.present and self.pmu.rpm:  # a PMU with RPMs: one entry per channel
            opts += [] if self.omit_first_rpm else ["PMU1RPM1-1"]
            opts.append("PMU1RPM1-2")
        elif self.pmu.present:
            opts.append("PMU1")
        return ",".join(opts)

    def power_on_reset(self) -> None:
        self._abort_tests(self.t)
        self._power_on()
        self.system.reset()
        self.pmu.reset()

    def command_set(self, full: int, _persist: int) -> None:
        self.full_set = bool(full)
        self.system.buffer = BUFFER if full else 1024

    def error_get(self) -> str:
        if self.last_error is None:
            return ""  # no error: an empty reply
        code, msg = self.last_error
        return f"{msg} ({code})"

    def error_clear(self) -> None:
        self.last_error = None
        self._b1 = False

    # --- status and buffer ---------------------------------------------------------------
    def status_poll(self) -> str:
        byte = self.status_byte()
        self._b0 = self._b1 = False
        return str(byte)

    def buffer_clear(self) -> None:
        self._b0 = False
        self.sys_last = None

    def set_srq(self, on: int) -> None:
        self.srq_on_data = bool(on)

    # --- pages -------------------------------------------------------------------------------
    def select_page(self, page: str) -> None:
        self.page = page

    def page_check(self, *pages: str) -> None:
        if self.page == "US":
            raise KxciError(-975, "select the page first (DE, SS, SM or MD).")
        if self.page not in pages:
            raise KxciError(-989, f"the command belongs to page {' or '.join(pages)}, the current page is "
                                  f"{self.page}.")

    def user_library(self, *_a) -> None:
        raise KxciError(-992, "user library modules (EX) are not simulated.")

    # --- modeless SMU settings -------------------------------------------------------------
    def integration(self, mode: int, *rest: float) -> None:
        if mode < 4:
            if rest:
                raise KxciError(-993, f"IT1-IT3 take 1 argument, got {1 + len(rest)}.")
            self.nplc, self.delay_factor = IT_NPLC[mode], EMULATOR["delay_factor"].default
            return
        if not self.full_set:
            raise KxciError(-992, "IT4 needs the 4200A command set (EM 1,0).")
        if len(rest) != 3:
            raise KxciError(-993, f"IT4 takes 4 arguments, got {1 + len(rest)}.")
        self.delay_factor, _filter, self.nplc = rest

    def range_floor(self, ch: int, amps: float) -> None:
        """``RG ch,I``: the lowest range autorange uses (accepted; readings are exact)."""

    def current_range(self, ch: int, _range: float, comp: float) -> None:
        s = self.smu[ch]
        if s.source == "V":
            s.compliance = source_and_compliance("V", s.level, comp)

    def voltage_range(self, ch: int, _range: float, comp: float) -> None:
        s = self.smu[ch]
        if s.source == "I":
            s.compliance = source_and_compliance("I", s.level, comp)

    def resolution(self, digits: int) -> None:
        self.digits = digits

    def set_exit_on_compliance(self, on: int) -> None:
        self.exit_on_compliance = bool(on)

    def standby(self, ch: int, on: int) -> None:
        self.smu[ch].standby = bool(on)

    def define_channel(self, ch: int, *definition) -> None:
        """``CH ch,...`` on the DE page; ``CH ch`` alone undefines it and switches it off."""
        self.system.define(ch, *definition)
        if not definition:
            self.smu[ch].source = None

    # --- PMU run control ---------------------------------------------------------------------
    def pmu_execute(self) -> None:
        if self.running() is not None:
            raise KxciError(-980, "a test is already running.")
        test = self.pmu.compile(self.device, self.t)
        for run in test.runs:
            run.cfg.energized = True
        self.pmu.test = test

    def pmu_abort(self) -> None:
        if self.pmu.test is not None:
            self._abort_tests(self.t)
        for c in self.pmu.channels.values():
            c.energized = c.output_req = False

    def pmu_status(self) -> str:
        return "1" if self.pmu.test is not None else "0"

    def pmu_output(self, ch: int, on: int) -> None:
        c = self.pmu.channels[ch]
        if on:
            if self.running() is not None:
                raise KxciError(-980, "outputs can be enabled only between tests.")
            self.pmu.initialised()
            c.output_req = True  # takes effect at EXECUTE
        else:
            if self.pmu.test is not None:  # switching a channel off ends the test
                self._abort_tests(self.t)
            c.output_req = c.energized = False
