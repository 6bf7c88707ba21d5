"""KXCI grammar for the simulated 4200A: split a message into commands, read fields.

A KXCI message holds one or more commands separated by ``;`` or white space
(``US;DV1,0,0.1,1e-3``, ``IT1 BC DR1``, ``SM DM2 LI 'I1','V1'``). Two-letter mnemonics
are upper case and carry their arguments glued on (``DV1,0,1.5,1E-3``) or after a space
(``EM 1,0``, ``DO 'I1'``); ``:PMU:...``, ``:ERROR:...`` and ``*IDN?`` style commands take
their arguments after a space. A token that cannot start a command continues the
arguments of the one before it.

Errors are raised as :class:`KxciError` with their KXCI code; the emulator turns them
into the instrument's error reporting.
"""
from __future__ import annotations

import math
import re

import numpy as np

#: The KXCI error numbers the emulator uses (docs/keithley4200a.md), with the text :ERROR:LAST:GET prints.
MESSAGES = {
    -992: "KXCI command error.",
    -993: "Invalid argument.",
    -989: "Command not valid on this page.",
    -975: "Command not valid in user mode.",
    -974: "Command not valid in system mode.",
    -980: "Command not valid during test execution.",
    -979: "SMU not present.",
    -966: "Execution aborted.",
    -969: "Invalid PMU argument.",
    -967: "Invalid pulse parameter configuration.",
    -963: "Maximum samples per channel exceeded.",
    -956: "Segment start voltage does not equal previous segment stop voltage.",
}


class KxciError(Exception):
    """A command the instrument refuses: ``code`` is the KXCI error number."""

    def __init__(self, code: int, detail: str = "") -> None:
        self.code = code
        self.detail = detail
        base = MESSAGES.get(code, "KXCI error.")
        self.text = f"{base} {detail}".strip() if detail else base
        super().__init__(f"{self.text} ({code})")


_ARG_START = set("0123456789+-.,'\"")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[Ee][+-]?\d{1,2})?\Z")
MAX_FIELD = 12  # characters in one numeric field


def _split_outside_quotes(text: str, seps: str) -> list[str]:
    parts, cur, quote = [], [], None
    for ch in text:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
            cur.append(ch)
        elif ch in seps:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def _starts_command(token: str, mnemonics: frozenset[str]) -> bool:
    if token[0] in ":*":
        return True
    return len(token) >= 2 and token[:2] in mnemonics and (len(token) == 2 or token[2] in _ARG_START)


def split_message(text: str, mnemonics: frozenset[str]) -> list[tuple[str, str]]:
    """``[(head, args), ...]``: ``head`` is the mnemonic (``DV``, ``:PMU:INIT``), ``args``
    the argument text after it (``1,0,0.1,1e-3``). ``mnemonics``: the two-letter words
    that start a command (the command table's, kxci_commands.MNEMONICS)."""
    commands: list[list[str]] = []
    for part in _split_outside_quotes(text, ";"):
        first = True  # a ';' always ends the arguments of the command before it
        for token in _split_outside_quotes(part, " \t\r\n"):
            if not token:
                continue
            # After a trailing comma the token is the next argument ("MP 1, VS1").
            continued = not first and commands[-1][1].endswith(",")
            if first or (_starts_command(token, mnemonics) and not continued):
                if token[0] in ":*" or not _starts_command(token, mnemonics):
                    commands.append([token, ""])  # unknown heads are refused later
                else:
                    commands.append([token[:2], token[2:]])
            else:
                args = commands[-1][1]
                glue = "" if (not args or args.endswith(",") or token.startswith(",")) else ","
                commands[-1][1] = args + glue + token
            first = False
    return [(h, a) for h, a in commands]


def fields(args: str) -> list[str]:
    """The comma-separated fields of an argument text ('' gives no fields)."""
    if not args.strip():
        return []
    return [f.strip() for f in _split_outside_quotes(args, ",")]


def number(field: str, what: str = "value") -> float:
    """A KXCI numeric field: fixed or exponent form, at most 12 characters, exponent at
    most 2 digits."""
    f = field.strip()
    if len(f) > MAX_FIELD:
        raise KxciError(-993, f"{what} {f!r} is longer than {MAX_FIELD} characters.")
    if not _NUMBER.match(f):
        raise KxciError(-993, f"{what} {f!r} is not a number.")
    x = float(f)
    if not math.isfinite(x):
        raise KxciError(-993, f"{what} {f!r} is not finite.")
    return x


def number_in(field: str, lo: float, hi: float, what: str = "value", code: int = -993) -> float:
    x = number(field, what)
    if not (lo <= x <= hi):
        raise KxciError(code, f"{what} {x:g} is outside {lo:g} to {hi:g}.")
    return x


def integer(field: str, lo: int, hi: int, what: str = "value", code: int = -993) -> int:
    x = number(field, what)
    if x != int(x):
        raise KxciError(code, f"{what} {field!r} is not a whole number.")
    if not (lo <= x <= hi):
        raise KxciError(code, f"{what} {int(x)} is outside {lo} to {hi}.")
    return int(x)


def name(field: str) -> str:
    """A quoted name such as ``'I1'`` (single or double quotes)."""
    f = field.strip()
    if len(f) >= 3 and f[0] == f[-1] and f[0] in "'\"":
        return f[1:-1]
    raise KxciError(-993, f"expected a quoted name such as 'I1', got {f!r}.")


def linear_levels(start: float, stop: float, step: float, limit: int, code: int = -993,
                  too_many: int = -993, what: str = "step", counted: str = "points") -> np.ndarray:
    """``start, start + step, ...`` up to ``stop`` (a zero step: ``start`` alone, which must
    equal ``stop``), at most ``limit`` levels; ``code``/``too_many``: the errors otherwise,
    ``what`` and ``counted`` name the step and the levels in them."""
    if step == 0:
        if start != stop:
            raise KxciError(code, f"a zero {what} needs start = stop.")
        return np.array([start])
    span = (stop - start) / step
    if span < -1e-9:
        raise KxciError(code, f"the {what} points away from the stop value.")
    n = int(math.floor(span + 1e-9)) + 1
    if n > limit:
        raise KxciError(too_many, f"{n} {counted} exceed the maximum of {limit}.")
    return start + step * np.arange(n)


def fmt(value: float, digits: int = 7) -> str:
    """A reading as KXCI prints it: sign, ``digits`` significant digits, 2-digit exponent
    (``+1.234567E-03``)."""
    return f"{value:+.{digits - 1}E}"
