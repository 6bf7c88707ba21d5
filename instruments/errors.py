"""Typed errors of the instrument layer. Each message is one sentence a physicist can act on."""
from __future__ import annotations


class InstrumentError(Exception):
    """Anything that went wrong talking to, or on, an instrument."""


class CapabilityError(InstrumentError, ValueError):
    """A request beyond what the instrument can do, refused before anything is sent."""


class InstrumentTimeout(InstrumentError):
    """The instrument did not answer in time."""


class ConnectionLost(InstrumentError):
    """The connection to the instrument dropped."""


class ProtocolError(InstrumentError):
    """A reply that cannot be parsed (garbled, truncated, out of step)."""


class InstrumentReportedError(InstrumentError):
    """An error the instrument itself reported (TSP error queue, KXCI :ERROR:LAST:GET)."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"instrument error {code}: {message}")
