"""The Lua side of the simulated 2614B: the sandbox every message runs in, the factory
sweep functions, and plain TSP tables (``format``, ``errorqueue``, ``status`` ...).

The sandbox (lupa, Lua 5.4) has no os/io/require, an instruction budget checked by a hook
and a wall-clock limit per message, and refuses string patterns that would backtrack for
ever in C; ``table.getn``, ``math.mod`` and ``unpack`` stand in for the firmware's Lua 5.0
names. The factory ``SweepVLinMeasureI`` family is written in TSP as on the instrument.
"""
from __future__ import annotations

import re

from labqc.instruments.sim.tsp_buffers import runtime

SANDBOX = r"""
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
FACTORY = r"""
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


class LuaExit(Exception):
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


def bind(obj, fn):
    """Accept both ``obj.f(x)`` and ``obj:f(x)`` from Lua."""
    def call(*args):
        if args and args[0] is obj:
            args = args[1:]
        return fn(*args)
    return call


def lua_message(kind: str, exc: Exception) -> str:
    """``tsp:3: unexpected symbol near 'x'`` -> ``TSP Syntax error at line 3: unexpected ...``."""
    text = str(exc).strip()
    m = re.match(r"^(?:\[string [^\]]*\]|[A-Za-z_][A-Za-z0-9_]*):(\d+):\s*(.*)$", text, re.S)
    if m:
        return f"TSP {kind} error at line {m.group(1)}: {m.group(2)}"
    return f"TSP {kind} error: {text}"


__all__ = ["FACTORY", "SANDBOX", "Dyn", "LuaExit", "NeverReady", "Table", "bind", "lua_message"]
