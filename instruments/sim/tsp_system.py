"""The simulated 2614B's instrument-wide TSP tables: ``format``, ``localnode``, ``status``.

Their writable settings are the tables FORMAT and LOCALNODE of
:mod:`labqc.instruments.sim.tsp_settings`, validated as everywhere else; the values live on
the emulator (``fmt_data``, ``fmt_byteorder``, ``fmt_precision``, ``linefreq``, ``prompts``,
``showerrors``), which reads them when it prints. ``status.standard`` is the standard event
register (the one ``*ESR?`` reads; docs/keithley2614b.md, "What the instrument answers").
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from labqc.instruments.sim.tsp_buffers import lua_index
from labqc.instruments.sim.tsp_lua import Dyn, Table
from labqc.instruments.sim.tsp_settings import FORMAT, LOCALNODE, validate

if TYPE_CHECKING:
    from labqc.instruments.sim.tsp2614b import K2614BEmulator
    from labqc.instruments.sim.tsp_smu import SMU

#: format.data values (docs/keithley2614b.md, "Binary readings": ASCII 1, SREAL/REAL32 2,
#: REAL/REAL64/DREAL 3); a script that prints format.data sees these numbers.
ASCII, REAL32, REAL64 = 1, 2, 3
BIGENDIAN, LITTLEENDIAN = 0, 1
FORMAT_CONSTANTS = {"ASCII": ASCII, "SREAL": REAL32, "REAL": REAL64, "REAL32": REAL32, "REAL64": REAL64,
                    "DREAL": REAL64, "NORMAL": BIGENDIAN, "BIGENDIAN": BIGENDIAN, "NETWORK": BIGENDIAN,
                    "SWAPPED": LITTLEENDIAN, "LITTLEENDIAN": LITTLEENDIAN}
#: Emulator attribute holding each format.* setting.
FORMAT_FIELDS = {"data": "fmt_data", "byteorder": "fmt_byteorder", "asciiprecision": "fmt_precision"}
#: status.standard bit names (docs/keithley2614b.md, "What the instrument answers").
STANDARD_BITS = {"OPC": 0x01, "OPERATION_COMPLETE": 0x01, "QYE": 0x04, "QUERY_ERROR": 0x04,
                 "DDE": 0x08, "DEVICE_DEPENDENT_ERROR": 0x08, "EXE": 0x10, "EXECUTION_ERROR": 0x10,
                 "CME": 0x20, "COMMAND_ERROR": 0x20, "URQ": 0x40, "USER_REQUEST": 0x40,
                 "PON": 0x80, "POWER_ON": 0x80}


def _settings(emu: "K2614BEmulator", table: dict, prefix: str, fields: dict[str, str]) -> tuple[dict, dict]:
    """Readers (Dyn) and validating writers of the settings ``table`` stored on ``emu``."""
    def reader(attr: str) -> Dyn:
        return Dyn(lambda: getattr(emu, attr))

    def writer(name: str, attr: str) -> Callable:
        return lambda value: setattr(emu, attr, int(validate(table[name], value, f"{prefix}.{name}")))

    return ({name: reader(attr) for name, attr in fields.items()},
            {name: writer(name, attr) for name, attr in fields.items()})


def reset_format(emu: "K2614BEmulator") -> None:
    """format.* back to its defaults (reset(), *RST)."""
    for name, attr in FORMAT_FIELDS.items():
        setattr(emu, attr, int(FORMAT[name].default))


def format_table(emu: "K2614BEmulator") -> Table:
    readers, writers = _settings(emu, FORMAT, "format", FORMAT_FIELDS)
    return Table({**FORMAT_CONSTANTS, **readers}, writers)


def localnode_table(emu: "K2614BEmulator", firmware: str, reset: Callable) -> Table:
    readers, writers = _settings(emu, LOCALNODE, "localnode", {k: k for k in LOCALNODE})
    return Table({"model": emu.model, "serialno": emu.serial, "revision": firmware,
                  "description": f"Keithley Instruments SMU {emu.model} - {emu.serial}",
                  "reset": reset, **readers}, writers)


def standard_table(emu: "K2614BEmulator") -> Table:
    """``status.standard``: reading ``event`` clears it, ``condition`` does not; ``enable``
    is *ESE."""
    def read_event() -> int:
        value, emu.esr = emu.esr, 0
        return value

    return Table({**STANDARD_BITS, "event": Dyn(read_event), "condition": Dyn(lambda: emu.esr),
                  "enable": Dyn(lambda: emu.ese)},
                 {"enable": lambda v: setattr(emu, "ese", lua_index(v, "status.standard.enable") & 0xFF)})


def status_table(emu: "K2614BEmulator") -> Table:
    """``status``: the status byte, operation (sweeping), measurement (current/voltage limit
    per channel) and standard event registers; ``status.reset()``."""
    def sweeping() -> int:
        return sum(bit for bit, smu in ((2, emu.smua), (4, emu.smub)) if smu.sweeping and smu.busy_until() > emu.t)

    def limits(smu: "SMU") -> Table:
        def cond() -> int:
            if not smu.last_compliance:
                return 0
            return 2 if smu.source.func == 1 else 1  # bit 1 ILMT, bit 0 VLMT
        return Table({"condition": Dyn(cond)})

    def reset(*_) -> None:  # event registers cleared, enable registers to 0
        emu.esr = emu.ese = emu.sre = 0

    operation = Table({"condition": Dyn(lambda: 8 if sweeping() else 0),
                       "sweeping": Table({"condition": Dyn(sweeping)}),
                       "measuring": Table({"condition": Dyn(lambda: 0)})})
    measurement = Table({"condition": Dyn(lambda: 0),
                         "instrument": Table({"smua": limits(emu.smua), "smub": limits(emu.smub)})})
    return Table({"condition": Dyn(emu.status_byte), "operation": operation,
                  "measurement": measurement, "standard": standard_table(emu),
                  "reset": reset, "request_enable": Dyn(lambda: emu.sre)},
                 {"request_enable": lambda v: setattr(emu, "sre", lua_index(v, "request_enable") & 0xFF)})


__all__ = ["ASCII", "BIGENDIAN", "LITTLEENDIAN", "REAL32", "REAL64", "format_table", "localnode_table",
           "reset_format", "status_table"]
