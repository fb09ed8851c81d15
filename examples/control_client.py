#!/usr/bin/env python3
"""Drive rigd from a lab's behaviour script: start a recording, tune the laser mid-session, add a mark, stop.

    rigd serve --profile profiles/sim-2p.yaml          # in another terminal
    python3 examples/control_client.py behaviour.nwb   # written as data/behaviour.nwb

Every request is one JSON object on rigd's control socket (default tcp://127.0.0.1:5555); every answer is
{"ok": true, "result": ...} or {"ok": false, "error": {"code": ..., "message": ...}}.
"""
import json
import sys
import time

import zmq


def request(socket, **body):
    socket.send_string(json.dumps(body))
    if not socket.poll(30_000):  # ms: starting a session identifies every device first
        raise SystemExit(f"rigd did not answer {body['cmd']!r}")
    reply = json.loads(socket.recv_string())
    if not reply["ok"]:
        raise SystemExit(f"rigd refused {body['cmd']!r}: {reply['error']['code']}: {reply['error']['message']}")
    return reply["result"]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "behaviour.nwb"
    control = sys.argv[2] if len(sys.argv) > 2 else "tcp://127.0.0.1:5555"
    socket = zmq.Context().socket(zmq.REQ)
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect(control)

    session = {
        "session_description": "Whisker stimulation, driven by the behaviour script",
        "experimenter": ["Doe, Jane"],
        "subject": {"subject_id": "mouse-017", "species": "Mus musculus", "sex": "F", "age": "P92D"},
    }
    request(socket, cmd="start", out=out, session=session, force=True)
    print("recording", out, flush=True)
    time.sleep(2)
    request(socket, cmd="set", device="TiSapphireLaser", property="wavelength_nm", value=940)
    print("laser tuned to 940 nm", flush=True)
    request(socket, cmd="mark", text="stimulus on")
    time.sleep(1)
    result = request(socket, cmd="stop")
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
