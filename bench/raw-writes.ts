// The disk's ceiling, as both benchmarks measure it: sequential writeSync of frame bytes with an fsync every
// second (rigd checkpoints every second) and one at the end, timed to that last fsync. Two ways: through the
// page cache (the ceiling), and around it with O_DIRECT, as rigd writes frame data (src/nwb/direct-writes.ts):
// what the disk itself takes.
import { closeSync, constants, fsyncSync, openSync, writeSync } from "node:fs";

/** WebAssembly's Memory: its buffer is page-aligned, as O_DIRECT needs (the project's libs do not declare it). */
const { Memory } = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number }) => { buffer: ArrayBuffer } } }).WebAssembly;

/**
 * Writes `frames` in turn to a new file at `path` while `more(planes written, ms elapsed)` holds; `direct` opens
 * it O_DIRECT and writes from page-aligned copies (frames must then be whole 4096-byte pages).
 */
export function writeRaw(path: string, frames: readonly NodeJS.ArrayBufferView[], more: (planes: number, elapsedMs: number) => boolean, direct = false): { planes: number; bytes: number; seconds: number } {
  const buffers = direct
    ? frames.map((f) => {
        if (f.byteLength % 4096) throw new RangeError(`a direct write needs whole 4096-byte pages, not ${f.byteLength} bytes`);
        const copy = new Uint8Array(new Memory({ initial: Math.ceil(f.byteLength / 65536) }).buffer, 0, f.byteLength);
        copy.set(new Uint8Array(f.buffer, f.byteOffset, f.byteLength));
        return copy;
      })
    : frames;
  const fd = openSync(path, direct ? constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_DIRECT : "w");
  try {
    const t0 = performance.now();
    let synced = t0;
    let planes = 0;
    let bytes = 0;
    while (more(planes, performance.now() - t0)) {
      const f = buffers[planes % buffers.length]!;
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
