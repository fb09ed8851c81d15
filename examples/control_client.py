#!/usr/bin/env python3
"""Drive rigd from a lab's behaviour script: start a recording, tune the laser mid-session, add a mark, stop.

    rigd serve --profile profiles/sim-2p.yaml          # in another terminal
    python3 examples/control_client.py behaviour.nwb   # written as data/behaviour.nwb

    python3 examples/control_client.py OUT [CONTROL]   # CONTROL: rigd's control socket, tcp://127.0.0.1:5555

It uses the rigd_client package (python/ in this checkout: `pip install --no-build-isolation ./python`
installs it, python/README.md shows the rest of it: subscriptions, previews, CURVE keys). Needs pyzmq and
numpy (Debian: apt-get install python3-zmq python3-numpy).
"""
import json
import sys
import time
from pathlib import Path

try:
    import rigd_client
except ImportError:  # not installed: the package in this checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))
    import rigd_client


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else "behaviour.nwb"
    control = sys.argv[2] if len(sys.argv) > 2 else rigd_client.DEFAULT_CONTROL
    session = {
        "session_description": "Whisker stimulation, driven by the behaviour script",
        "experimenter": ["Doe, Jane"],
        "subject": {"subject_id": "mouse-017", "species": "Mus musculus", "sex": "F", "age": "P92D"},
    }
    # 30 s per request: starting a session identifies every device first.
    with rigd_client.Client(control, timeout=30.0) as rig:
        rig.start(out, session, force=True)
        print("recording", out, flush=True)
        time.sleep(2)
        rig.set("TiSapphireLaser", "wavelength_nm", 940)
        print("laser tuned to 940 nm", flush=True)
        rig.mark("stimulus on")
        time.sleep(1)
        print(json.dumps(rig.stop()), flush=True)


if __name__ == "__main__":
    try:
        main()
    except rigd_client.RigdError as e:
        raise SystemExit(str(e))
