"""What rigd publishes: status once a second, device telemetry as it is read, the event record's entries as they
come, and previews and the online analysis' traces while recording."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple, Union

import numpy as np
import zmq

from .client import Status
from ._handshake import Watched
from .curve import CurveKeys
from .errors import RigdError, RigdTimeout

DEFAULT_PUBLISH = "tcp://127.0.0.1:5556"
TOPICS = ("status", "telemetry", "events", "preview", "traces")


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
class Event:
    """An entry of the session's event record (`/acquisition/rig_events`), as it goes to the file."""

    time: float  # s on the session clock
    kind: str  # 'mark', 'command', 'fault', 'dropped_frames', ...
    source: str  # the device or series it concerns, or 'user'
    message: str


@dataclass(frozen=True)
class Preview:
    """A frame of `series`, binned `bin` x `bin` (its longer side at most 128 pixels)."""

    series: str
    time: float  # s on the session clock
    bin: int
    pixels: np.ndarray  # 2-D, (height, width)


@dataclass(frozen=True)
class Traces:
    """The online analysis of one frame of `series` (the profile's `analysis:`) — of a volumetric series, one
    volume: one value per ROI, in the order of the segmentation's rows (`<series>Segmentation` in the file), NaN
    where not computed; the frame's rigid shift, or a volume's per depth plane."""

    series: str
    time: float  # s on the session clock: the frame's (volume's) timestamp in the file
    hardware_time_s: Optional[float]  # the producer's own time stamp of the frame (a volume's first plane analysed), if it has a clock
    dff: np.ndarray  # ΔF/F per ROI, float64
    f: np.ndarray  # weighted-mask fluorescence per ROI (the frame's counts)
    shift_px: Optional[Tuple[float, float]]  # (x, y) shift against the reference; None while it is built, without motion, or for a volume
    shift_um: Optional[Tuple[float, float]]
    # A volume's only (else None): per depth plane, its (x, y) shift against that depth's reference, (depths, 2), NaN where none.
    depth_shifts_px: Optional[np.ndarray] = None
    depth_shifts_um: Optional[np.ndarray] = None


Message = Union[StatusMessage, Telemetry, Event, Preview, Traces]


def _values(values: List[Optional[float]]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _pair(pair: Optional[List[float]]) -> Optional[Tuple[float, float]]:
    return None if pair is None else (pair[0], pair[1])


def _pairs(pairs: Optional[List[Optional[List[float]]]]) -> Optional[np.ndarray]:
    if pairs is None:
        return None
    return np.array([[np.nan, np.nan] if p is None else p for p in pairs], dtype=np.float64).reshape(len(pairs), 2)


def _decode(frames: List[bytes]) -> Message:
    """One published message (topic, JSON, and for a preview its pixels) as the topic's type."""
    topic, body = frames[0].decode(), json.loads(frames[1])
    if topic == "status":
        return StatusMessage(body)
    if topic == "telemetry":
        return Telemetry(time=body["time"], state=body["state"], device=body.get("device"), devices=body.get("devices"))
    if topic == "events":
        return Event(time=body["time"], kind=body["kind"], source=body["source"], message=body["message"])
    if topic == "preview":
        # rigd sends uint16 pixels as a Uint16Array's bytes: little-endian on every machine Node runs on.
        # Copied: an array over the message's bytes would be read-only.
        pixels = np.frombuffer(frames[2], dtype=np.dtype(body.get("dtype", "<u2"))).reshape(body["shape"]).copy()
        return Preview(series=body["series"], time=body["time"], bin=body["bin"], pixels=pixels)
    if topic == "traces":
        return Traces(
            series=body["series"],
            time=body["time"],
            hardware_time_s=body.get("hardware_time_s"),
            dff=_values(body["dff"]),
            f=_values(body["f"]),
            shift_px=_pair(body.get("shift_px")),
            shift_um=_pair(body.get("shift_um")),
            depth_shifts_px=_pairs(body.get("depth_shifts_px")),
            depth_shifts_um=_pairs(body.get("depth_shifts_um")),
        )
    raise RigdError(f"rigd published on a topic this client does not know: {topic!r}")


class Subscriber:
    """Receives the `topics` rigd publishes (all of them unless told). A subscriber that connects misses what
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
