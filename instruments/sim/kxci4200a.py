"""Simulated Keithley 4200A-SCS speaking KXCI (user mode, system mode, PMU), for drivers.

Wiring: the device under test sits between SMU1 and ground and, through the RPM, on PMU
channel 1; SMU2..SMUn and PMU channel 2 are open circuit. ``framing`` "ethernet": NUL
terminators, one reply per message (its data, else ``ACK``; ``ERROR`` when a command in
it failed); "gpib": LF terminators, set commands answer nothing. This module holds the
framing, the status byte and the timeline; every command goes through the command table
(kxci_commands.py) to its handler: modeless ones in kxci_modeless.py, user mode in
kxci_user.py, the pages in kxci_system.py, ME/DO/RD in kxci_readback.py, the PMU in
kxci_pmu.py. The settings and their power-on values are tables (kxci_settings.py). What
the simulator answers, and which of it the vendor's material confirms, is in
docs/keithley4200a.md.
"""
from __future__ import annotations

from labqc.instruments.sim.clock import VirtualClock
from labqc.instruments.sim.device import Device
from labqc.instruments.sim.emulator import Emulator
from labqc.instruments.sim.faults import FaultPlan
from labqc.instruments.sim.kxci_commands import MNEMONICS, dispatch
from labqc.instruments.sim.kxci_modeless import Modeless
from labqc.instruments.sim.kxci_pmu import Pmu
from labqc.instruments.sim.kxci_readback import Readback
from labqc.instruments.sim.kxci_settings import BUFFER, DEFAULT_COMPLIANCE, EMULATOR, Smu
from labqc.instruments.sim.kxci_syntax import KxciError, fields, split_message
from labqc.instruments.sim.kxci_sweep import SweepTest
from labqc.instruments.sim.kxci_system import SystemSetup
from labqc.instruments.sim.kxci_timeline import apply_steps, device_time
from labqc.instruments.sim.kxci_user import UserMode

LINE_HZ = 60.0
SETTLE = 100e-6  # s per reading, times the IT4 delay factor


class K4200AEmulator(Modeless, UserMode, Readback, Emulator):
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
        EMULATOR.reset(self)
        self.system.buffer = BUFFER
        self.sys_run: SweepTest | None = None  # running system-mode test
        self.sys_last: SweepTest | None = None  # the test DO/RD read

    # --- time ---------------------------------------------------------------------------
    @property
    def t_int(self) -> float:
        return self.nplc / LINE_HZ

    @property
    def t_read(self) -> float:
        return SETTLE * self.delay_factor + self.t_int

    def running(self):
        """The test running now (system mode or PMU), or None."""
        return self.sys_run if self.sys_run is not None else self.pmu.test

    def _sync(self, t: float) -> None:
        """Bring the device (and running tests) up to time ``t``."""
        while True:
            act = self.running()
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
        act = self.running()
        was = act is not None
        while act is not None:
            reached = act.stop(max(t, self.devtime.t))
            self.devtime.t = max(self.devtime.t, reached)
            self._finish(act)
            act = self.running()
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
            commands = split_message(text, MNEMONICS)
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
        busy = self.running() is not None
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

    def _command(self, head: str, args: str) -> str | None:
        self._sync(self.t)
        return dispatch(self, head, fields(args))

    def _smu_on(self, ch: int) -> bool:
        if self.sys_run is not None and ch in self.sys_run.plan.sources:
            return True
        return self.smu[ch].source is not None
