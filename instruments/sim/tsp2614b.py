"""The simulated Keithley 2614B: TSP (Lua) over a device model, on the instrument's timeline.

Every message runs as a Lua chunk in a sandboxed interpreter (lupa; no os/io/require,
an instruction budget and a memory cap) whose globals are the instrument: ``smua``/``smub``,
``trigger.timer``, ``format``, ``errorqueue``, ``status`` (with ``status.standard``),
``localnode``, ``node[1]``, ``timer``, ``script``, ``print``, ``printbuffer``, ``delay``,
``waitcomplete``, ``reset``, the factory ``SweepVLinMeasureI`` family ... Common commands
(``*IDN?``, ``*TRG`` ...) are separate messages. A failing message prints nothing and
queues -285 (syntax, not run) or -286 (runtime), or the instrument's own code (1011
Parameter too big, 5028 ...). Like the instrument, it refuses what the firmware's Lua 5.0
lacks and lines longer than its input buffer (tsp_dialect).

What the driver sends, what the instrument answers, the simulator's timeline and which of
its conventions are unverified on hardware: docs/keithley2614b.md.
"""
from __future__ import annotations

import math
import re
import time
from collections import deque

import lupa.lua54 as lupa_lua
import numpy as np

from labqc.instruments.sim.clock import VirtualClock
from labqc.instruments.sim.device import Device
from labqc.instruments.sim.emulator import Emulator
from labqc.instruments.sim.faults import FaultPlan
from labqc.instruments.sim.tsp_dialect import DEFAULT_MAX_LINE, long_line, newer_lua
from labqc.instruments.sim.tsp_buffers import (LuaBuffer, ReadingBuffer, TSPError, as_column,
                                         format_ascii, format_binary, format_number, lua_index,
                                         lua_number, runtime, too_big, too_small)
from labqc.instruments.sim.tsp_smu import SMU, OpenCircuit
from labqc.instruments.sim.tsp_trigger import COMMAND_EVENT_ID, LuaObject, TimerTable

FIRMWARE = "3.2.2"
INSTRUCTION_BUDGET = 5_000  # x 10 000 Lua instructions per message
LUA_MEMORY = 256 * 1024 * 1024
ERROR_QUEUE_SIZE = 100
MAX_PRINTBUFFER_VALUES = 1_000_000
WALL_LIMIT = 10.0  # s of real time one message may take (a Lua loop calling the instrument)
MAX_DELAY = 1e7  # s: delay() longer than this is refused (1011)

#: format.data values (2600B reference manual, format.data: ASCII 1, SREAL/REAL32 2,
#: REAL/REAL64/DREAL 3); a script that prints format.data sees these numbers.
ASCII, REAL32, REAL64 = 1, 2, 3
BIGENDIAN, LITTLEENDIAN = 0, 1

_SANDBOX = r"""
local sethook = debug.sethook
local budget = 0
local overtime = nil
local LIMIT = "instruction limit exceeded (endless loop?)"
local function hook()
  budget = budget - 1
  if budget >= 0 and overtime() then budget = -1 end
  if budget < 0 then error(LIMIT, 0) end
end
local function arm(n, late) budget = n; overtime = late; sethook(hook, "", 10000) end
local function disarm() sethook() end
local function check() if budget < 0 then error(LIMIT, 0) end end
local rawpcall, rawxpcall, pack, unpack = pcall, xpcall, table.pack, table.unpack
pcall = function(...) local r = pack(rawpcall(...)); check(); return unpack(r, 1, r.n) end
xpcall = function(...) local r = pack(rawxpcall(...)); check(); return unpack(r, 1, r.n) end
local cocreate = coroutine.create
coroutine.create = function(f) local co = cocreate(f); sethook(co, hook, "", 10000); return co end
coroutine.wrap = function(f)
  local co = coroutine.create(f)
  return function(...)
    local r = pack(coroutine.resume(co, ...))
    if not r[1] then error(r[2], 0) end
    return unpack(r, 2, r.n)
  end
end
-- Lua patterns backtrack in C, where the hook cannot stop them: refuse the explosive ones
local rawgsub = string.gsub
local function guard(subject, pattern)
  if type(subject) == "string" and type(pattern) == "string" then
    local _, q = rawgsub(pattern, "[%*%+%-]", "")
    if q > 1 and (#subject + 1) ^ q > 1e8 then
      error("string pattern too complex for its subject", 3)
    end
  end
end
for _, name in ipairs({"find", "match", "gmatch", "gsub"}) do
  local f = string[name]
  string[name] = function(s, p, a, plain)
    if not (name == "find" and plain) then guard(s, p) end
    return f(s, p, a, plain)
  end
end
local rawload = load
load = function(chunk, name, mode, env) return rawload(chunk, name, "t", env) end
loadstring = function(s, name) return rawload(s, name, "t") end
unpack = table.unpack
table.getn = function(t) return #t end
math.mod = math.fmod
math.pow = function(a, b) return a ^ b end
string.dump = nil
os, io, package, require, dofile, loadfile, debug, python = nil, nil, nil, nil, nil, nil, nil, nil
local function makescript(name, fn)
  local s = {name = name}
  s.run = function() return fn() end
  s.source = ""
  return setmetatable(s, {__call = function(self, ...) return fn(...) end})
end
return arm, disarm, makescript
"""


# The factory KISweep functions (a blocking sweep into smuX.nvbuffer1: readings, source values
# and timestamps), written in TSP as on the instrument; ``stime`` settles each step.
_FACTORY = r"""
local function kisweep(smu, func, setup, stime, points)
  smu.source.func = func
  smu.source.delay = stime
  setup()
  smu.trigger.source.action = smu.ENABLE
  smu.trigger.measure.action = smu.ENABLE
  smu.trigger.endpulse.action = smu.SOURCE_HOLD
  smu.trigger.endsweep.action = smu.SOURCE_IDLE
  smu.trigger.arm.count = 1
  smu.trigger.count = points
  smu.trigger.arm.stimulus = 0
  smu.trigger.source.stimulus = 0
  smu.trigger.measure.stimulus = 0
  smu.trigger.endpulse.stimulus = 0
  smu.nvbuffer1.clear()
  smu.nvbuffer1.collectsourcevalues = 1
  smu.nvbuffer1.collecttimestamps = 1
  smu.source.output = smu.OUTPUT_ON
  smu.trigger.initiate()
  waitcomplete()
  smu.source.output = smu.OUTPUT_OFF
end
function SweepVLinMeasureI(smu, startv, stopv, stime, points)
  kisweep(smu, smu.OUTPUT_DCVOLTS, function()
    smu.trigger.source.linearv(startv, stopv, points) smu.trigger.measure.i(smu.nvbuffer1) end, stime, points)
end
function SweepILinMeasureV(smu, starti, stopi, stime, points)
  kisweep(smu, smu.OUTPUT_DCAMPS, function()
    smu.trigger.source.lineari(starti, stopi, points) smu.trigger.measure.v(smu.nvbuffer1) end, stime, points)
end
function SweepVListMeasureI(smu, vlist, stime, points)
  kisweep(smu, smu.OUTPUT_DCVOLTS, function()
    smu.trigger.source.listv(vlist) smu.trigger.measure.i(smu.nvbuffer1) end, stime, points)
end
function SweepIListMeasureV(smu, ilist, stime, points)
  kisweep(smu, smu.OUTPUT_DCAMPS, function()
    smu.trigger.source.listi(ilist) smu.trigger.measure.v(smu.nvbuffer1) end, stime, points)
end
"""


class _Exit(Exception):
    """``exit()``: ends the running chunk without an error."""


class NeverReady(Exception):
    """A wait for something that will never happen (a trigger model stuck on an event)."""


class Dyn:
    """A table entry computed when read."""

    def __init__(self, fn) -> None:
        self.fn = fn


class Table:
    """A plain TSP table of values, functions and computed entries; ``setters`` validate writes."""

    def __init__(self, entries: dict, setters: dict | None = None) -> None:
        self.entries = entries
        self.setters = setters or {}

    def lua_get(self, key):
        if key not in self.entries:
            raise runtime(f"attempt to index field '{key}' (a nil value)")
        v = self.entries[key]
        return v.fn() if isinstance(v, Dyn) else v

    def lua_set(self, key, value) -> None:
        if key not in self.setters:
            raise runtime(f"attribute '{key}' cannot be set")
        self.setters[key](value)


def _bind(obj, fn):
    """Accept both ``obj.f(x)`` and ``obj:f(x)`` from Lua."""
    def call(*args):
        if args and args[0] is obj:
            args = args[1:]
        return fn(*args)
    return call


class K2614BEmulator(Emulator):
    model = "2614B"
    write_termination = b"\n"
    read_termination = b"\n"

    def __init__(self, device: Device, clock: VirtualClock, faults: FaultPlan | None = None, *,
                 serial: str = "4567890", linefreq: int = 60,
                 channels_with_device: tuple[str, ...] = ("a",), max_line: int = DEFAULT_MAX_LINE,
                 lua50: bool = True, timer_list_steps_on_repeats: bool = True) -> None:
        super().__init__(device, clock, faults)
        self.max_line = int(max_line)  # longest line accepted (the input buffer); see tsp_dialect
        self.lua50 = bool(lua50)  # refuse what the instrument's Lua 5.0 lacks
        if linefreq not in (50, 60):
            raise ValueError(f"linefreq must be 50 or 60 Hz, got {linefreq!r}")
        self.serial = str(serial)
        self.linefreq = int(linefreq)
        self.errors: deque[tuple[int, str, int]] = deque()
        self.esr = 0
        self.ese = 0
        self.sre = 0
        self.prompts = 0
        self.showerrors = 0
        self.timer_zero = 0.0
        self.wall_limit = WALL_LIMIT  # real seconds one message may run
        self.timers = TimerTable(timer_list_steps_on_repeats)  # [V]: see tsp_trigger.Timer
        self._script: dict | None = None  # a loadscript being received
        self.buffers: list[ReadingBuffer] = []
        self._reset_format()
        devices = {ch: (device if ch in channels_with_device else OpenCircuit()) for ch in "ab"}
        self.smua = SMU("smua", self, devices["a"], 10)
        self.smub = SMU("smub", self, devices["b"], 20)
        self._start_lua()

    # --- the Lua environment ---------------------------------------------------------------
    def _start_lua(self) -> None:
        self.lua = lupa_lua.LuaRuntime(unpack_returned_tuples=True, register_eval=False,
                                       register_builtins=False, encoding="latin-1",
                                       attribute_handlers=(self._lua_get, self._lua_set),
                                       max_memory=LUA_MEMORY)
        self._arm, self._disarm, self._makescript = self.lua.execute(_SANDBOX)
        g = self.lua.globals()
        g.smua, g.smub = self.smua, self.smub
        g.print = self._print
        g.printbuffer = self._printbuffer
        g.printnumber = self._printnumber
        g.delay = self._delay
        g.waitcomplete = self._waitcomplete
        g.reset = self._reset
        g.opc = self._opc
        g.exit = self._exit
        g.trigger = Table({"timer": self.timers, "EVENT_ID": COMMAND_EVENT_ID,
                           "clear": lambda *_: None, "wait": lambda *_: False})
        g.format = Table(
            {"ASCII": ASCII, "SREAL": REAL32, "REAL": REAL64, "REAL32": REAL32, "REAL64": REAL64, "DREAL": REAL64,
             "NORMAL": BIGENDIAN, "BIGENDIAN": BIGENDIAN, "NETWORK": BIGENDIAN,
             "SWAPPED": LITTLEENDIAN, "LITTLEENDIAN": LITTLEENDIAN,
             "data": Dyn(lambda: self.fmt_data), "byteorder": Dyn(lambda: self.fmt_byteorder),
             "asciiprecision": Dyn(lambda: self.fmt_precision)},
            {"data": self._set_data, "byteorder": self._set_byteorder,
             "asciiprecision": self._set_precision})
        g.errorqueue = Table({"count": Dyn(lambda: len(self.errors)), "next": self._error_next,
                              "clear": self._error_clear})
        g.localnode = Table(
            {"model": self.model, "serialno": self.serial, "revision": FIRMWARE,
             "description": f"Keithley Instruments SMU {self.model} - {self.serial}",
             "linefreq": Dyn(lambda: self.linefreq), "prompts": Dyn(lambda: self.prompts),
             "showerrors": Dyn(lambda: self.showerrors), "reset": self._reset},
            {"linefreq": self._set_linefreq, "prompts": self._flag_setter("prompts"),
             "showerrors": self._flag_setter("showerrors")})
        g.timer = Table({"reset": self._timer_reset,
                         "measure": Table({"t": lambda *_: self.t - self.timer_zero})})
        g.status = self._status_table()
        # node[1] is this instrument (the vendor's 26x4B examples write node[1].smua; no TSP-Link here)
        g.node = Table({1: Table({"smua": self.smua, "smub": self.smub, "model": self.model,
                                  "linefreq": Dyn(lambda: self.linefreq)})})
        g.script = Table({"anonymous": None, "delete": self._script_delete}, {"anonymous": lambda v: None})
        self.lua.execute(_FACTORY)

    def _status_table(self) -> Table:
        def sweeping() -> int:
            return sum(bit for bit, smu in ((2, self.smua), (4, self.smub))
                       if smu.sweeping and smu.busy_until() > self.t)

        def limits(smu: SMU) -> Table:
            def cond() -> int:
                if not smu.last_compliance:
                    return 0
                return 2 if smu.source.func == 1 else 1  # bit 1 ILMT, bit 0 VLMT
            return Table({"condition": Dyn(cond)})

        operation = Table({"condition": Dyn(lambda: 8 if sweeping() else 0),
                           "sweeping": Table({"condition": Dyn(sweeping)}),
                           "measuring": Table({"condition": Dyn(lambda: 0)})})
        measurement = Table({"condition": Dyn(lambda: 0),
                             "instrument": Table({"smua": limits(self.smua), "smub": limits(self.smub)})})
        return Table({"condition": Dyn(self.status_byte), "operation": operation,
                      "measurement": measurement, "standard": self._standard_table(),
                      "reset": self._status_reset, "request_enable": Dyn(lambda: self.sre)},
                     {"request_enable": lambda v: setattr(self, "sre", lua_index(v, "request_enable") & 0xFF)})

    def _standard_table(self) -> Table:
        """``status.standard``: the standard event register (the one *ESR? reads). Reading
        ``event`` clears it, ``condition`` does not; ``enable`` is *ESE. Bit names as in
        the 2600B manual (tm-devices reads errors through ``event``)."""
        def read_event() -> int:
            value, self.esr = self.esr, 0
            return value

        bits = {"OPC": 0x01, "OPERATION_COMPLETE": 0x01, "QYE": 0x04, "QUERY_ERROR": 0x04,
                "DDE": 0x08, "DEVICE_DEPENDENT_ERROR": 0x08, "EXE": 0x10, "EXECUTION_ERROR": 0x10,
                "CME": 0x20, "COMMAND_ERROR": 0x20, "URQ": 0x40, "USER_REQUEST": 0x40,
                "PON": 0x80, "POWER_ON": 0x80}
        return Table({**bits, "event": Dyn(read_event), "condition": Dyn(lambda: self.esr),
                      "enable": Dyn(lambda: self.ese)},
                     {"enable": lambda v: setattr(self, "ese", lua_index(v, "status.standard.enable") & 0xFF)})

    def _status_reset(self, *_) -> None:
        """``status.reset()``: event registers cleared, enable registers to 0."""
        self.esr = self.ese = self.sre = 0

    def _lua_get(self, obj, key):
        getter = getattr(obj, "lua_get", None)
        if getter is None:
            raise runtime(f"attempt to index a {type(obj).__name__} value")
        value = getter(key)
        if isinstance(value, list):
            return self.lua.table_from(value)
        if callable(value) and not isinstance(value, (LuaObject, Table, LuaBuffer)) and \
                not hasattr(value, "lua_get"):
            return _bind(obj, value)
        return value

    def _lua_set(self, obj, key, value) -> None:
        setter = getattr(obj, "lua_set", None)
        if setter is None:
            raise runtime(f"attempt to set field '{key}' of a {type(obj).__name__} value")
        setter(key, value)

    def new_buffer(self, capacity: int, *, dedicated: bool) -> LuaBuffer:
        buf = ReadingBuffer(capacity, dedicated=dedicated)
        buf.waiter = self._wait_for_reading
        buf.catch_up = self._sync_all
        return LuaBuffer(buf)

    # --- messages --------------------------------------------------------------------------
    def execute(self, message: bytes) -> None:
        text = message.decode("latin-1")
        self.started_at = self.t  # outputs_on: nothing this message switches happened before
        errors_before = len(self.errors)
        self._sync_all(running_only=True)
        too_long = long_line(text, self.max_line)
        if too_long is not None:  # the input buffer overflows: nothing of it runs [V]
            self.push_error(-363, f"Input buffer overrun: line {too_long[0]} is {too_long[1]} bytes, "
                                  f"more than {self.max_line}")
        elif self._script is None and text.strip().startswith("*"):
            self._common(text.strip())
        else:
            self._lines(text)
        if self.showerrors and len(self.errors) > errors_before:
            code, msg, _ = self.errors[-1]
            self.reply(f"{code}, {msg}")
        if self.prompts:
            self.reply("TSP>")

    def _lines(self, text: str) -> None:
        """Split off loadscript ... endscript; run everything else as Lua chunks."""
        chunk: list[str] = []
        for line in re.split(r"\r\n|\r|\n", text):
            word = line.strip().split(None, 1)
            if self._script is not None:
                if line.strip() == "endscript":
                    self._end_script()
                else:
                    self._script["lines"].append(line)
                continue
            if word and word[0] in ("loadscript", "loadandrunscript"):
                self._run_chunk("\n".join(chunk))
                chunk = []
                name = word[1].strip() if len(word) > 1 else None
                if name is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                    self.push_error(-285, f"TSP Syntax error at line 1: bad script name {name!r}")
                    name = "__bad__"
                self._script = {"name": name, "run": word[0] == "loadandrunscript", "lines": []}
            else:
                chunk.append(line)
        self._run_chunk("\n".join(chunk))

    def _end_script(self) -> None:
        spec, self._script = self._script, None
        if spec["name"] == "__bad__":
            return
        source = "\n".join(spec["lines"])
        if not self._dialect_ok(source):
            return
        try:
            fn = self.lua.compile(source, name="=" + (spec["name"] or "script"), mode="t")
        except lupa_lua.LuaSyntaxError as exc:
            self.push_error(-285, _lua_message("Syntax", exc))
            return
        except lupa_lua.LuaError as exc:
            self.push_error(-286, _lua_message("Runtime", exc))
            return
        script = self._makescript(spec["name"] or "anonymous", fn)
        g = self.lua.globals()
        if spec["name"]:
            g[spec["name"]] = script
        else:
            g.script.entries["anonymous"] = script
        if spec["run"]:
            self._call(fn)

    def _dialect_ok(self, code: str) -> bool:
        """False (and -285 queued, as the instrument's parser would) when ``code`` uses
        what the instrument's Lua 5.0 lacks; see tsp_dialect."""
        found = newer_lua(code) if self.lua50 else None
        if found is None:
            return True
        line, what = found
        self.push_error(-285, f"TSP Syntax error at line {line}: {what} is not in the instrument's Lua")
        return False

    def _run_chunk(self, code: str) -> None:
        if not code.strip() or not self._dialect_ok(code):
            return
        try:
            fn = self.lua.compile(code, name="=tsp", mode="t")
        except lupa_lua.LuaSyntaxError as exc:
            self.push_error(-285, _lua_message("Syntax", exc))
            return
        except lupa_lua.LuaMemoryError:
            self.push_error(-286, "TSP Runtime error: not enough memory")
            return
        except lupa_lua.LuaError as exc:
            self.push_error(-285, _lua_message("Syntax", exc))
            return
        self._call(fn)

    def _call(self, fn) -> None:
        deadline = time.monotonic() + self.wall_limit
        self._arm(INSTRUCTION_BUDGET, lambda: time.monotonic() > deadline)
        try:
            fn()
        except _Exit:
            pass
        except NeverReady:
            self.stuck = True  # the instrument never answers; a device clear recovers
        except TSPError as exc:
            self.push_error(exc.code, exc.message)
        except lupa_lua.LuaMemoryError:
            self.push_error(-286, "TSP Runtime error: not enough memory")
        except lupa_lua.LuaError as exc:
            self.push_error(-286, _lua_message("Runtime", exc))
        except (ValueError, TypeError, OverflowError, ArithmeticError, RecursionError,
                UnicodeError, AttributeError, IndexError, KeyError, MemoryError) as exc:
            self.push_error(-286, f"TSP Runtime error: {exc}")
        finally:
            self._disarm()

    # --- common commands -------------------------------------------------------------------
    def _common(self, cmd: str) -> None:
        head, _, arg = cmd.partition(" ")
        head = head.upper()
        if head == "*IDN?":
            self.reply(f"Keithley Instruments Inc., Model {self.model}, {self.serial}, {FIRMWARE}")
        elif head == "*RST":
            self._reset()
        elif head == "*CLS":
            self.errors.clear()
            self.esr = 0
        elif head == "*OPC?":
            if self._complete():
                self.reply("1")
        elif head == "*OPC":
            if self._complete():
                self.esr |= 0x01
        elif head == "*WAI":
            self._complete()
        elif head == "*ESR?":
            self.reply(str(self.esr))
            self.esr = 0
        elif head == "*STB?":
            self.reply(str(self.status_byte()))
        elif head in ("*ESE", "*SRE"):
            try:
                value = int(float(arg)) & 0xFF
            except ValueError:
                self.push_error(-285, f"TSP Syntax error at line 1: bad parameter {arg!r} for {head}")
                return
            setattr(self, head[1:].lower(), value)
        elif head in ("*ESE?", "*SRE?"):
            self.reply(str(getattr(self, head[1:4].lower())))
        elif head == "*TST?":
            self.reply("0")
        elif head == "*TRG":
            for smu in (self.smua, self.smub):
                smu.command_trigger()
        else:
            self._run_chunk(cmd)  # not a common command: Lua reports the syntax error

    def _complete(self) -> bool:
        try:
            self._waitcomplete()
            return True
        except NeverReady:
            self.stuck = True
            return False

    # --- Lua-callable functions ------------------------------------------------------------
    def _text(self, value) -> str:
        if value is None:
            return "nil"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return format_number(value, self.fmt_precision)
        if isinstance(value, str):
            return value
        kind = lupa_lua.lua_type(value) or "userdata"
        return f"{kind}: 0x{id(value):08x}"

    def _print(self, *args) -> None:
        self.reply("\t".join(self._text(a) for a in args).encode("latin-1", "replace"))

    def _printnumber(self, *args) -> None:
        values = np.array([lua_number(a, "printnumber argument") for a in args], dtype=float)
        self.reply(self._encode(values))

    def _encode(self, values: np.ndarray) -> bytes:
        if self.fmt_data == ASCII:
            return format_ascii(values, self.fmt_precision).encode("ascii")
        return format_binary(values, self.fmt_data == REAL64, self.fmt_byteorder == LITTLEENDIAN)

    def _printbuffer(self, start=None, end=None, *bufs) -> None:
        first = lua_index(start, "printbuffer start index")
        last = lua_index(end, "printbuffer end index")
        if not bufs:
            raise runtime("bad argument #3 to 'printbuffer' (reading buffer expected)")
        cols = [as_column(b) for b in bufs]
        count = max(last - first + 1, 0)
        if count * len(cols) > MAX_PRINTBUFFER_VALUES:
            raise too_big(f"printbuffer of {count * len(cols)} values")
        if count == 0:
            self.reply(self._encode(np.zeros(0)))
            return
        data = np.stack([c.buffer.values(c.name, first, last) for c in cols], axis=1)
        self.reply(self._encode(data))

    def _delay(self, seconds=None) -> None:
        s = lua_number(seconds, "delay")
        if s < 0:
            raise too_small(f"delay({s})")
        if s > MAX_DELAY:
            raise too_big(f"delay({s})")
        self.spend(s)

    def _waitcomplete(self, *_) -> None:
        ends = [smu.busy_until() for smu in (self.smua, self.smub)]
        end = max(ends)
        if math.isinf(end) and end > 0:
            raise NeverReady()
        if end > self.t:
            self.spend(end - self.t)
        for smu in (self.smua, self.smub):
            smu.sync()

    def _reset(self, *_) -> None:
        for smu in (self.smua, self.smub):
            smu.reset()
        for timer in self.timers.timers:
            timer.reset()
        self._reset_format()

    def _script_delete(self, name=None) -> None:
        """``script.delete(name)``: forget the named script (tm-devices calls it before it
        loads a script again). A name that is no script is an error [V]."""
        if not isinstance(name, (str, bytes)):
            raise runtime("bad argument #1 to 'delete' (string expected)")
        name = name.decode("latin-1") if isinstance(name, bytes) else name
        g = self.lua.globals()
        found = g[name]
        if found is None or lupa_lua.lua_type(found) != "table" or found["run"] is None:
            raise runtime(f"script.delete: no script named {name!r}")
        g[name] = None

    def _opc(self, *_) -> None:
        self.esr |= 0x01

    def _exit(self, *_) -> None:
        raise _Exit()

    def _timer_reset(self, *_) -> None:
        self.timer_zero = self.t

    def _error_next(self, *_):
        if not self.errors:
            return 0, "Queue Is Empty", 0, 1
        code, message, severity = self.errors.popleft()
        return code, message, severity, 1

    def _error_clear(self, *_) -> None:
        self.errors.clear()

    # --- settings --------------------------------------------------------------------------
    def _reset_format(self) -> None:
        self.fmt_data = ASCII
        self.fmt_byteorder = LITTLEENDIAN
        self.fmt_precision = 6

    def _set_data(self, value) -> None:
        x = lua_number(value, "format.data")
        if x not in (ASCII, REAL32, REAL64):
            raise too_big(f"format.data = {x}") if x > REAL64 else too_small(f"format.data = {x}")
        self.fmt_data = int(x)

    def _set_byteorder(self, value) -> None:
        x = lua_number(value, "format.byteorder")
        if x not in (BIGENDIAN, LITTLEENDIAN):
            raise too_big(f"format.byteorder = {x}") if x > 1 else too_small(f"format.byteorder = {x}")
        self.fmt_byteorder = int(x)

    def _set_precision(self, value) -> None:
        x = lua_index(value, "format.asciiprecision")
        if x > 16:
            raise too_big(f"format.asciiprecision = {x} (1 to 16)")
        if x < 1:
            raise too_small(f"format.asciiprecision = {x} (1 to 16)")
        self.fmt_precision = x

    def _set_linefreq(self, value) -> None:
        x = lua_number(value, "localnode.linefreq")
        if x not in (50, 60):
            raise too_big(f"localnode.linefreq = {x} (50 or 60)") if x > 60 else \
                too_small(f"localnode.linefreq = {x} (50 or 60)")
        self.linefreq = int(x)

    def _flag_setter(self, attr: str):
        def setter(value) -> None:
            x = lua_number(value, f"localnode.{attr}")
            if x not in (0, 1):
                raise too_big(f"localnode.{attr} = {x}") if x > 1 else too_small(f"localnode.{attr} = {x}")
            setattr(self, attr, int(x))
        return setter

    # --- time --------------------------------------------------------------------------------
    def _sync_all(self, running_only: bool = False) -> None:
        """Bring both channels' devices and acquisitions up to the instrument's time.
        ``running_only``: only channels with a sweep or measurement under way (a held
        level can catch up later in one step: nothing changes meanwhile)."""
        for smu in (self.smua, self.smub):
            if smu.schedule is not None or not running_only:
                smu.sync()

    def _wait_for_reading(self, buffer: ReadingBuffer, index: int) -> None:
        """Advance the instrument's time until reading ``index`` of ``buffer`` exists."""
        for smu in (self.smua, self.smub):
            sch = smu.schedule
            if sch is None:
                continue
            for _, buf, start in sch.targets:
                if buf is buffer and start < index <= start + sch.readings:
                    due = sch.done_time(index - 1 - start)
                    if math.isinf(due):
                        raise NeverReady()
                    if due > self.t:
                        self.spend(due - self.t)
                    smu.sync()
                    return
        if index > buffer.filled:
            raise NeverReady()

    # --- the base-class interface ------------------------------------------------------------
    def outputs_on(self) -> dict[str, bool]:
        """The terminals now, on the lab's clock: a message runs at once, but a switch it
        makes later in instrument time (a program's final output off) waits for the clock."""
        now = max(self.clock.now, getattr(self, "started_at", 0.0))
        return {"smua": self.smua.output_at(now), "smub": self.smub.output_at(now)}

    def on_clear(self) -> None:
        self._script = None

    def status_byte(self) -> int:
        stb = 0
        if self.errors:
            stb |= 0x04
        if self._replies:
            stb |= 0x10
        if self.esr & self.ese:
            stb |= 0x20
        if stb & self.sre:
            stb |= 0x40
        return stb

    def push_error(self, code: int, message: str) -> None:
        if len(self.errors) >= ERROR_QUEUE_SIZE:
            self.errors[-1] = (-350, "Queue overflow", 20)
            return
        self.errors.append((int(code), str(message), 20 if code < 0 or code >= 1000 else 10))
        if code in (-285, -113):
            self.esr |= 0x20  # command error
        elif code < 0:
            self.esr |= 0x10  # execution error
        else:
            self.esr |= 0x08  # device-dependent error


def _lua_message(kind: str, exc: Exception) -> str:
    """``tsp:3: unexpected symbol near 'x'`` -> ``TSP Syntax error at line 3: unexpected ...``."""
    text = str(exc).strip()
    m = re.match(r"^(?:\[string [^\]]*\]|[A-Za-z_][A-Za-z0-9_]*):(\d+):\s*(.*)$", text, re.S)
    if m:
        return f"TSP {kind} error at line {m.group(1)}: {m.group(2)}"
    return f"TSP {kind} error: {text}"
