"""Simulated Keithley 4200A-SCS speaking KXCI (user mode, system mode, PMU), for drivers.

Wiring: the device under test sits between SMU1 and ground and, through the RPM, on PMU
channel 1; SMU2..SMUn and PMU channel 2 are open circuit. ``framing`` "ethernet": NUL
terminators, one reply per message (its data, else ``ACK``; ``ERROR`` when a command in
it failed); "gpib": LF terminators, set commands answer nothing. What the simulator
answers, which of it the vendor's material confirms and which is its own choice, is in
docs/keithley4200a.md; user mode is in kxci_user.py, system-mode tests in kxci_system.py
and kxci_readback.py, the PMU in kxci_pmu.py.
"""
from __future__ import annotations

from labqc.instruments.sim.clock import VirtualClock
from labqc.instruments.sim.device import Device
from labqc.instruments.sim.emulator import Emulator
from labqc.instruments.sim.faults import FaultPlan
from labqc.instruments.sim.kxci_pmu import Pmu, PmuTest
from labqc.instruments.sim.kxci_readback import Readback
from labqc.instruments.sim.kxci_syntax import KxciError, fields, integer, need, number, number_in, split_message
from labqc.instruments.sim.kxci_system import (BUFFER, DEFAULT_COMPLIANCE, MAX_V, SweepTest, SystemSetup,
                                         source_and_compliance)
from labqc.instruments.sim.kxci_timeline import apply_steps, device_time
from labqc.instruments.sim.kxci_user import Smu, UserMode

FIRMWARE = "V1.13"
LINE_HZ = 60.0
SETTLE = 100e-6  # s per reading, times the IT4 delay factor
IT_NPLC = {1: 0.01, 2: 1.0, 3: 10.0}
SYSTEM_PAGES = ("DE", "SS", "SM", "MD")
#: Commands a running test lets through (everything else: -980).
WHILE_BUSY = {"SP", "ID", "*IDN?", "*OPT?", "DO", "RD", ":ERROR:LAST:GET", ":ERROR:LAST:CLEAR",
              "*RST", "US", "DE", "SS", "SM", "MD", "ME", ":PMU:TEST:STATUS?", ":PMU:DATA:COUNT?",
              ":PMU:DATA:GET", ":PMU:ABORT", ":PMU:OUTPUT:STATE"}


class K4200AEmulator(UserMode, Readback, Emulator):
    model = "4200A"
    command_time = 1e-3  # s: one KXCI round trip

    def __init__(self, device: Device, clock: VirtualClock, faults: FaultPlan | None = None, *,
                 framing: str = "ethernet", serial: str = "1234567", smus: int = 4,
                 pmu: bool = True, rpm: bool = True, omit_first_rpm: bool = False) -> None:
        super().__init__(device, clock, faults)
        if framing not in ("ethernet", "gpib"):
            raise ValueError(f"framing must be 'ethernet' or 'gpib', got {framing!r}")
        if not 1 <= int(smus) <= 8:
            raise ValueError(f"a 4200A holds 1 to 8 SMUs, got {smus!r}")
        self.framing = framing
        term = b"\0" if framing == "ethernet" else b"\n"
        self.write_termination = self.read_termination = term
        self.serial = str(serial)
        self.n_smus = int(smus)
        self.devtime = device_time(device)
        self.devtime.t = max(self.devtime.t, clock.now)
        self.system = SystemSetup(self.n_smus)
        self.pmu = Pmu(bool(pmu), bool(pmu and rpm))
        # Firmware seen on hardware leaves PMU1RPM1-1 out of *OPT? (docs/keithley4200a.md).
        self.omit_first_rpm = bool(omit_first_rpm)
        self.last_error: tuple[int, str] | None = None
        self._b0 = self._b1 = False
        self._power_on()

    def _power_on(self) -> None:
        self.smu = {ch: Smu() for ch in range(1, self.n_smus + 1)}
        self.page = "DE"
        self.nplc, self.delay_factor = IT_NPLC[1], 1.0
        self.digits = 7
        self.exit_on_compliance = False
        self.full_set = True  # EM 1,0
        self.system.buffer = BUFFER
        self.srq_on_data = False
        self.sys_run: SweepTest | None = None  # running system-mode test
        self.sys_last: SweepTest | None = None  # the test DO/RD read

    # --- time ---------------------------------------------------------------------------
    @property
    def t_int(self) -> float:
        return self.nplc / LINE_HZ

    @property
    def t_read(self) -> float:
        return SETTLE * self.delay_factor + self.t_int

    def _running(self):
        return self.sys_run if self.sys_run is not None else self.pmu.test

    def _sync(self, t: float) -> None:
        """Bring the device (and running tests) up to time ``t``."""
        while True:
            act = self._running()
            if act is not None:
                reached = act.advance(t)
                self.devtime.t = max(self.devtime.t, reached)
                if act.finished_by(t):
                    self._finish(act)
                    continue
                return
            if self.devtime.t < t:
                self._idle(t - self.devtime.t)
                self.devtime.t = t
            return

    def _idle(self, dt: float) -> None:
        """No test runs: the device sees the output held on it, or rests."""
        held = self.pmu.idle_level()
        s1 = self.smu.get(1)
        if held is not None:
            apply_steps(self.device, "V", [held], [dt], 0.0, 0.2)
        elif s1 is not None and s1.source is not None:
            apply_steps(self.device, s1.source, [s1.level], [dt], 0.0, s1.compliance)
        else:
            self.device.rest(dt)

    def _finish(self, act) -> None:
        if act is self.sys_run:
            self.sys_run = None
            for ch, (src, _, comp) in act.plan.sources.items():
                s = self.smu[ch]
                if ch in act.plan.standby:
                    s.source = None
                else:  # held at 0 V after the test
                    s.source, s.level = "V", 0.0
                    s.compliance = comp if src == "V" else DEFAULT_COMPLIANCE
            self._b0 = True
        elif act is self.pmu.test:
            self.pmu.test = None

    def _abort_tests(self, t: float, record: bool = True) -> bool:
        """Stop whatever runs at ``t``; True if something was running."""
        self._sync(t)
        act = self._running()
        was = act is not None
        while act is not None:
            reached = act.stop(max(t, self.devtime.t))
            self.devtime.t = max(self.devtime.t, reached)
            self._finish(act)
            act = self._running()
        if was and record:
            self.push_error(-966, KxciError(-966).text, latch=False)
        return was

    # --- Emulator interface ---------------------------------------------------------------
    def execute(self, message: bytes) -> None:
        data: list[str] = []
        failed = False
        try:
            try:
                text = message.decode("ascii")
            except UnicodeDecodeError:
                raise KxciError(-992, "the message holds non-ASCII bytes.") from None
            if any(ord(c) < 32 and c not in "\t\r\n" for c in text):
                raise KxciError(-992, "the message holds control characters.")
            commands = split_message(text)
            if not commands:
                return  # a blank message (a stray terminator) is not answered
            for k, (head, args) in enumerate(commands):
                if k:
                    self.spend(self.command_time)
                out = self._command(head, args)
                if out is not None:
                    data.append(out)
        except KxciError as exc:
            failed = True
            self.push_error(exc.code, exc.text)
        except Exception as exc:  # a simulator bug must still answer, never hang the client
            failed = True
            self.push_error(-286, f"internal simulator error: {type(exc).__name__}: {exc}")
        if self.framing == "ethernet":
            self.reply("ERROR" if failed else (",".join(data) if data else "ACK"))
        elif data and not failed:
            self.reply(",".join(data))

    def outputs_on(self) -> dict[str, bool]:
        with self.lock:
            self._sync(self.clock.now)
            out = {f"SMU{ch}": self._smu_on(ch) for ch in self.smu}
            if self.pmu.present:
                out.update(self.pmu.outputs())
            return out

    def on_clear(self) -> None:
        self._abort_tests(max(self.t, self.devtime.t))
        self.smu = {ch: Smu() for ch in range(1, self.n_smus + 1)}
        for c in self.pmu.channels.values():
            c.energized = c.output_req = False
        self._b0 = self._b1 = False

    def status_byte(self) -> int:
        b0 = self._b0 or (self.framing == "gpib" and bool(self._replies))
        busy = self._running() is not None
        rqs = self._b1 or (b0 and self.srq_on_data)
        return (1 if b0 else 0) | (2 if self._b1 else 0) | (16 if busy else 0) | (64 if rqs else 0)

    def read_stb(self) -> int:
        """Serial poll: report the status byte, then clear B0 and B1."""
        with self.lock:
            self._sync(self.clock.now)
            byte = self.status_byte()
            self._b0 = self._b1 = False
            return byte

    def push_error(self, code: int, message: str, latch: bool = True) -> None:
        self.last_error = (int(code), str(message))
        if latch:
            self._b1 = True

    # --- dispatch ---------------------------------------------------------------------
    def _command(self, head: str, args: str) -> str | None:
        key = head.upper() if head[0] in ":*" else head
        self._sync(self.t)
        a = fields(args)
        if self._running() is not None and key not in WHILE_BUSY and not key.startswith(":PMU:DATA"):
            raise KxciError(-980, f"{head} cannot run while a test is running (ME4 or :PMU:ABORT stop it).")
        if key.startswith(":PMU:"):
            return self._pmu(key[5:], a)
        if key in SystemSetup.PAGE_OF:
            self._page_check(*SystemSetup.PAGE_OF[key])
            self.system.handle(key, a)
            if key == "CH" and len(a) == 1:  # an undefined channel is switched off
                self.smu[int(number(a[0]))].source = None
            return None
        handler = getattr(self, "_c_" + key.replace("*", "STAR_").replace(":", "_").replace("?", "_Q"), None)
        if handler is None:
            raise KxciError(-992, f"unknown command {head!r}.")
        return handler(a)

    def _page_check(self, *pages: str) -> None:
        if self.page == "US":
            raise KxciError(-975, "select the page first (DE, SS, SM or MD).")
        if self.page not in pages:
            raise KxciError(-989, f"the command belongs to page {' or '.join(pages)}, the current page is "
                                  f"{self.page}.")

    def _smu_channel(self, field_: str, hi: int = 8) -> int:
        ch = integer(field_, 1, hi, "SMU channel")
        if ch > self.n_smus:
            raise KxciError(-979, f"SMU{ch} is not installed.")
        return ch

    def _smu_on(self, ch: int) -> bool:
        if self.sys_run is not None and ch in self.sys_run.plan.sources:
            return True
        return self.smu[ch].source is not None

    # --- pages and identity ------------------------------------------------------------
    def _page(self, page: str, a: list[str]) -> None:
        if a:
            raise KxciError(-993, f"{page} takes no arguments.")
        self.page = page

    def _c_US(self, a):
        self._page("US", a)

    def _c_DE(self, a):
        self._page("DE", a)

    def _c_SS(self, a):
        self._page("SS", a)

    def _c_SM(self, a):
        self._page("SM", a)

    def _c_MD(self, a):
        self._page("MD", a)

    def _c_UL(self, a):
        self._page("UL", a)

    def _c_EX(self, a):
        raise KxciError(-992, "user library modules (EX) are not simulated.")

    def _c_STAR_IDN_Q(self, a):
        need(a, 0, 0, "*IDN?")
        return f"KEITHLEY INSTRUMENTS,KI4200A,{self.serial},{FIRMWARE}"

    def _c_ID(self, a):
        need(a, 0, 0, "ID")
        return f"KI4200A {FIRMWARE}"

    def _c_STAR_OPT_Q(self, a):
        need(a, 0, 0, "*OPT?")
        if not self.full_set:
            raise KxciError(-992, "*OPT? needs the 4200A command set (EM 1,0).")
        opts = [f"SMU{ch}" for ch in self.smu]
        if self.pmu.present and self.pmu.rpm:  # a PMU with RPMs: one entry per channel
            opts += [] if self.omit_first_rpm else ["PMU1RPM1-1"]
            opts.append("PMU1RPM1-2")
        elif self.pmu.present:
            opts.append("PMU1")
        return ",".join(opts)

    def _c_STAR_RST(self, a):
        need(a, 0, 0, "*RST")
        self._abort_tests(self.t)
        self._power_on()
        self.system.reset()
        self.pmu.reset()

    def _c_EM(self, a):
        need(a, 2, 2, "EM")
        full = integer(a[0], 0, 1, "command set")
        integer(a[1], 0, 1, "persistence")
        self.full_set = bool(full)
        self.system.buffer = BUFFER if full else 1024

    def _c__ERROR_LAST_GET(self, a):
        need(a, 0, 0, ":ERROR:LAST:GET")
        if self.last_error is None:
            return ""  # no error: an empty reply
        code, msg = self.last_error
        return f"{msg} ({code})"

    def _c__ERROR_LAST_CLEAR(self, a):
        need(a, 0, 0, ":ERROR:LAST:CLEAR")
        self.last_error = None
        self._b1 = False

    # --- status and buffer ---------------------------------------------------------------
    def _c_SP(self, a):
        need(a, 0, 0, "SP")
        byte = self.status_byte()
        self._b0 = self._b1 = False
        return str(byte)

    def _c_BC(self, a):
        need(a, 0, 0, "BC")
        self._b0 = False
        self.sys_last = None

    def _c_DR(self, a):
        need(a, 1, 1, "DR")
        self.srq_on_data = bool(integer(a[0], 0, 1, "DR"))

    # --- modeless SMU settings -------------------------------------------------------------
    def _c_IT(self, a):
        if not a:
            raise KxciError(-993, "IT needs a mode 1-4.")
        mode = integer(a[0], 1, 4, "integration mode")
        if mode < 4:
            need(a, 1, 1, "IT1-IT3")
            self.nplc, self.delay_factor = IT_NPLC[mode], 1.0
            return
        if not self.full_set:
            raise KxciError(-992, "IT4 needs the 4200A command set (EM 1,0).")
        need(a, 4, 4, "IT4")
        delay = number_in(a[1], 0, 100, "delay factor")
        number_in(a[2], 0, 100, "filter factor")
        self.nplc = number_in(a[3], 0.01, 10, "NPLC")
        self.delay_factor = delay

    def _c_RG(self, a):
        need(a, 2, 2, "RG")
        self._smu_channel(a[0])
        number_in(a[1], 1e-12, 0.105, "lowest autorange current (A)")

    def _c_RI(self, a):
        need(a, 3, 3, "RI")
        ch = self._smu_channel(a[0])
        number_in(a[1], 0, 0.105, "current range (A)")
        comp = number(a[2])
        s = self.smu[ch]
        if s.source == "V":
            s.compliance = source_and_compliance("V", s.level, comp)

    def _c_RV(self, a):
        need(a, 3, 3, "RV")
        ch = self._smu_channel(a[0])
        number_in(a[1], 0, MAX_V, "voltage range (V)")
        comp = number(a[2])
        s = self.smu[ch]
        if s.source == "I":
            s.compliance = source_and_compliance("I", s.level, comp)

    def _c_RS(self, a):
        need(a, 1, 1, "RS")
        self.digits = integer(a[0], 3, 7, "resolution digits")

    def _c_EC(self, a):
        need(a, 1, 1, "EC")
        self.exit_on_compliance = bool(integer(a[0], 0, 1, "EC"))

    def _c_ST(self, a):
        need(a, 2, 2, "ST")
        ch = self._smu_channel(a[0])
        self.smu[ch].standby = bool(integer(a[1], 0, 1, "standby"))

    # --- PMU ----------------------------------------------------------------------------------
    def _pmu(self, path: str, a: list[str]) -> str | None:
        if path == "EXECUTE":
            need(a, 0, 0, ":PMU:EXECUTE")
            if not self.pmu.present:
                raise KxciError(-969, "no PMU is installed.")
            if self._running() is not None:
                raise KxciError(-980, "a test is already running.")
            test: PmuTest = self.pmu.compile(self.device, self.t)
            for run in test.runs:
                run.cfg.energized = True
            self.pmu.test = test
            return None
        if path == "ABORT":
            need(a, 0, 0, ":PMU:ABORT")
            if self.pmu.test is not None:
                self._abort_tests(self.t)
            for c in self.pmu.channels.values():
                c.energized = c.output_req = False
            return None
        if path == "TEST:STATUS?":
            need(a, 0, 0, ":PMU:TEST:STATUS?")
            return "1" if self.pmu.test is not None else "0"
        if path == "OUTPUT:STATE":
            need(a, 2, 2, ":PMU:OUTPUT:STATE")
            if not self.pmu.present:
                raise KxciError(-969, "no PMU is installed.")
            c = self.pmu._ch(a[0])
            on = bool(integer(a[1], 0, 1, "output state", code=-969))
            if on:
                if self._running() is not None:
                    raise KxciError(-980, "outputs can be enabled only between tests.")
                self.pmu._initialised()
                c.output_req = True  # takes effect at EXECUTE
            else:
                if self.pmu.test is not None:  # switching a channel off ends the test
                    self._abort_tests(self.t)
                c.output_req = c.energized = False
            return None
        if path.startswith("SARB:SEQ:"):
            if not self.pmu.present:
                raise KxciError(-969, "no PMU is installed.")
            self.pmu.sarb(path[len("SARB:SEQ:"):], a)
            return None
        return self.pmu.handle(path, a)
