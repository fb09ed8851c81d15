// The disk's ceiling, as both benchmarks measure it: sequential writeSync of frame bytes with an fsync every
// second (rigd checkpoints every second) and one at the end, timed to that last fsync.
import { closeSync, fsyncSync, openSync, writeSync } from "node:fs";

/** Writes `frames` in turn to a new file at `path` while `more(planes written, ms elapsed)` holds. */
export function writeRaw(path: string, frames: readonly NodeJS.ArrayBufferView[], more: (planes: number, elapsedMs: number) => boolean): { planes: number; bytes: number; seconds: number } {
  const fd = openSync(path, "w");
  try {
    const t0 = performance.now();
    let synced = t0;
    let planes = 0;
    let bytes = 0;
    while (more(planes, performance.now() - t0)) {
      const f = frames[planes % frames.length]!;
      writeSync(fd, f, 0, f.byteLength);
      bytes += f.byteLength;
      planes++;
      if (performance.now() - synced >= 1000) {
        fsyncSync(fd);
        synced = performance.now();
      }
    }
    fsyncSync(fd);
    return { planes, bytes, seconds: (performance.now() - t0) / 1000 };
  } finally {
    closeSync(fd);
  }
}
