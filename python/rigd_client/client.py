"""Requests to rigd's control socket: one JSON object each, answered with a result or rigd's error."""
from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional, TypedDict, Union

import numpy as np
import zmq

from ._handshake import Watched
from .curve import CurveKeys
from .errors import HandshakeRefused, RequestError, RigdTimeout

DEFAULT_CONTROL = "tcp://127.0.0.1:5555"


class Status(TypedDict, total=False):
    """rigd's status: only `state` while idle; a newer rigd may send fields not named here."""

    state: str  # idle, recording, stopping or closed
    out: str  # the recording's absolute path
    elapsed_s: float
    samples: Dict[str, int]  # per series
    dropped: int
    losses: Dict[str, Any]
    frames_before_start: int
    flyback_frames: int
    unrecorded_frames: int
    queue_bytes: int
    events: int
    written_bytes: int
    file_bytes: int
    rss_MB: int
    latency_ms: Dict[str, Any]
    disk_free_MB: float
    minutes_left: Optional[float]
    error: str  # why the session stopped on its own
    devices: Dict[str, Any]  # per device: its connection, losses of it and last fault


class StopResult(Status, total=False):
    """The final status (state closed), its samples and events counted in the file as written, and the
    series nwbinspector will call too short."""

    warnings: List[str]


class SetResult(TypedDict):
    device: str
    property: str
    value: Union[float, bool]


class MarkResult(TypedDict):
    marked: str


def _json_default(value: object) -> object:
    # numpy scalars (an np.int64 wavelength, say) are what lab scripts often hold; json takes only Python's.
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class Client:
    """A connection to rigd's control socket. One request at a time: not to be shared between threads.

    `timeout` (seconds) bounds every wait for an answer; a call's own `timeout` replaces it for that call.
    """

    def __init__(self, control: str = DEFAULT_CONTROL, *, timeout: float = 30.0, curve: Optional[CurveKeys] = None, context: Optional[zmq.Context] = None) -> None:
        self.control = control
        self.timeout = timeout
        self._curve = curve
        self._context = context or zmq.Context.instance()
        self._socket = self._connect()

    def _connect(self) -> Watched:
        socket = self._context.socket(zmq.REQ)
        socket.setsockopt(zmq.LINGER, 0)  # closing never waits for a daemon that is gone
        if self._curve is not None:
            self._curve.apply(socket)
        watched = Watched(socket, self.control)
        socket.connect(self.control)
        return watched

    def _renew(self) -> None:
        # A REQ socket whose request went unanswered can send nothing more: the next request gets a new one,
        # and a late answer goes to the closed socket, never mistaken for the next one's.
        self._socket.close()
        self._socket = self._connect()

    def request(self, cmd: str, *, timeout: Optional[float] = None, **fields: Any) -> Any:
        """Sends {"cmd": cmd, **fields}; returns rigd's result, or raises RequestError, RigdTimeout or HandshakeRefused."""
        wait = self.timeout if timeout is None else timeout
        self._socket.socket.send_string(json.dumps({"cmd": cmd, **fields}, default=_json_default))
        try:
            answered = self._socket.poll(wait)
        except HandshakeRefused:
            self._renew()
            raise
        if not answered:
            self._renew()
            raise RigdTimeout(f"rigd at {self.control} did not answer {cmd!r} within {wait:g} s (rigd may still carry it out)", self.control, wait, cmd)
        reply = json.loads(self._socket.socket.recv_string())
        if not reply["ok"]:
            raise RequestError(cmd, reply["error"]["code"], reply["error"]["message"])
        return reply["result"]

    def status(self, *, timeout: Optional[float] = None) -> Status:
        return self.request("status", timeout=timeout)

    def start(self, out: str, session: Mapping[str, Any], *, force: bool = False, timeout: Optional[float] = None) -> Status:
        """Starts recording to `out`, a path inside rigd's --data-dir; `session` is the session metadata
        (session_description, experimenter, subject, ...); `force` replaces an earlier NWB file there."""
        return self.request("start", timeout=timeout, out=out, session=session, force=force)

    def stop(self, *, timeout: Optional[float] = None) -> StopResult:
        return self.request("stop", timeout=timeout)

    def set(self, device: str, property: str, value: Union[float, bool], *, timeout: Optional[float] = None) -> SetResult:
        """Sets a device's property (names as in the rig profile); answered once the device confirms it."""
        return self.request("set", timeout=timeout, device=device, property=property, value=value)

    def mark(self, text: str, *, timeout: Optional[float] = None) -> MarkResult:
        """Adds `text` to the recording's event record, at the time rigd receives it."""
        return self.request("mark", timeout=timeout, text=text)

    def close(self) -> None:
        self._socket.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
