"""Python client for `rigd serve`: start, stop, set, mark and status on its control socket, and the status,
telemetry, events, previews (numpy arrays) and online-analysis traces it publishes.

    from rigd_client import Client, Subscriber

    with Client("tcp://127.0.0.1:5555") as rig:
        rig.start("mouse1/day1.nwb", session={...})
        rig.set("TiSapphireLaser", "wavelength_nm", 940)
        rig.mark("stimulus on")
        print(rig.stop()["samples"])
"""
from .client import DEFAULT_CONTROL, Client, MarkResult, SetResult, Status, StopResult
from .curve import CurveKeys
from .errors import HandshakeRefused, RequestError, RigdError, RigdTimeout
from .subscriber import DEFAULT_PUBLISH, TOPICS, Event, Message, Preview, StatusMessage, Subscriber, Telemetry, Traces

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_CONTROL",
    "DEFAULT_PUBLISH",
    "TOPICS",
    "Client",
    "CurveKeys",
    "Event",
    "HandshakeRefused",
    "MarkResult",
    "Message",
    "Preview",
    "RequestError",
    "RigdError",
    "RigdTimeout",
    "SetResult",
    "Status",
    "StatusMessage",
    "StopResult",
    "Subscriber",
    "Telemetry",
    "Traces",
]
