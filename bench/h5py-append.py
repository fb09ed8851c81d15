#!/usr/bin/env python3
"""h5py appending the frames writer-bench.ts appends, as a Python lab would: the ceiling rigd's writer is compared with.

One sample per chunk (h5py's best for these shapes: 1 × H × W for frames, 1 × H × W × 1 for volumes, written
plane by plane, depth last as ndx-microscopy stores it), flush + fsync every second like rigd's checkpoints.
Frames are the same synthetic ring as writer-bench.ts. Prints {"seconds": …} as one JSON line.

    python3 bench/h5py-append.py PATH SIZE DEPTHS FRAMES
"""
import json
import os
import sys
import time

import h5py
import numpy as np


def ring(size: int) -> list:
    k = np.arange(size * size, dtype=np.uint64)
    frames = []
    for i in range(32):
        gradient = ((k % size) + i) & 1023
        noise = ((k * 2654435761 + i) & 0xFFFFFFFF) >> 28
        frames.append((gradient + noise).astype(np.uint16).reshape(size, size))
    return frames


def main() -> None:
    path, size, depths, frames = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    planes = ring(size)
    start = time.perf_counter()
    with h5py.File(path, "w") as f:
        fd = f.id.get_vfd_handle()
        if depths == 1:
            ds = f.create_dataset("data", shape=(0, size, size), maxshape=(None, size, size), chunks=(1, size, size), dtype="<u2")
        else:
            ds = f.create_dataset("data", shape=(0, size, size, depths), maxshape=(None, size, size, depths), chunks=(1, size, size, 1), dtype="<u2")
        last_sync = time.perf_counter()
        for n in range(frames // depths):
            ds.resize(n + 1, axis=0)
            if depths == 1:
                ds[n] = planes[n % len(planes)]
            else:
                for d in range(depths):
                    ds[n, :, :, d] = planes[(n * depths + d) % len(planes)]
            if time.perf_counter() - last_sync >= 1:
                f.flush()
                os.fsync(fd)
                last_sync = time.perf_counter()
        f.flush()
        os.fsync(fd)
    print(json.dumps({"seconds": time.perf_counter() - start}))


if __name__ == "__main__":
    main()
