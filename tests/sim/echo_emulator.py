"""A tiny instrument for transport tests: a failure here points at the backend or the
server, not at an emulator's command language."""
from __future__ import annotations

from labqc.instruments.sim.emulator import Emulator


class EchoEmulator(Emulator):
    """``*IDN?``; ``print(x)`` replies x; ``wait(s)`` spends s seconds; ``bin(n)`` replies
    ``#0`` and bytes 0..n-1 (0x0A among them); anything else is silent."""

    model = "echo"

    def execute(self, message: bytes) -> None:
        text = message.decode("ascii", "replace")
        if text == "*IDN?":
            self.reply("LABQC,ECHO,0,1")
        elif text.startswith("print(") and text.endswith(")"):
            self.reply(text[6:-1])
        elif text.startswith("wait(") and text.endswith(")"):
            self.spend(float(text[5:-1]))
        elif text.startswith("bin(") and text.endswith(")"):
            self.reply(b"#0" + bytes(i % 256 for i in range(int(text[4:-1]))))

    def outputs_on(self) -> dict[str, bool]:
        return {}


class NulEchoEmulator(EchoEmulator):
    """The echo instrument with KXCI-Ethernet-style NUL framing."""

    write_termination = b"\0"
    read_termination = b"\0"
