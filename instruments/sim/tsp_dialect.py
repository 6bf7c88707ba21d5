"""What the 2600B's TSP accepts that the simulator's Lua 5.4 would accept anyway.

The simulated 2614B runs each message in lupa's Lua 5.4, but the instrument's firmware
Lua is older (Lua 5.0, docs/keithley2614b.md "The wire": ``table.getn``; it
lacks ``#``, ``%``, ``//``, ``goto`` and the bit operators). A driver tested only against
5.4 could send ``#t`` or ``k % 2`` and pass every test, then fail on the bench with a
syntax error. So the emulator checks each message here before Lua sees it:

- :func:`newer_lua` names the first construct Lua 5.0 does not have: the length
  operator ``#``, ``%``, ``//`` (integer division), the bit operators ``& | ~ << >>``,
  ``goto`` and ``::labels::``. Strings and comments are skipped, so ``print("100 %")``
  and ``-- see #3`` are fine.
- :func:`long_line` finds a line longer than the instrument's input buffer. Libraries
  used on hardware keep lines short (50 values per table literal); the real size is
  unknown (a selftest on the bench sends the driver's longest message), so the limit is
  a parameter of the emulator, :data:`DEFAULT_MAX_LINE` by default.
"""
from __future__ import annotations

import re

#: Longest line (bytes, terminator excluded) the simulated 2614B accepts by default.
#: The driver stays at or below instruments/tsp_format.MAX_MESSAGE_BYTES, which is smaller.
DEFAULT_MAX_LINE = 2048

# One token of interest at a time: strings and comments are consumed whole (so what is
# inside them is never flagged); everything else that matters is an operator or a name.
_TOKEN = re.compile(r"""
    (?P<comment>--(?:\[(?P<ceq>=*)\[.*?\](?P=ceq)\]|[^\n]*))
  | (?P<long>\[(?P<leq>=*)\[.*?\](?P=leq)\])
  | (?P<str>"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')
  | (?P<op>//|<<|>>|::|~=|==|<=|>=|[#%&|~])
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
""", re.S | re.X)

_WHAT = {
    "#": "the length operator '#' (use table.getn)",
    "%": "the modulo operator '%' (use math.mod)",
    "//": "integer division '//' (use math.floor(a / b))",
    "&": "the bit operator '&'",
    "|": "the bit operator '|'",
    "~": "the bit operator '~'",
    "<<": "the shift operator '<<'",
    ">>": "the shift operator '>>'",
    "::": "a goto label '::'",
    "goto": "'goto'",
}


def newer_lua(code: str) -> tuple[int, str] | None:
    """(line, what) of the first construct in ``code`` that Lua 5.0 lacks, else None."""
    for m in _TOKEN.finditer(code):
        kind = m.lastgroup
        if kind in ("comment", "long", "str", "ceq", "leq"):
            continue
        token = m.group(kind)
        if token in _WHAT:
            return code.count("\n", 0, m.start()) + 1, _WHAT[token]
    return None


def long_line(text: str, limit: int) -> tuple[int, int] | None:
    """(line number, length in bytes) of the first line of ``text`` longer than ``limit``."""
    for number, line in enumerate(re.split(r"\r\n|\r|\n", text), 1):
        size = len(line.encode("latin-1", "replace"))
        if size > limit:
            return number, size
    return None
