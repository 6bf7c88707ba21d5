"""A station behind a PyLECO actor: what `labqc station serve` runs.

    serve(Station("probe2", "stations/probe2", preset="bfo"), host="127.0.0.1", port=12300,
          trust=["alice"])

The actor signs in to a coordinator under the station's name and answers JSON-RPC:

    station_status()                      anyone: state, queue, current run, progress, ETA
    station_runs()                        anyone: its catalog, as `labqc runs list --json`
    submit_plan(text, source)             trusted directors only: queue a plan (TOML text)
    run_procedure(procedure, parameters)  trusted directors only: queue one run
    abort()                               trusted directors only: outputs off, queue emptied
    shut_down()                           trusted directors only

PyLECO's Actor offers every attribute of its device over RPC (get_parameters,
set_parameters, call_action, connect, ...); a station offers none of them: only the calls
above exist. Trust is by the sender's name, which the coordinator ties to the sender's
connection (a second component cannot sign in under a name in use); so it is worth exactly
as much as the reach of the coordinator (README: "Several stations").
A station only connects out (to the coordinator): it listens on no port of its own.
"""
from __future__ import annotations

import signal
import threading
import time
from typing import Any, Iterable

from pyleco.actors.actor import Actor
from pyleco.core.message import MessageTypes
from pyleco.json_utils.errors import DUPLICATE_NAME, JSONRPCError
from pyleco.utils.events import Event, SimpleEvent

from labqc.procedures.station import Station, StationError

#: Seconds between heartbeats (PyLECO's own is 10 s): with `labqc lab coordinator`'s expiry
#: a killed station's name is free again within seconds, so that it can come back.
HEARTBEAT_S = 1.0
#: How long a station waits for its name to be free at the coordinator (a killed
#: predecessor's name expires there).
SIGN_IN_PATIENCE_S = 60.0


class StationActor(Actor):
    """The RPC face of one :class:`~labqc.procedures.station.Station`."""

    def __init__(self, station: Station, *, trust: Iterable[str] = (), host: str = "127.0.0.1",
                 port: int = 12300, **kwargs: Any) -> None:
        self.station = station
        self.trusted = frozenset(trust)
        super().__init__(name=station.name, device_class=Station, host=host, port=port, **kwargs)
        self.device = station

    # ------------------------------------------------------------------ what is offered
    def register_rpc_methods(self) -> None:
        # deliberately not super(): no generic access to the device, no connect/disconnect
        self.register_rpc_method(self.pong)
        self.register_rpc_method(self.shut_down)
        self.register_rpc_method(self.station_status)
        self.register_rpc_method(self.station_runs)
        self.register_rpc_method(self.submit_plan)
        self.register_rpc_method(self.run_procedure)
        self.register_rpc_method(self.abort)

    def station_status(self) -> dict:
        return {**self.station.status(), "trusted": sorted(self.trusted)}

    def station_runs(self) -> list[dict]:
        return self.station.runs()

    def submit_plan(self, text: str, source: str = "plan.toml") -> dict:
        by = self._control("submit a plan")
        return self._refusals(lambda: self.station.submit(text, source, by=by))

    def run_procedure(self, procedure: str, parameters: dict | None = None) -> dict:
        by = self._control("start a run")
        return self._refusals(lambda: self.station.run_one(procedure, dict(parameters or {}), by=by))

    def abort(self) -> dict:
        self._control("abort")
        return self.station.abort()

    def shut_down(self) -> None:
        self._control("shut the station down")
        super().shut_down()

    # ------------------------------------------------------------------ who asks
    def sender(self) -> tuple[str, str]:
        elements = self.current_message.sender_elements
        return elements.namespace.decode(), elements.name.decode()

    def _control(self, what: str) -> str:
        """The sender's name if it may control this station; PermissionError otherwise."""
        namespace, name = self.sender()
        full = f"{namespace}.{name}" if namespace else name
        local = not namespace or namespace == (self.namespace or namespace)
        if full in self.trusted or (local and name in self.trusted):
            return full
        raise PermissionError(f"{full} may not {what} on station {self.station.name}: it is not among the "
                              f"directors this station trusts (`labqc station serve --trust NAME`)")

    @staticmethod
    def _refusals(call) -> dict:
        try:
            return call()
        except StationError as exc:
            raise ValueError(str(exc)) from None

    # ------------------------------------------------------------------ liveness
    def _listen_loop_element(self, poller, waiting_time):
        socks = super()._listen_loop_element(poller, waiting_time)
        now = time.perf_counter()
        if now > getattr(self, "_beat_at", 0.0):  # PyLECO beats only every 10 s, and only when idle
            self._beat_at = now + HEARTBEAT_S
            self.heartbeat()
        return socks

    def sign_in(self) -> None:
        """Sign in, waiting while the name is still held by a killed predecessor."""
        deadline = time.monotonic() + SIGN_IN_PATIENCE_S
        string = self.rpc_generator.build_request_str(method="sign_in")
        while True:
            try:
                message = self.ask(b"COORDINATOR", data=string, message_type=MessageTypes.JSON, timeout=1.0)
                self.interpret_rpc_response(message)
            except JSONRPCError as exc:
                if exc.rpc_error.code != DUPLICATE_NAME.code or time.monotonic() > deadline:
                    self.log.warning(f"sign in failed: {exc.rpc_error.message}")
                    return
                time.sleep(0.5)
            except TimeoutError:
                if time.monotonic() > deadline:
                    self.log.error("signing in timed out")
                    return
            else:
                self.finish_sign_in(message)
                return


def serve(station: Station, *, host: str = "127.0.0.1", port: int = 12300, trust: Iterable[str] = (),
          stop_event: Event | None = None) -> None:
    """Run the station until shut down (SIGTERM, Ctrl-C or a trusted shut_down): the worker
    thread runs the queue, this thread answers the coordinator."""
    stop = stop_event or SimpleEvent()
    on_signals(stop)
    station.start()
    try:
        with StationActor(station, trust=trust, host=host, port=port) as actor:
            actor.listen(stop_event=stop)
    finally:
        station.close()


def on_signals(stop: Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for name in ("SIGTERM", "SIGBREAK"):  # SIGBREAK: Ctrl-Break on Windows
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), lambda *_: stop.set())


__all__ = ["StationActor", "serve", "on_signals", "HEARTBEAT_S"]
