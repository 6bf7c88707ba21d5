"""Faults a simulated instrument can be told to commit, for reliability tests.

A fault fires at the Nth message written to one emulator (1-based, counted over the
emulator's life until :meth:`FaultPlan.reset`). The emulator base class applies them:

- ``delay``: the replies to that message come ``seconds`` late (past a VISA timeout);
- ``drop``: the connection drops after that message (transports close their sessions);
- ``garble``: the reply arrives with its middle replaced by junk (terminator kept);
- ``truncate``: only the first half of the reply arrives, with no terminator;
- ``error``: an error (``code``, ``message``) is pushed into the instrument's error queue;
- ``busy``: the instrument stops answering until a device clear.

A message that prints several replies (a program streaming its chunks) can be hit at its
k-th reply (``reply=k``, 1-based): ``delay`` holds back that reply and the later ones,
``garble``/``truncate`` damage that one, ``drop`` closes the connection right after it is
sent (over the socket server). ``reply=0`` (the default) means every reply of the message.

On the command line a plan is written ``kind@N[.k][:value]`` separated by commas, e.g.
``delay@5:10,drop@12.3,error@3:-286`` (value: seconds for delay, code for error; ``.k``
the reply).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

KINDS = ("delay", "drop", "garble", "truncate", "error", "busy")


@dataclass(frozen=True)
class Fault:
    kind: str
    at: int
    seconds: float = 0.0
    code: int = -286
    message: str = "TSP Runtime error: injected fault"
    reply: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault {self.kind!r}; choose one of {', '.join(KINDS)}")
        if self.at < 1:
            raise ValueError(f"a fault fires at message 1 or later, got at={self.at}")
        if self.reply < 0:
            raise ValueError(f"a fault's reply number is 1 or more (0: every reply), got {self.reply}")
        if self.seconds < 0:
            raise ValueError(f"a fault's delay must be >= 0 s, got {self.seconds}")


class FaultPlan:
    """The faults pending for one emulator."""

    def __init__(self, faults: Iterable[Fault] = ()) -> None:
        self._pending: list[Fault] = list(faults)

    def add(self, kind: str, at: int, **kw) -> "FaultPlan":
        self._pending.append(Fault(kind, at, **kw))
        return self

    def take(self, n: int) -> list[Fault]:
        """The faults that fire at message ``n``; they fire once."""
        hit = [f for f in self._pending if f.at == n]
        if hit:
            self._pending = [f for f in self._pending if f.at != n]
        return hit

    def reset(self) -> None:
        self._pending.clear()

    @property
    def pending(self) -> list[Fault]:
        return list(self._pending)

    @classmethod
    def parse(cls, text: str) -> "FaultPlan":
        """Read ``kind@N[:value],...`` (see the module docstring)."""
        plan = cls()
        for item in filter(None, (s.strip() for s in text.split(","))):
            try:
                kind, rest = item.split("@", 1)
                at_text, _, value = rest.partition(":")
                kw = {}
                at_text, _, reply_text = at_text.partition(".")
                if reply_text:
                    kw["reply"] = int(reply_text)
                if value and kind == "delay":
                    kw["seconds"] = float(value)
                elif value and kind == "error":
                    kw["code"] = int(value)
                plan.add(kind.strip(), int(at_text), **kw)
            except ValueError as exc:
                raise ValueError(f"cannot read fault {item!r}: {exc}") from None
        return plan
