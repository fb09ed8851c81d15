#!/usr/bin/env python3
"""Feed rigd frames from your own acquisition code, with frame protocol v1 (docs/frame-protocol-v1.md).

rigd binds a ZeroMQ PULL socket at the address in its rig profile (the zmq-frames binding). Your code connects
a PUSH socket to it and sends every frame as one message of two parts: a small JSON header, then the raw pixels.

    python3 examples/publish_frames.py --address tcp://127.0.0.1:5600 --frames 300 --channels 2

Needs pyzmq and numpy (Debian: apt-get install python3-zmq python3-numpy).

For every frame it prints "COUNTER CHANNEL CRC32" (zlib.crc32 of the pixel bytes), or "COUNTER CHANNEL dropped",
so that a test can check what arrived against what was sent.
"""
import argparse
import json
import time
import zlib

import numpy as np
import zmq


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", required=True, help="rigd's frame source address, e.g. tcp://127.0.0.1:5600")
    parser.add_argument("--frames", type=int, default=100, help="frames per channel")
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--height", type=int, default=64)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--rate", type=float, default=30.0, help="frames per second")
    args = parser.parse_args()

    context = zmq.Context()
    socket = context.socket(zmq.PUSH)
    socket.setsockopt(zmq.SNDHWM, 100)  # frames queued here while rigd is busy: memory = 100 x frame size
    socket.setsockopt(zmq.LINGER, 5000)  # on close, queued frames get 5 s to leave
    socket.connect(args.address)

    # Sent with every frame: what rigd copies into the file's imaging metadata.
    scanner = {"line_rate_Hz": 15820.0, "scan_direction": "horizontal", "bidirectional": True, "pixel_size_um": [1.0, 1.0], "zoom": 1.0}
    noise = np.random.default_rng(seed=1)
    start = time.monotonic()
    for counter in range(args.frames):
        timestamp = time.monotonic() - start  # use your hardware's timestamp of the frame here
        for channel in range(args.channels):
            # Your digitizer's frame goes here: row-major (C order), little-endian. Random pixels make any byte
            # out of place change the checksum.
            frame = noise.integers(0, 65536, size=(args.height, args.width), dtype="<u2")
            header = {
                "version": 1,
                "counter": counter,  # +1 per frame of this channel and plane; never reuse one, never skip one you sent
                "hardware_time_s": timestamp,
                "channel": channel,
                "plane": 0,
                "shape": [args.height, args.width],
                "dtype": "uint16",
                "scanner": scanner,
            }
            try:
                # NOBLOCK: never let rigd stall the acquisition. copy=False: ZeroMQ reads the numpy buffer itself.
                socket.send_multipart([json.dumps(header).encode(), frame], flags=zmq.NOBLOCK, copy=False)
                print(counter, channel, zlib.crc32(frame))
            except zmq.Again:
                # rigd is not keeping up and the queue is full: lose this frame, keep counting, and rigd records the gap.
                print(counter, channel, "dropped")
        time.sleep(max(0.0, start + (counter + 1) / args.rate - time.monotonic()))

    socket.close()  # waits up to LINGER for queued frames
    context.term()


if __name__ == "__main__":
    main()
