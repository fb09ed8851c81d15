#!/usr/bin/env python3
"""Closed-loop code's view of a recording: follow one neuron's ΔF/F as rigd's online analysis computes it.

    rigd serve --profile profiles/sim-2p-analysis.yaml   # in another terminal; then start a session
    python3 examples/traces_subscriber.py [ROI] [PUBLISH] [--count N]

Prints, for every frame analysed, the frame's time, ROI's ΔF/F and the frame's rigid shift (µm), and a line
when the ΔF/F crosses 0.5 (a transient: where a closed-loop experiment would trigger its stimulus). ROI is the
row of the series' segmentation (default 0); PUBLISH is rigd's PUB socket (tcp://127.0.0.1:5556); --count N
stops after N frames. Uses the rigd_client package (python/ in this checkout; pyzmq and numpy).
"""
import argparse
import sys
from pathlib import Path

try:
    import rigd_client
except ImportError:  # not installed: the package in this checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))
    import rigd_client

THRESHOLD = 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roi", nargs="?", type=int, default=0)
    parser.add_argument("publish", nargs="?", default=rigd_client.DEFAULT_PUBLISH)
    parser.add_argument("--count", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=None, help="seconds to wait for a frame before giving up")
    args = parser.parse_args()
    seen = 0
    active = False
    with rigd_client.Subscriber(args.publish, "traces") as traces:
        while args.count is None or seen < args.count:
            t = traces.receive(args.timeout)
            if args.roi >= len(t.dff):
                sys.exit(f"{t.series} has {len(t.dff)} ROIs: no ROI {args.roi}")
            dff = t.dff[args.roi]
            shift = "" if t.shift_um is None else f"  shift {t.shift_um[0]:+.2f} {t.shift_um[1]:+.2f} µm"
            print(f"{t.series} t={t.time:9.3f} s  ROI {args.roi} ΔF/F {dff:+.3f}{shift}", flush=True)
            if dff > THRESHOLD and not active:
                print(f"  transient: ROI {args.roi} crossed ΔF/F {THRESHOLD} at {t.time:.3f} s", flush=True)
            active = dff > THRESHOLD
            seen += 1


if __name__ == "__main__":
    main()
