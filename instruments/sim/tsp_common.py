"""The IEEE 488.2 common commands the simulated 2614B answers, as a command table.

On the 2600B a common command (``*IDN?``, ``*RST``, ``*TRG`` ...) is a message of its own,
outside Lua; anything else starting with ``*`` goes to the Lua parser, which reports the
syntax error. Each entry takes the emulator and the command's argument text.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from labqc.instruments.sim.tsp2614b import K2614BEmulator


def _idn(emu: "K2614BEmulator", _: str) -> None:
    emu.reply(f"Keithley Instruments Inc., Model {emu.model}, {emu.serial}, {emu.firmware}")


def _cls(emu: "K2614BEmulator", _: str) -> None:
    emu.errors.clear()
    emu.esr = 0


def _opc_query(emu: "K2614BEmulator", _: str) -> None:
    if emu.complete():
        emu.reply("1")


def _opc(emu: "K2614BEmulator", _: str) -> None:
    if emu.complete():
        emu.esr |= 0x01


def _esr_query(emu: "K2614BEmulator", _: str) -> None:
    emu.reply(str(emu.esr))
    emu.esr = 0  # reading the register clears it


def _enable(register: str) -> Callable[["K2614BEmulator", str], None]:
    def write(emu: "K2614BEmulator", arg: str) -> None:
        try:
            value = int(float(arg)) & 0xFF
        except ValueError:
            emu.push_error(-285, f"TSP Syntax error at line 1: bad parameter {arg!r} for *{register.upper()}")
            return
        setattr(emu, register, value)
    return write


def _trg(emu: "K2614BEmulator", _: str) -> None:
    for smu in (emu.smua, emu.smub):
        smu.command_trigger()


#: Command (upper case) -> action.
COMMON: dict[str, Callable[["K2614BEmulator", str], None]] = {
    "*IDN?": _idn,
    "*RST": lambda emu, _: emu.reset_instrument(),
    "*CLS": _cls,
    "*OPC?": _opc_query,
    "*OPC": _opc,
    "*WAI": lambda emu, _: emu.complete(),
    "*ESR?": _esr_query,
    "*STB?": lambda emu, _: emu.reply(str(emu.status_byte())),
    "*ESE": _enable("ese"),
    "*SRE": _enable("sre"),
    "*ESE?": lambda emu, _: emu.reply(str(emu.ese)),
    "*SRE?": lambda emu, _: emu.reply(str(emu.sre)),
    "*TST?": lambda emu, _: emu.reply("0"),
    "*TRG": _trg,
}


def run_common(emu: "K2614BEmulator", cmd: str) -> bool:
    """Carry out the common command ``cmd``; False if it is none (Lua gets it)."""
    head, _, arg = cmd.partition(" ")
    action = COMMON.get(head.upper())
    if action is None:
        return False
    action(emu, arg)
    return True


__all__ = ["COMMON", "run_common"]
