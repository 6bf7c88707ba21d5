"""Planning a :class:`~labqc.instruments.smu.Repeat` (an endurance batch) as a Lua loop on the 2614B.

Pure functions, nothing is sent. Each step's trigger-model set-up (the same messages
:mod:`labqc.instruments.tsp_planner` plans for it alone) becomes a Lua function; the loop
``_R(n, fresh)`` runs n repetitions, turning the output on only with an empty error queue
and off after every step, and appends every reading to the buffers. The host then needs one
round trip per chunk of repetitions (about CHUNK_SECONDS of instrument time).
Lua 5.0 (the instrument's): no ``#``, no ``%``, no goto.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labqc.instruments.smu import PulseTrain, Repeat, Sweep
from labqc.instruments.tsp_capabilities import TimedCapabilities
from labqc.instruments.tsp_messages import buffer_setup, lua_function
from labqc.instruments.tsp_planner import CHUNK_SECONDS, MAX_CHUNK_POINTS, plan_pulses, plan_sweep


@dataclass
class Loop:
    """A Repeat as a Lua loop on the instrument: set-up messages that leave one function per
    step and the loop ``_R(n, fresh)`` on the instrument (nothing is sourced while they are
    sent), and what one repetition stores."""

    setup: list[str]
    instants: np.ndarray  # planned s from the start of a repetition to each of its readings
    kinds: np.ndarray  # KIND_* per reading of one repetition
    indices: np.ndarray  # each reading's index within its step
    period: float  # planned instrument s per repetition

    @property
    def per_repeat(self) -> int:
        return len(self.instants)


def loops_natively(r: Repeat) -> bool:
    """True when ``r`` runs as one Lua loop: every step a Sweep or PulseTrain, and one
    repetition's readings fit one streamed chunk (and so the buffer)."""
    return all(isinstance(step, (Sweep, PulseTrain)) for step in r.steps) and 0 < r.per_repeat <= MAX_CHUNK_POINTS


def plan_repeat(r: Repeat, caps: TimedCapabilities, *, smu: str = "smua") -> Loop:
    """Each step becomes a Lua function ``_S<j>`` holding its whole trigger-model set-up
    (source function, range, limits, measure, list, timers), its tables named apart
    (``_L_<j>``, ``_D<k>_<j>``) and without the buffer clear. ``_H(f)`` runs one step: f(),
    then, only if the error queue is still empty, output on, initiate, waitcomplete, output
    off; so each step's limits are set before its output turns on, and the output is off
    between steps as between separate requests. ``_R(n, fresh)`` runs n repetitions
    (emptying the buffers first when ``fresh`` is 1)."""
    s = smu
    data: list[str] = [buffer_setup(s, append=True)]
    functions: list[str] = []
    instants, kinds, indices, offset = [], [], [], 0.0
    for j, step in enumerate(r.steps, 1):
        tag = f"_{j}"
        block = (plan_sweep(step, caps, smu=s, tag=tag) if isinstance(step, Sweep)
                 else plan_pulses(step, caps, smu=s, tag=tag))
        tables = [m for m in block.setup if m.startswith(("_L", "_D", "_C ="))]  # table builders
        body = [m for m in block.setup if m not in tables and m != buffer_setup(s)]
        data += tables
        functions += lua_function(f"_S{j}", body)
        instants.append(offset + block.instants)
        kinds.append(block.kinds)
        indices.append(block.indices)
        offset += float(step.duration)
    steps = " and ".join(f"_H(_S{j})" for j in range(1, len(r.steps) + 1))
    functions += [
        f"function _H(f) f() if errorqueue.count > 0 then return false end "
        f"{s}.source.output = {s}.OUTPUT_ON {s}.trigger.initiate() waitcomplete() "
        f"{s}.source.output = {s}.OUTPUT_OFF return true end",
        f"function _R(n, fresh) if fresh == 1 then {s}.nvbuffer1.clear() {s}.nvbuffer2.clear() end "
        f"for k = 1, n do if not ({steps}) then return end end end",
    ]
    return Loop(data + functions, np.concatenate(instants), np.concatenate(kinds), np.concatenate(indices), offset)


def repeat_chunks(r: Repeat, loop: Loop, buffer_points: int = 50_000) -> list[tuple[int, int, bool]]:
    """(first repetition, repetitions, fresh buffer) per chunk: about CHUNK_SECONDS of
    instrument time and at most MAX_CHUNK_POINTS readings each; the buffers (of
    ``buffer_points`` readings) are emptied before they would overflow (a new buffer batch
    starts with ``fresh``)."""
    per = loop.per_repeat
    batch = max(buffer_points // per, 1)  # repetitions per buffer fill
    step = max(min(int(CHUNK_SECONDS / max(loop.period, 1e-9)), MAX_CHUNK_POINTS // per), 1)
    chunks = []
    for b0 in range(0, r.count, batch):
        b1 = min(b0 + batch, r.count)
        for a in range(b0, b1, step):
            chunks.append((a, min(a + step, b1) - a, a == b0))
    return chunks


__all__ = ["Loop", "loops_natively", "plan_repeat", "repeat_chunks"]
