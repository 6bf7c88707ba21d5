"""Simulated Keithley 4200A-SCS speaking KXCI (user mode, system mode, PMU), for drivers.

Wiring: the device under test sits between SMU1 and ground and, through the RPM, on PMU
channel 1; SMU2..SMUn and PMU channel 2 are open circuit. When a PMU test runs, the PMU
drives the device (the RPM switches); otherwise SMU1's output does.

Framing
-------
- ``framing="ethernet"``: commands and replies end in NUL (``b"\\0"``). Every message
  gets exactly one reply: its data if a command in it produced data, else ``ACK``.
  Several data replies in one message are joined with ``,``. A blank message (only
  white space, e.g. a doubled terminator) is ignored and not answered.
- ``framing="gpib"``: LF terminators both ways; set commands reply nothing; data, busy
  and errors show in the status byte (serial poll, or ``SP``).
- **Errors** (this simulator's choice, the manual leaves it open): a message in which a
  command fails replies ``ERROR`` on Ethernet (nothing on GPIB); the commands before it
  in the message took effect, those after it did not run, their data is dropped.
  ``:ERROR:LAST:GET`` then reads ``<message> (<code>)``, e.g.
  ``Invalid argument. numeric field '0.00012345678901' is longer than 12 characters. (-993)``;
  it is not destructive and reads ``No error (0)`` when none is recorded; ``:ERROR:LAST:CLEAR``
  clears it. An error also sets status bit B1 (cleared by the next ``SP`` or serial poll).
  Codes: -992 unknown/malformed command (lowercase mnemonics too), -993 bad argument
  (count, number syntax, > 12-character field, out of range, VAR1 > 1024 points, list
  > 4096, buffer), -989 wrong page, -975 page command in user mode, -974 user-mode
  command on a system page, -980 not valid while a test runs, -979 SMU not installed,
  -969 invalid PMU argument, -967 invalid pulse configuration (found at EXECUTE),
  -963 more than 65,536 PMU points per channel, -956 Segment Arb segment start != previous
  stop, -966 recorded (without B1, the abort itself answers ACK) when ME4, :PMU:ABORT,
  *RST or a device clear cut a running test short.

Status byte (``SP`` reply, decimal; serial poll on GPIB): B0 = 1 data ready (a system-mode
test finished; on GPIB also a reply waiting), cleared by SP/serial poll, BC, DO, RD;
B1 = 2 error; B4 = 16 busy (a system-mode or PMU test is running); B6 = 64 RQS (B1, or
B0 with ``DR1``). SP reports, then clears B0 and B1.

Readings
--------
``TV``/``TI`` (user mode) reply ``<status><channel><V|I><value>`` with no spaces, e.g.
``NAI+1.000000E-04``: status N normal, C this channel at its compliance, T another
enabled channel at its compliance; channel A..H = SMU1..SMU8 for both V and I; value
with ``RS`` significant digits (default 7) and a 2-digit exponent. TV channels: 1-4 =
SMU1-4, 7-10 = SMU5-8 (5, 6, 11-16 are VMs: -979). A channel that is off reads 0 (N).
``DO 'name'``: the readings taken so far in the last system-mode test, comma-separated,
each ``N`` or ``C`` then the value (``N+1.000000E-04,C+1.000000E-03``); an empty reply
(just the terminator) if none yet. ``DO 'nameT'``: timestamps (s from ME1, end of each
reading, ``N`` prefix); ``DO 'nameS'``: the status letters alone (``N,N,C``).
``RD 'name',k`` (k from 1): one item in the DO format, or ``0`` if not yet measured.
``*IDN?`` -> ``KEITHLEY INSTRUMENTS,KI4200A,<serial>,V1.13``; ``ID`` -> ``KI4200A V1.13``;
``*OPT?`` -> ``SMU1,SMU2,SMU3,SMU4,PMU1,RPM1-1,RPM1-2`` (as configured).

Timing (simulated; every command, SP and ``:PMU:TEST:STATUS?`` included, costs
``command_time`` = 1 ms; a VISA read that times out advances the clock by the timeout,
which the transport does, so a driver can wait for a long test by polling SP with reads
in between, or by a read that is allowed to time out):
integration IT1 = 0.01 PLC, IT2 = 1 PLC, IT3 = 10 PLC, IT4,delay,filter,NPLC (0.01-10
PLC; the filter factor is accepted and ignored) at 60 Hz; each reading takes
``100 us x delay factor`` (1 for IT1-3) to settle plus the integration. Step timing of
system-mode tests: see kxci_system.py; PMU: kxci_pmu.py. Tests run overlapped: ME1 and
:PMU:EXECUTE answer at once and the test runs on the simulated clock.

Modes and defaults: KXCI starts (and *RST returns) on the system page DE with every SMU
defined as a 0 V constant; send ``US`` before DV/DI/TV/TI. ``EM 1,0`` (the default here)
is the 4200A command set; ``EM 0,0`` is 4145 emulation (*OPT? and IT4 refused, buffers
of 1024). After a system-mode test the SMUs it used stay on at 0 V, unless ``ST ch,1``
put them in standby (off). After a PMU test its outputs stay on at the base voltage
until ``:PMU:OUTPUT:STATE ch,0`` or ``:PMU:ABORT``. Device clear (DCL): aborts any test, SMUs back to power-on
user-mode defaults with outputs off, PMU outputs off.

Driver recipes (exact KXCI, one line = one message)
----------------------------------------------------
Buffered list sweep with DO readback (SMU1, 2 ms delay per point, 1 mA limit)::

    BC
    :ERROR:LAST:CLEAR
    EC 0
    IT4,1,1,0.01
    DE CH1,'V1','I1',1,1;CH2;CH3;CH4
    SS VL1,1,1E-3,0,0.1,0.2,0.1,0,-0.1,-0.2,-0.1,0;DT 0.002;HT 0
    SM DM2 LI 'I1','V1'
    MD ME1
    SP                  -> poll (>= a few ms apart) until bit 16 clears (reply 0 or 1)
    DO 'I1'             -> N+1.000000E-05,...,C+1.000000E-03  (also while running: so far)
    DO 'V1'
    DO 'I1T'            -> timestamps
    DE CH1              -> SMU1 off (or ST 1,1 before ME1); ME4 aborts.

Retention sampling (0.1 V held, 600 readings every 2.5 s after 1 s)::

    DE CH1,'V1','I1',1,3;CH2;CH3;CH4
    SS VC1,0.1,1E-4
    SM DM2 LI 'I1' NR 600 IN 2.5 WT 1
    MD ME1
    then poll SP / read DO 'I1' and DO 'I1T' (growing) until not busy; DE CH1.

PMU pulse train (500 x 1.5 V, 5 ms wide, 10 ms period, spot mean), then data::

    :PMU:INIT 0
    :PMU:RPM:CONFIGURE PMU1-1,0
    :PMU:SOURCE:RANGE 1,10
    :PMU:MEASURE:RANGE 1,2,1e-4
    :PMU:LOAD 1,1e4                (or :PMU:LLEC:CONFIGURE 1,1)
    :PMU:MEASURE:MODE 1
    :PMU:MEASURE:PIV 1,1,1
    :PMU:TIMES:PIV 1,0.75,0.9
    :PMU:PULSE:TRAIN 1,0,1.5
    :PMU:PULSE:TIMES 1,0.01,0.005,1e-6,1e-6,0
    :PMU:PULSE:BURST:COUNT 500
    :PMU:OUTPUT:STATE 1,1
    :PMU:EXECUTE
    :PMU:TEST:STATUS?         -> 1 while running, 0 when done (poll)
    :PMU:DATA:COUNT? 1        -> 500 (grows while running)
    :PMU:DATA:GET 1,0,2048    -> VH,IH,TH,SH,VL,IL,TL,SL;... (page by start index)
    :PMU:OUTPUT:STATE 1,0     (:PMU:ABORT stops a test and turns the outputs off)

Pulses with reads between them (Segment Arb): one sequence = write pulse then read::

    :PMU:INIT 1
    :PMU:RPM:CONFIGURE PMU1-1,0
    :PMU:SOURCE:RANGE 1,10
    :PMU:MEASURE:RANGE 1,2,1e-4
    :PMU:LLEC:CONFIGURE 1,1
    :PMU:SARB:SEQ:STARTV 1,1,0,1.5,1.5,0,0.1,0.1,0
    :PMU:SARB:SEQ:STOPV 1,1,1.5,1.5,0,0.1,0.1,0,0
    :PMU:SARB:SEQ:TIME 1,1,1e-6,5e-3,1e-6,1e-6,1e-3,1e-6,4e-3
    :PMU:SARB:SEQ:MEAS:TYPE 1,1,0,1,0,0,1,0,0
    :PMU:SARB:SEQ:MEAS:START 1,1,0,3.75e-3,0,0,0.75e-3,0,0
    :PMU:SARB:SEQ:MEAS:STOP 1,1,0,4.5e-3,0,0,0.9e-3,0,0
    :PMU:SARB:WFM:SEQ:LIST 1,1,100
    :PMU:OUTPUT:STATE 1,1
    :PMU:EXECUTE
    poll :PMU:TEST:STATUS?; :PMU:DATA:GET 1,0,2048 -> V,I,T,S per measured segment
    (pulse mean, read mean, pulse mean, ...); :PMU:OUTPUT:STATE 1,0

Completion and errors: ``SP`` bit 16 (system mode) or ``:PMU:TEST:STATUS?`` (PMU) says
running; errors of EXECUTE (timing limits, points) come back as ``ERROR`` to that
message. After any reply other than ``ACK``/data, or a timeout, read ``:ERROR:LAST:GET``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labqc.instruments.sim.clock import VirtualClock
from labqc.instruments.sim.device import Device
from labqc.instruments.sim.emulator import Emulator
from labqc.instruments.sim.faults import FaultPlan
from labqc.instruments.sim.kxci_pmu import Pmu, PmuTest
from labqc.instruments.sim.kxci_syntax import (KxciError, fields, fmt, integer, name, need, number,
                                         number_in, split_message)
from labqc.instruments.sim.kxci_system import (BUFFER, DEFAULT_COMPLIANCE, MAX_V, SweepTest, SystemSetup,
                                         source_and_compliance)
from labqc.instruments.sim.kxci_timeline import apply_steps, device_time, open_circuit

FIRMWARE = "V1.13"
LINE_HZ = 60.0
SETTLE = 100e-6  # s per reading, times the IT4 delay factor
IT_NPLC = {1: 0.01, 2: 1.0, 3: 10.0}
DV_RANGE_MAX = {0: MAX_V, 1: 21.0, 2: MAX_V, 3: MAX_V}  # range code -> |V| it reaches
DI_RANGE = {0: 0.105, 3: 1e-7, 4: 1e-6, 5: 1e-5, 6: 1e-4, 7: 1e-3, 8: 1e-2, 9: 0.105}
SYSTEM_PAGES = ("DE", "SS", "SM", "MD")
#: Commands a running test lets through (everything else: -980).
WHILE_BUSY = {"SP", "ID", "*IDN?", "*OPT?", "DO", "RD", ":ERROR:LAST:GET", ":ERROR:LAST:CLEAR",
              "*RST", "US", "DE", "SS", "SM", "MD", "ME", ":PMU:TEST:STATUS?", ":PMU:DATA:COUNT?",
              ":PMU:DATA:GET", ":PMU:ABORT", ":PMU:OUTPUT:STATE"}


@dataclass
class Smu:
    """User-mode state of one SMU."""

    source: str | None = None  # None: output off
    level: float = 0.0
    compliance: float = DEFAULT_COMPLIANCE
    range_code: int = 0
    in_compliance: bool = False
    standby: bool = False  # ST ch,1


class K4200AEmulator(Emulator):
    model = "4200A"
    command_time = 1e-3  # s: one KXCI round trip

    def __init__(self, device: Device, clock: VirtualClock, faults: FaultPlan | None = None, *,
                 framing: str = "ethernet", serial: str = "1234567", smus: int = 4,
                 pmu: bool = True, rpm: bool = True) -> None:
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
            self._page_check(SystemSetup.PAGE_OF[key])
            self.system.handle(key, a)
            if key == "CH" and len(a) == 1:  # an undefined channel is switched off
                self.smu[int(number(a[0]))].source = None
            return None
        handler = getattr(self, "_c_" + key.replace("*", "STAR_").replace(":", "_").replace("?", "_Q"), None)
        if handler is None:
            raise KxciError(-992, f"unknown command {head!r}.")
        return handler(a)

    def _page_check(self, page: str) -> None:
        if self.page == "US":
            raise KxciError(-975, "select the page first (DE, SS, SM or MD).")
        if self.page != page:
            raise KxciError(-989, f"the command belongs to page {page}, the current page is {self.page}.")

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
        if self.pmu.present:
            opts.append("PMU1")
            if self.pmu.rpm:
                opts += ["RPM1-1", "RPM1-2"]
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
            return "No error (0)"
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

    # --- user mode ----------------------------------------------------------------------
    def _user(self) -> None:
        if self.page != "US":
            raise KxciError(-974, "send US before user-mode commands.")

    def _c_DV(self, a, source: str = "V"):
        self._user()
        if not a:
            raise KxciError(-993, f"D{source} needs a channel.")
        ch = self._smu_channel(a[0])
        s = self.smu[ch]
        if len(a) == 1:
            s.source, s.in_compliance = None, False
            return
        need(a, 3, 4, f"D{source}")
        level = number(a[2])
        comp = number(a[3]) if len(a) > 3 else s.compliance
        if source == "V":
            code = integer(a[1], 0, 5, "voltage range")
            if code in (4, 5):
                raise KxciError(-993, "voltage ranges 4 and 5 need a preamplifier, none is installed.")
            if abs(level) > DV_RANGE_MAX[code]:
                raise KxciError(-993, f"{level:g} V is beyond range {code}.")
        else:
            code = integer(a[1], 0, 13, "current range")
            if code not in DI_RANGE:
                raise KxciError(-993, f"current range {code} needs a preamplifier or a high-power SMU.")
            if abs(level) > DI_RANGE[code] * 1.05:
                raise KxciError(-993, f"{level:g} A is beyond range {code}.")
        comp = source_and_compliance(source, level, comp)
        s.source, s.level, s.compliance, s.range_code = source, level, comp, code

    def _c_DI(self, a):
        self._c_DV(a, "I")

    def _c_TV(self, a, what: str = "V"):
        self._user()
        need(a, 1, 1, f"T{what}")
        if what == "V":
            n = integer(a[0], 1, 16, "TV channel")
            if n in (5, 6) or n > 10:
                raise KxciError(-979, f"TV{n} is a voltmeter (VM), none is installed.")
            ch = n if n <= 4 else n - 2
            if ch > self.n_smus:
                raise KxciError(-979, f"SMU{ch} is not installed.")
        else:
            ch = self._smu_channel(a[0])
        value, comp = self._measure(ch, what)
        others = any(self._other_in_compliance(c) for c in self.smu if c != ch)
        letter = "C" if comp else ("T" if others else "N")
        return f"{letter}{chr(ord('A') + ch - 1)}{what}{fmt(value, self.digits)}"

    def _c_TI(self, a):
        return self._c_TV(a, "I")

    def _measure(self, ch: int, what: str) -> tuple[float, bool]:
        s = self.smu[ch]
        t_read = self.t_read
        if s.source is None:
            self.spend(t_read)
            return 0.0, False
        if ch == 1:
            m = apply_steps(self.device, s.source, [s.level], [t_read], self.t_int, s.compliance)
            self.spend(t_read)
            self.devtime.t = max(self.devtime.t, self.t)
        else:
            m = open_circuit(s.source, np.array([s.level]), s.compliance)
            self.spend(t_read)
        s.in_compliance = bool(m.compliance[0])
        return float(m.v[0] if what == "V" else m.i[0]), s.in_compliance

    def _other_in_compliance(self, ch: int) -> bool:
        s = self.smu[ch]
        if s.source is None:
            return False
        if ch == 1:
            return s.in_compliance
        return s.source == "I" and s.level != 0

    # --- system mode: ME, DO, RD ------------------------------------------------------------
    def _c_ME(self, a):
        need(a, 1, 1, "ME")
        kind = integer(a[0], 1, 4, "ME")
        if kind == 4:
            if self.sys_run is not None:
                self._abort_tests(self.t)
            return None
        if self._running() is not None:
            raise KxciError(-980, "a test is already running.")
        self._page_check("MD")
        standby = {ch for ch, s in self.smu.items() if s.standby}
        plan = self.system.plan(self.t_read, standby)
        if kind == 3 and self.sys_last is not None:
            if self.sys_last.done + plan.n > self.system.buffer:
                raise KxciError(-993, f"appending {plan.n} readings overflows the buffer of {self.system.buffer}.")
        previous = self.sys_last if kind == 3 else None
        test = SweepTest(plan, self.t, self.device, self.t_int, self.exit_on_compliance)
        test.previous = previous
        self.sys_run = self.sys_last = test
        self._b0 = False

    def _series(self, nm: str) -> tuple[np.ndarray, np.ndarray, str]:
        """(values, compliance, kind) of a DO name; kind: value, T (times) or S (status)."""
        test = self.sys_last
        names = test.plan.names if test is not None else {
            n: 0 for d in self.system.channels.values() for n in (d.vname, d.iname)}
        kind, base = "value", nm
        if nm not in names and nm[-1:] in ("T", "S") and nm[:-1] in names:
            kind, base = nm[-1], nm[:-1]
        if base not in names:
            raise KxciError(-993, f"no data named {nm!r}.")
        if test is None:
            return np.zeros(0), np.zeros(0, bool), kind
        chain = []
        while test is not None:  # ME3 appends to the tests before it
            chain.append(test)
            test = test.previous
        vals, comps, times = [], [], []
        for tst in reversed(chain):
            v, c = tst.series(base) if base in tst.plan.names else (np.zeros(tst.done), np.zeros(tst.done, bool))
            vals.append(v)
            comps.append(c)
            times.append(tst.timestamps())
        v, c, t = np.concatenate(vals), np.concatenate(comps), np.concatenate(times)
        return (t if kind == "T" else v), (np.zeros(len(c), bool) if kind == "T" else c), kind

    def _item(self, value: float, comp: bool) -> str:
        return ("C" if comp else "N") + fmt(float(value), self.digits)

    def _c_DO(self, a):
        need(a, 1, 1, "DO")
        values, comp, kind = self._series(name(a[0]))
        self._b0 = False
        if kind == "S":
            return ",".join("C" if c else "N" for c in comp)
        return ",".join(self._item(v, c) for v, c in zip(values, comp))

    def _c_RD(self, a):
        need(a, 2, 2, "RD")
        values, comp, kind = self._series(name(a[0]))
        k = integer(a[1], 1, self.system.buffer, "reading index")
        self._b0 = False
        if k > len(values):
            return "0"
        if kind == "S":
            return "C" if comp[k - 1] else "N"
        return self._item(values[k - 1], comp[k - 1])

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
