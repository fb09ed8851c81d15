#!/usr/bin/env python3
"""Every call of rigd_client against a live `rigd serve` (test/cli/python-client.test.ts starts it, on sim-2p):
prints what each returned or raised as one JSON object, for the test to check.

    python3 python/tests/live_daemon.py CONTROL PUBLISH
"""
import json
import socket
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Dict, Tuple, Type

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from rigd_client import Client, Event, Message, Preview, RigdError, StatusMessage, Subscriber, Telemetry  # noqa: E402

SESSION = {
    "session_description": "Python client test.",
    "experimenter": ["Doe, Jane"],
    "subject": {"subject_id": "m1", "species": "Mus musculus", "sex": "F", "age": "P90D"},
}


def raised(call: Callable[[], object]) -> Dict[str, Any]:
    """The error `call` raised: its class, text and attributes (cmd, code, message / address, timeout)."""
    try:
        call()
    except RigdError as e:
        return {"type": type(e).__name__, "text": str(e), **vars(e)}
    return {"type": None}


def unserved_address() -> str:
    """A loopback port nobody listens on (free a moment ago)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def first_of_each(subscriber: Subscriber, kinds: Tuple[Type[Message], ...], seconds: float) -> Dict[type, Message]:
    got: Dict[type, Message] = {}
    deadline = time.monotonic() + seconds
    while any(k not in got for k in kinds):
        message = subscriber.receive(timeout=max(0.0, deadline - time.monotonic()))
        got.setdefault(type(message), message)
    return got


def main() -> None:
    control, publish = sys.argv[1], sys.argv[2]
    report: Dict[str, Any] = {}
    with Client(control, timeout=30.0) as rig, Subscriber(publish, topics=["status"]) as statuses, Subscriber(publish, topics=("telemetry", "preview")) as live, Subscriber(publish, topics="events") as events:
        report["idle"] = rig.status()
        report["not_recording"] = raised(rig.stop)
        report["started"] = rig.start("python/client.nwb", SESSION)
        report["recording"] = rig.status()["state"]

        first = first_of_each(live, (Telemetry, Preview), 20.0)
        preview = first[Preview]
        assert isinstance(preview, Preview)
        report["preview"] = {
            "series": preview.series,
            "time": preview.time,
            "bin": preview.bin,
            "type": type(preview.pixels).__name__,
            "shape": list(preview.pixels.shape),
            "dtype": str(preview.pixels.dtype),
            "writeable": bool(preview.pixels.flags.writeable),
            "max": int(preview.pixels.max()),
        }
        report["telemetry"] = asdict(first[Telemetry])

        # A numpy integer, as a lab script's settings often are, goes as a JSON number.
        report["set"] = rig.set("TiSapphireLaser", "wavelength_nm", np.int64(920))
        report["mark"] = rig.mark("stimulus on")
        # The event record as it is made: the mark comes back on the events topic (after the set's command event).
        event = events.receive(timeout=10.0)
        while not (isinstance(event, Event) and event.kind == "mark"):
            event = events.receive(timeout=10.0)
        assert (event.source, event.message) == ("user", "stimulus on"), event
        report["event"] = asdict(event)

        # Status comes once a second; those queued first may be from before the start, as many as the seconds the
        # start took (several on a loaded machine).
        states = []
        deadline = time.monotonic() + 30.0
        while "recording" not in states and time.monotonic() < deadline:
            message = statuses.receive(timeout=5.0)
            states.append(message.status["state"] if isinstance(message, StatusMessage) else type(message).__name__)
        report["published_states"] = states

        # A PMT's reset_trip reboots its controller (seconds): asked to answer within 0.5 s, it times out, and the
        # same client's next request is answered (the daemon answers status while the reset goes on).
        report["too_soon"] = raised(lambda: rig.set("PMTGreen", "reset_trip", True, timeout=0.5))
        report["after_timeout"] = rig.status()["state"]

        report["stopped"] = rig.stop()
        report["stopped_again"] = raised(rig.stop)

    with Client(unserved_address(), timeout=0.5) as nobody:
        t0 = time.monotonic()
        report["unserved"] = raised(nobody.status)
        report["unserved_s"] = time.monotonic() - t0
        # A second request on the same client times out too, rather than fail on a REQ socket left mid-request.
        report["unserved_again"] = raised(lambda: nobody.mark("anyone?"))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
