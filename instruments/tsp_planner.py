"""Planning for the 2614B: a request and the channel's capabilities in, TSP programs out.

Pure functions (nothing is sent, no instrument is needed): :func:`plan` turns a
:class:`~labqc.instruments.smu.Sweep`, :class:`~labqc.instruments.smu.PulseTrain` or
:class:`~labqc.instruments.smu.Sampling` into :class:`Block` s, one trigger-model run each,
and :func:`program` turns one block into the messages that run it as one program on the
instrument and the replies that program prints. The trigger models (docs/keithley2614b.md,
"What labqc sends"):

- Sweep: ``listv``/``listi`` (``linearv``/``lineari`` for an even ramp); timer 1 starts each
  step, each point is measured at the end of its step (``measure.delay``).
- PulseTrain: a timer-driven pulsed sweep: timer 1 starts each step, timer 2 places
  the measurement at the end of the pulse, timer 3 ends it (``SOURCE_IDLE``: back to the
  base). With reads, pulse and read alternate as list steps and the timers run delay lists.
- Sampling: bias held; timer 1 triggers each measurement at the requested instants, in
  programs of at most PROGRAM_SECONDS (and one buffer); a longer gap is held by programs
  without readings.

Every program turns the output on only with an empty error queue and ends with it off on
the instrument whatever happened (``pcall``), so a host that dies leaves the device biased
at most until the running program's planned end.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labqc.instruments.errors import CapabilityError
from labqc.instruments.smu import KIND_POINT, KIND_PULSE, KIND_READ, PulseTrain, Request, Sampling, Sweep
from labqc.instruments.tsp_capabilities import PULSE_MARGIN, TimedCapabilities
from labqc.instruments.tsp_format import is_linear, lua_table, num
from labqc.instruments.tsp_messages import (
    buffer_setup, lua_function, measure_setup, pack, printbuffer, source_setup, timer_setup, trigger_setup,
)
from labqc.instruments.tsp_programs import PROGRAM_LIMIT, part, sweep_spans, tail_seconds, train_spans

#: Each streamed chunk covers at most this much instrument time, so live plots update.
CHUNK_SECONDS = 0.5
#: ... and at most this many readings (5 REAL64 values each: 200 kB).
MAX_CHUNK_POINTS = 5000
#: Longest the host waits on one reply between readings: across a longer gap (slow
#: retention sampling) the running program prints a line after each instrument-timed
#: ``delay()`` of this length, so a stop request (the dashboard's Abort) is seen within
#: about a second (and honoured at once where a device clear can cut the program short).
PATIENCE = 1.0
#: Longest program (instrument seconds) a Sampling request is cut into. Every program ends
#: on the instrument with the output off, so a host that dies leaves the device biased for
#: at most one program (README, "Faults"); a stop waits at most this long for it to end.
PROGRAM_SECONDS = 5.0
#: Readings per Sampling program at most (one nvbuffer's worth).
SAMPLE_BLOCK = 50_000


@dataclass
class Block:
    """One trigger-model run: messages that configure it, and what it will store."""

    setup: list[str]  # sent in order, output still off; then the program turns on and initiates
    instants: np.ndarray  # expected s from the start of the run to each reading
    kinds: np.ndarray  # KIND_* per reading
    indices: np.ndarray  # step/pulse/sample number per reading
    t_first: float  # request time of the first reading (chained blocks)
    hold: float = 0.0  # > 0: no trigger model, the output held on this long (a long Sampling gap)
    tail: float = 0.0  # the base held this long after the last reading (a pulse period cut)
    #: Send this program's set-up and helpers in as few messages as they fit in (every
    #: message costs a round of the instrument's parser: a retention sends one program per
    #: 5 s, for hours); sweeps and pulse trains keep one message per part.
    packed: bool = False
    #: Define the chunk printer _P and the waiter _W (False: an earlier program of the same
    #: request left them on the instrument).
    helpers: bool = True


def chunk_bounds(instants: np.ndarray, seconds: float = CHUNK_SECONDS,
                 max_points: int = MAX_CHUNK_POINTS) -> list[tuple[int, int]]:
    """Split readings into [a, b) chunks covering <= ``seconds`` of instrument time each
    (at least one reading, at most ``max_points``)."""
    bounds, a, n = [], 0, len(instants)
    while a < n:
        since = instants[a - 1] if a else 0.0  # the previous chunk ended here
        b = int(np.searchsorted(instants, since + seconds + 1e-9, side="right"))
        b = min(max(b, a + 1), a + max_points, n)
        bounds.append((a, b))
        a = b
    return bounds


def range_for(value: float, ranges: tuple[float, ...]) -> float:
    """The smallest range that holds ``value`` (the largest if none does)."""
    for r in ranges:
        if abs(value) <= r * (1 + 1e-9):
            return r
    return ranges[-1]


def plan(request: Request, caps: TimedCapabilities, *, smu: str = "smua", program_limit: float = PROGRAM_LIMIT,
         sample_block: int = SAMPLE_BLOCK) -> list[Block]:
    """The blocks that run ``request`` on channel ``smu``; CapabilityError for a request
    this planner has no trigger model for. ``caps`` must be checked against first."""
    if isinstance(request, (Sweep, PulseTrain)):
        return plan_programs(request, caps, smu=smu, program_limit=program_limit)
    if isinstance(request, Sampling):
        return plan_sampling(request, caps, smu=smu, sample_block=sample_block)
    raise CapabilityError(f"the {caps.model} cannot run a {type(request).__name__}")


def plan_programs(r: Sweep | PulseTrain, caps: TimedCapabilities, *, smu: str = "smua",
                  program_limit: float = PROGRAM_LIMIT) -> list[Block]:
    """One block per span of at most ``program_limit`` s (instruments/tsp_programs.py),
    each with the ranges of the whole request, its readings' indices and planned request
    times, and (all but the last) the rest of its last pulse period held at the base."""
    sweep = isinstance(r, Sweep)
    spans = sweep_spans(r, program_limit) if sweep else train_spans(r, program_limit)
    step = r.step_time if sweep else r.period
    blocks = []
    for a, b in spans:
        sub = part(r, a, b)
        block = plan_sweep(sub, caps, smu=smu, whole=r) if sweep else plan_pulses(sub, caps, smu=smu, whole=r)
        block.indices = block.indices + a
        block.t_first = a * step + float(block.instants[0])
        block.tail = tail_seconds(r) if b < (r.points if sweep else r.count) else 0.0
        blocks.append(block)
    return blocks


def plan_sweep(r: Sweep, caps: TimedCapabilities, *, smu: str = "smua", tag: str = "",
               whole: Sweep | None = None) -> Block:
    """A list (or linear) sweep paced by timer 1, each point measured at the end of its
    step. ``tag`` suffixes the Lua tables' names so that several plans can live on the
    instrument at once (the steps of a Repeat); ``whole``: the request ``r`` is a program
    of (its ranges are the whole request's)."""
    s, n = smu, r.points
    need = caps.reading_time(r.nplc)
    ranges = caps.voltage_ranges if r.source == "V" else caps.current_ranges
    rng = range_for(float(np.max(np.abs((whole or r).levels))), ranges)
    fn = "v" if r.source == "V" else "i"
    if is_linear(r.levels):
        levels_setup, sweep = [], f"{s}.trigger.source.linear{fn}({num(r.levels[0])}, {num(r.levels[-1])}, {n})"
    else:
        levels_setup, sweep = lua_table(f"_L{tag}", r.levels), f"{s}.trigger.source.list{fn}(_L{tag})"
    setup = [
        source_setup(s, r.source, 0.0, r.compliance, rng),
        measure_setup(s, r.source, r.nplc, r.measure_range, delay=r.step_time - need),
        buffer_setup(s),
        *levels_setup,
        trigger_setup(s, sweep, r.source, r.compliance, n, endpulse="SOURCE_HOLD"),
        *timer_setup(1, r.step_time, count=max(n - 1, 1), passthrough=True,
                     stimulus=f"{s}.trigger.ARMED_EVENT_ID", tag=tag),
        f"{s}.trigger.source.stimulus = trigger.timer[1].EVENT_ID"
        f" {s}.trigger.measure.stimulus = 0 {s}.trigger.endpulse.stimulus = 0",
    ]
    instants = r.step_time * np.arange(1, n + 1)
    return Block(setup, instants, np.full(n, KIND_POINT, "i1"), np.arange(n), instants[0])


def _pulse_timers(r: PulseTrain, s: str, tm: float, tag: str) -> tuple[np.ndarray, list[list[str]]]:
    """List steps and timers of a pulse train; ``tm``: aperture + margin of a reading."""
    armed = f"{s}.trigger.ARMED_EVENT_ID"
    n = r.count
    if r.read_levels is None:
        return r.amplitudes, [
            timer_setup(1, r.period, count=max(n - 1, 1), passthrough=True, stimulus=armed, tag=tag),
            timer_setup(2, r.width - tm, count=1, passthrough=False, stimulus="trigger.timer[1].EVENT_ID", tag=tag),
            timer_setup(3, r.width, count=1, passthrough=False, stimulus="trigger.timer[1].EVENT_ID", tag=tag)]
    steps = np.empty(2 * n)
    steps[0::2], steps[1::2] = r.amplitudes, r.read_levels
    # Every timer with a delay list is started once, at ARMED, and runs through the whole
    # train (so it does not matter whether a list restarts when a timer is re-triggered);
    # timers 4 and 5 offset the measure and end-of-step series.
    gaps = [r.read_width, r.period - r.read_width]
    return steps, [
        timer_setup(1, [r.width, r.period - r.width], count=2 * n - 1, passthrough=True, stimulus=armed, tag=tag),
        timer_setup(4, r.width - tm, count=1, passthrough=False, stimulus=armed, tag=tag),
        timer_setup(2, gaps, count=2 * n - 1, passthrough=True, stimulus="trigger.timer[4].EVENT_ID", tag=tag),
        timer_setup(5, r.width, count=1, passthrough=False, stimulus=armed, tag=tag),
        timer_setup(3, gaps, count=2 * n - 1, passthrough=True, stimulus="trigger.timer[5].EVENT_ID", tag=tag)]


def plan_pulses(r: PulseTrain, caps: TimedCapabilities, *, smu: str = "smua", tag: str = "",
                whole: PulseTrain | None = None) -> Block:
    """A pulsed list sweep (with reads: pulse and read alternate as list steps); fixed
    source and measure ranges (source autorange refuses a pulsed sweep: error 5028).
    ``tag`` and ``whole`` as for :func:`plan_sweep`."""
    s, n = smu, r.count
    reads = r.read_levels is not None
    tm = caps.aperture(r.nplc) + PULSE_MARGIN  # the measurement ends PULSE_MARGIN before the pulse
    w = whole or r
    levels = np.append(w.amplitudes, w.base) if not reads else np.concatenate([w.amplitudes, w.read_levels, [w.base]])
    rng = range_for(float(np.max(np.abs(levels))), caps.voltage_ranges)
    mrange = r.measure_range or range_for(r.compliance, caps.current_ranges)
    steps, timers = _pulse_timers(r, s, tm, tag)
    if reads:
        instants = np.empty(2 * n)
        starts = r.period * np.arange(n)
        instants[0::2], instants[1::2] = starts + r.width, starts + r.width + r.read_width
        kinds = np.tile(np.array([KIND_PULSE, KIND_READ], "i1"), n)
        indices = np.repeat(np.arange(n), 2)
    else:
        instants = r.period * np.arange(n) + r.width
        kinds = np.full(n, KIND_PULSE, "i1")
        indices = np.arange(n)
    setup = [
        source_setup(s, "V", r.base, r.compliance, rng),
        measure_setup(s, "V", r.nplc, mrange, delay=0.0),
        buffer_setup(s),
        *lua_table(f"_L{tag}", steps),
        trigger_setup(s, f"{s}.trigger.source.listv(_L{tag})", "V", r.compliance, len(steps), endpulse="SOURCE_IDLE"),
        *[m for t in timers for m in t],
        f"{s}.trigger.source.stimulus = trigger.timer[1].EVENT_ID"
        f" {s}.trigger.measure.stimulus = trigger.timer[2].EVENT_ID"
        f" {s}.trigger.endpulse.stimulus = trigger.timer[3].EVENT_ID",
    ]
    return Block(setup, instants, kinds, indices, instants[0])


def plan_sampling(r: Sampling, caps: TimedCapabilities, *, smu: str = "smua",
                  sample_block: int = SAMPLE_BLOCK) -> list[Block]:
    """Programs of at most PROGRAM_SECONDS and ``sample_block`` readings each: a
    trigger-model run whose timer 1 fires at each instant, counted from the program's start;
    a gap longer than a program is held by programs without readings (``hold``). The bias is
    on in every program and off only between two of them (a message's turnaround); source
    and measure are set up once, before the first program."""
    s = smu
    rng = range_for(r.level, caps.voltage_ranges if r.source == "V" else caps.current_ranges)
    config = [source_setup(s, r.source, r.level, r.compliance, rng),
              measure_setup(s, r.source, r.nplc, r.measure_range, delay=0.0)]
    # The bias is held throughout a program: no source action.
    stimuli = (f"{s}.trigger.source.stimulus = 0 {s}.trigger.measure.stimulus = trigger.timer[1].EVENT_ID "
               f"{s}.trigger.endpulse.stimulus = 0")
    blocks: list[Block] = []
    start, a = 0.0, 0  # request time at which the next program starts; next reading
    while a < r.points:
        while r.times[a] - start > PROGRAM_SECONDS:
            blocks.append(Block([], np.zeros(0), np.zeros(0, "i1"), np.zeros(0, int), start, hold=PROGRAM_SECONDS))
            start += PROGRAM_SECONDS
        b = int(np.searchsorted(r.times, start + PROGRAM_SECONDS, side="right"))
        b = min(max(b, a + 1), a + sample_block, r.points)
        times = r.times[a:b]
        n = b - a
        trigger = (f"{s}.trigger.source.action = {s}.DISABLE {s}.trigger.measure.iv({s}.nvbuffer1, {s}.nvbuffer2) "
                   f"{s}.trigger.measure.action = {s}.ENABLE {s}.trigger.endpulse.action = {s}.SOURCE_HOLD "
                   f"{s}.trigger.endsweep.action = {s}.SOURCE_HOLD {s}.trigger.arm.count = 1 {s}.trigger.count = {n}")
        timer = timer_setup(1, np.diff(times, prepend=start), count=n, passthrough=False,
                            stimulus=f"{s}.trigger.ARMED_EVENT_ID")
        blocks.append(Block([buffer_setup(s), trigger, *timer, stimuli], times - start, np.full(n, KIND_POINT, "i1"),
                            np.arange(a, b), float(times[0])))
        start, a = float(times[-1]), b
    blocks[0].setup[:0] = config
    for k, block in enumerate(blocks):
        block.packed, block.helpers = True, k == 0
    return blocks


def program(block: Block, *, smu: str = "smua") -> tuple[list[str], list[tuple]]:
    """The messages that run ``block`` as one program on the instrument, and the replies it
    prints in order: ("wait", s) a line after s of instrument time, ("chunk", a, b, s)
    readings a..b-1 (0-based) after s. The last message turns the output on only with an
    empty error queue, prints the error count, runs the trigger model (``_G``) and prints
    each chunk as its readings exist (printbuffer waits for them; a line every PATIENCE s
    across a long gap, so the caller may stop there), and ends with the output off whatever
    happened (pcall), with no host needed."""
    s = smu
    items: list[tuple] = []
    hold = block.hold
    while hold > 1.5 * PATIENCE:
        items.append(("wait", PATIENCE))
        hold -= PATIENCE
    if hold > 0:
        items.append(("wait", hold))
    for a, b in chunk_bounds(block.instants):
        wait = block.instants[b - 1] - (block.instants[a - 1] if a else 0.0)
        while wait > 1.5 * PATIENCE:
            items.append(("wait", PATIENCE))
            wait -= PATIENCE
        items.append(("chunk", a, b, wait))
    calls = [f"_W({num(it[1])})" if it[0] == "wait" else f"_P({it[1] + 1}, {it[2]})" for it in items]
    helpers = ([f"function _P(a, b) {printbuffer(s, 'a', 'b')} end",
                "function _W(d) delay(d) print(errorqueue.count) end"] if block.helpers else [])
    helpers += lua_function("_G", calls)
    go = f"{s}.source.output = {s}.OUTPUT_ON" + ("" if block.hold else f" {s}.trigger.initiate()")
    tail = f"delay({num(block.tail)}) " if block.tail > 0 else ""  # the base, to the period's end
    run = (f"if errorqueue.count == 0 then {go} end print(errorqueue.count) "
           f"if errorqueue.count == 0 then if not pcall(_G) then {s}.abort() end end "
           f"waitcomplete() {tail}{s}.source.output = {s}.OUTPUT_OFF")
    before = [*block.setup, *helpers]
    return [*(pack(before) if block.packed else before), run], items


__all__ = ["Block", "CHUNK_SECONDS", "MAX_CHUNK_POINTS", "PATIENCE", "PROGRAM_SECONDS", "SAMPLE_BLOCK",
           "chunk_bounds", "plan", "plan_programs", "plan_pulses", "plan_sampling", "plan_sweep", "program",
           "range_for"]
