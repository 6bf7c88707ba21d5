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

from labqc.instruments.sim.clock import VirtualClock
from labqc.instruments.sim.device import Device
from labqc.instruments.sim.emulator import Emulator
from labqc.instruments.sim.faults import FaultPlan
from labqc.instruments.sim.tsp_dialect import DEFAULT_MAX_LINE, long_line, newer_lua
from labqc.instruments.sim.tsp_buffers import (LuaBuffer, ReadingBuffer, TSPError, lua_number, runtime, too_big,
                                               too_small)
from labqc.instruments.sim.tsp_common import run_common
from labqc.instruments.sim.tsp_output import printbuffer, printnumber, print_values
from labqc.instruments.sim.tsp_smu import SMU, OpenCircuit
from labqc.instruments.sim.tsp_system import format_table, localnode_table, reset_format, status_table
from labqc.instruments.sim.tsp_lua import FACTORY, SANDBOX, Dyn, LuaExit, NeverReady, Table, bind, lua_message
from labqc.instruments.sim.tsp_timers import TimerTable
from labqc.instruments.sim.tsp_trigger import COMMAND_EVENT_ID, LuaObject

FIRMWARE = "3.2.2"
INSTRUCTION_BUDGET = 5_000  # x 10 000 Lua instructions per message
LUA_MEMORY = 256 * 1024 * 1024
ERROR_QUEUE_SIZE = 100
WALL_LIMIT = 10.0  # s of real time one message may take (a Lua loop calling the instrument)
MAX_DELAY = 1e7  # s: delay() longer than this is refused (1011)


class K2614BEmulator(Emulator):
    model = "2614B"
    firmware = FIRMWARE
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
        self.timers = TimerTable(timer_list_steps_on_repeats)  # [V]: see tsp_timers.Timer
        self._script: dict | None = None  # a loadscript being received
        self.buffers: list[ReadingBuffer] = []
        reset_format(self)
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
        self._arm, self._disarm, self._makescript = self.lua.execute(SANDBOX)
        g = self.lua.globals()
        g.smua, g.smub = self.smua, self.smub
        g.print = lambda *args: print_values(self, *args)
        g.printbuffer = lambda *args: printbuffer(self, *args)
        g.printnumber = lambda *args: printnumber(self, *args)
        g.delay = self._delay
        g.waitcomplete = self._waitcomplete
        g.reset = self._reset
        g.opc = self._opc
        g.exit = self._exit
        g.trigger = Table({"timer": self.timers, "EVENT_ID": COMMAND_EVENT_ID,
                           "clear": lambda *_: None, "wait": lambda *_: False})
        g.format = format_table(self)
        g.errorqueue = Table({"count": Dyn(lambda: len(self.errors)), "next": self._error_next,
                              "clear": self._error_clear})
        g.localnode = localnode_table(self, FIRMWARE, self._reset)
        g.timer = Table({"reset": self._timer_reset,
                         "measure": Table({"t": lambda *_: self.t - self.timer_zero})})
        g.status = status_table(self)
        # node[1] is this instrument (no TSP-Link); tests/conformance/test_tsp_vendor_examples.py uses it
        g.node = Table({1: Table({"smua": self.smua, "smub": self.smub, "model": self.model,
                                  "linefreq": Dyn(lambda: self.linefreq)})})
        g.script = Table({"anonymous": None, "delete": self._script_delete}, {"anonymous": lambda v: None})
        self.lua.execute(FACTORY)

    def _lua_get(self, obj, key):
        getter = getattr(obj, "lua_get", None)
        if getter is None:
            raise runtime(f"attempt to index a {type(obj).__name__} value")
        value = getter(key)
        if isinstance(value, list):
            return self.lua.table_from(value)
        if callable(value) and not isinstance(value, (LuaObject, Table, LuaBuffer)) and \
                not hasattr(value, "lua_get"):
            return bind(obj, value)
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
            self.push_error(-285, lua_message("Syntax", exc))
            return
        except lupa_lua.LuaError as exc:
            self.push_error(-286, lua_message("Runtime", exc))
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
            self.push_error(-285, lua_message("Syntax", exc))
            return
        except lupa_lua.LuaMemoryError:
            self.push_error(-286, "TSP Runtime error: not enough memory")
            return
        except lupa_lua.LuaError as exc:
            self.push_error(-285, lua_message("Syntax", exc))
            return
        self._call(fn)

    def _call(self, fn) -> None:
        deadline = time.monotonic() + self.wall_limit
        self._arm(INSTRUCTION_BUDGET, lambda: time.monotonic() > deadline)
        try:
            fn()
        except LuaExit:
            pass
        except NeverReady:
            self.stuck = True  # the instrument never answers; a device clear recovers
        except TSPError as exc:
            self.push_error(exc.code, exc.message)
        except lupa_lua.LuaMemoryError:
            self.push_error(-286, "TSP Runtime error: not enough memory")
        except lupa_lua.LuaError as exc:
            self.push_error(-286, lua_message("Runtime", exc))
        except (ValueError, TypeError, OverflowError, ArithmeticError, RecursionError,
                UnicodeError, AttributeError, IndexError, KeyError, MemoryError) as exc:
            self.push_error(-286, f"TSP Runtime error: {exc}")
        finally:
            self._disarm()

    # --- common commands -------------------------------------------------------------------
    def _common(self, cmd: str) -> None:
        if not run_common(self, cmd):
            self._run_chunk(cmd)  # not a common command: Lua reports the syntax error

    def reset_instrument(self) -> None:
        """``*RST`` and ``reset()``."""
        self._reset()

    def complete(self) -> bool:
        """Wait for every channel's run to end; False when one never will."""
        try:
            self._waitcomplete()
            return True
        except NeverReady:
            self.stuck = True
            return False

    # --- Lua-callable functions ------------------------------------------------------------
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
        reset_format(self)

    def _script_delete(self, name=None) -> None:
        """``script.delete(name)``: forget the named script (deleted before it is loaded again in
        tests/conformance/test_tm_devices_2614b.py). A name that is no script is an error [V]."""
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
        raise LuaExit()

    def _timer_reset(self, *_) -> None:
        self.timer_zero = self.t

    def _error_next(self, *_):
        if not self.errors:
            return 0, "Queue Is Empty", 0, 1
        code, message, severity = self.errors.popleft()
        return code, message, severity, 1

    def _error_clear(self, *_) -> None:
        self.errors.clear()

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
