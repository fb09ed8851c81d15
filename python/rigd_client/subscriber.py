"""What rigd publishes: status once a second, device telemetry as it is read, and previews while recording."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Iterator, List, Optional, Union

import numpy as np
import zmq

from .client import Status
from ._handshake import Watched
from .curve import CurveKeys
from .errors import RigdError, RigdTimeout

DEFAULT_PUBLISH = "tcp://127.0.0.1:5556"
TOPICS = ("status", "telemetry", "preview")


@dataclass(frozen=True)
class StatusMessage:
    status: Status


@dataclass(frozen=True)
class Telemetry:
    """A device's state as read: a laser's `device`, or the photodetector channels (`devices`) one controller drives."""

    time: float  # ms since the Unix epoch, when it was read
    state: Dict[str, Any]
    device: Optional[str] = None
    devices: Optional[List[str]] = None


@dataclass(frozen=True)
class Preview:
    """A frame of `series`, binned `bin` x `bin` (its longer side at most 128 pixels)."""

    series: str
    time: float  # s on the session clock
    bin: int
    pixels: np.ndarray  # 2-D, (height, width)


Message = Union[StatusMessage, Telemetry, Preview]


def _decode(frames: List[bytes]) -> Message:
    """One published message (topic, JSON, and for a preview its pixels) as the topic's type."""
    topic, body = frames[0].decode(), json.loads(frames[1])
    if topic == "status":
        return StatusMessage(body)
    if topic == "telemetry":
        return Telemetry(time=body["time"], state=body["state"], device=body.get("device"), devices=body.get("devices"))
    if topic == "preview":
        # rigd sends uint16 pixels as a Uint16Array's bytes: little-endian on every machine Node runs on.
        # Copied: an array over the message's bytes would be read-only.
        pixels = np.frombuffer(frames[2], dtype=np.dtype(body.get("dtype", "<u2"))).reshape(body["shape"]).copy()
        return Preview(series=body["series"], time=body["time"], bin=body["bin"], pixels=pixels)
    raise RigdError(f"rigd published on a topic this client does not know: {topic!r}")


class Subscriber:
    """Receives the `topics` rigd publishes (all three unless told). A subscriber that connects misses what
    was published before; one that reads too slowly misses messages (rigd never waits for it)."""

    def __init__(self, publish: str = DEFAULT_PUBLISH, topics: Union[str, Iterable[str]] = TOPICS, *, curve: Optional[CurveKeys] = None, context: Optional[zmq.Context] = None) -> None:
        self.publish = publish
        self.topics = (topics,) if isinstance(topics, str) else tuple(topics)
        if not self.topics or any(t not in TOPICS for t in self.topics):
            raise ValueError(f"topics {list(self.topics)}: expected some of {', '.join(TOPICS)}")
        socket = (context or zmq.Context.instance()).socket(zmq.SUB)
        socket.setsockopt(zmq.LINGER, 0)
        if curve is not None:
            curve.apply(socket)
        for topic in self.topics:
            socket.subscribe(topic)
        self._socket = Watched(socket, publish)
        socket.connect(publish)

    def receive(self, timeout: Optional[float] = None) -> Message:
        """The next message; waits at most `timeout` seconds (None: as long as it takes), then raises RigdTimeout.
        HandshakeRefused when rigd refuses the connection."""
        if not self._socket.poll(timeout):
            raise RigdTimeout(f"rigd at {self.publish} published no {' or '.join(self.topics)} message within {timeout:g} s", self.publish, timeout)
        return _decode(self._socket.socket.recv_multipart())

    def __iter__(self) -> Iterator[Message]:
        while True:
            yield self.receive()

    def close(self) -> None:
        self._socket.close()

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
