// Writes around the page cache (src/nwb/direct-writes.ts) on a real file system: every byte lands where it was
// written, whatever the alignment of the write and of its buffer, mixed with writes and reads through the page
// cache on the same pages; and a real recording's frames take that path and read back exactly.
import fs from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { unwatchDirectWrites, watchDirectWrites } from "../../src/nwb/direct-writes.js";
import { NwbWriter } from "../../src/nwb/index.js";
import { dataset, openRead, tempPath } from "./h5read.js";
import { mountTmpfs, tmpfsSkipNote, unmountTmpfs } from "../tmpfs.js";

describe("writes around the page cache", () => {
  // Each write as [offset in the heap, length, position in the file].
  const WRITES: [number, number, number][] = [
    [0, 100, 0], // metadata-sized: the page cache
    [5, 1_000_001, 100], // unaligned at both ends: its head and tail part pages cached, the rest direct
    [17, 2 ** 20, 2 ** 20 + 4096], // aligned in the file, not in memory
    [40, 300, 2 ** 20 + 4196], // a small write into a page just written direct
    [0, 3 * 2 ** 20, 2 * 2 ** 20 + 123], // over part of both earlier ones, and beyond the end
    [999, 50_000, 10], // a small write over pages the first large one wrote direct
    [3, 9 * 2 ** 20 + 5, 6 * 2 ** 20], // more than one piece of the queue's ring
    [64, 600_000, 7 * 2 ** 20], // large, over the middle of the one before: queued behind it
    [100, 700_000, 7 * 2 ** 20 + 100_000], // large, over the one before while it may still be queued
    [11, 200, 16 * 2 ** 20], // small: the queue is emptied
    // HDF5 writing a batch of chunks, each where the last ended: one run, the part pages between them direct too.
    ...Array.from({ length: 6 }, (_, k): [number, number, number] => [k * 1000, 2 ** 19 + 1000, 16 * 2 ** 20 + 777 + k * (2 ** 19 + 1000)]),
  ];

  /**
   * Bytes written direct, as direct-writes.ts queues them: large writes in pieces of at most 8 MiB, each joined to
   * the run before it if it continues it and the run stays within 8 MiB; a run written up to its whole pages'
   * ends. A small write or a read of a queued range (`readBack`: each write is read right after) ends the run.
   */
  function directBytesOf(readBack: boolean): number {
    const PIECE = 8 * 2 ** 20;
    let total = 0;
    let run: { position: number; length: number } | undefined;
    const end = () => {
      if (run) total += Math.floor((run.length - ((4096 - (run.position % 4096)) % 4096)) / 4096) * 4096;
      run = undefined;
    };
    for (const [, length, position] of WRITES) {
      if (length < 256 * 1024) end();
      else
        for (let done = 0; done < length; done += PIECE) {
          const piece = Math.min(length - done, PIECE);
          if (run && run.position + run.length === position + done && run.length + piece <= PIECE) run.length += piece;
          else {
            end();
            run = { position: position + done, length: piece };
          }
        }
      if (readBack) end();
    }
    end();
    return total;
  }

  /** A memory like a WebAssembly heap seen as bytes, the writes' data at odd offsets in it. */
  function heapOf(size: number): Int8Array {
    const heap = new Int8Array(new ArrayBuffer(size + 4099), 3);
    let seed = 7;
    for (let i = 0; i < heap.length; i++) heap[i] = (seed = (seed * 1103515245 + 12345) & 0x7fffffff) >> 16;
    return heap;
  }

  it.each([
    ["a read of each right after it sees what was written", true, true],
    ["nothing read in between: the file ends as written, each write after the ones before", false, true],
    ["written before the writing thread runs (through the page cache until it does)", false, false],
  ])("whole pages go direct, part pages through the cache, every byte as written; %s", async (_, readBack, waitForThread) => {
    const path = tempPath("direct.bin");
    const stats = watchDirectWrites(path);
    // Opened as h5wasm's NODERAWFS opens it: through the fs module's openSync, with numeric flags.
    const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o644);
    unwatchDirectWrites(path);
    if (waitForThread) await stats.running();
    const end = Math.max(...WRITES.map(([, length, position]) => position + length));
    const model = new Uint8Array(end);
    const heap = heapOf(10 * 2 ** 20);
    const before = heap.slice();
    /** What the file holds after `write`: its bytes as the heap held them when it was written. */
    const modelWrite = ([offset, length, position]: [number, number, number], from: Int8Array) => {
      model.set(new Uint8Array(from.buffer, from.byteOffset + offset, length), position);
      from[offset] = ~from[offset]!;
    };
    const expectedDirect = directBytesOf(readBack);
    for (const w of WRITES) {
      const [offset, length, position] = w;
      expect(fs.writeSync(fd, heap, offset, length, position)).toBe(length);
      // The heap changes once HDF5 has written it: the queue holds its own copy.
      heap[offset] = ~heap[offset]!;
      // Without reads, one write follows another at once, as HDF5's do: the writing threads race for real.
      if (!readBack) continue;
      modelWrite(w, before);
      const back = Buffer.alloc(length);
      fs.readSync(fd, back, 0, length, position);
      expect(back.equals(Buffer.from(model.buffer, position, length))).toBe(true);
    }
    if (!readBack) for (const w of WRITES) modelWrite(w, before);
    fs.closeSync(fd);
    expect(fs.readFileSync(path).equals(Buffer.from(model.buffer))).toBe(true);
    expect(stats.refused).toBeUndefined();
    if (waitForThread) expect(stats.directBytes).toBe(expectedDirect);
    else expect(stats.directBytes).toBeLessThanOrEqual(expectedDirect);
    expect(expectedDirect).toBeGreaterThan(14 * 2 ** 20);
    // The batch of chunks as one run: more direct than its writes one by one (only their own whole pages).
    if (!readBack) expect(expectedDirect).toBeGreaterThan(directBytesOf(true) + 2 * 4096);
    // Another file, not watched, is written as before.
    const direct = stats.directBytes;
    const other = tempPath("cached.bin");
    const ofd = fs.openSync(other, "w");
    fs.writeSync(ofd, heap, 0, 2 ** 20, 0);
    fs.closeSync(ofd);
    expect(stats.directBytes).toBe(direct);
  });

  it.skipIf(!!tmpfsSkipNote)(`a queued write the disk has no room for fails a later call on the file; its bytes are written once there is room${tmpfsSkipNote}`, async () => {
    const dir = mountTmpfs("size=8m");
    try {
      const filler = join(dir, "filler");
      fs.writeFileSync(filler, Buffer.alloc(4 * 2 ** 20, 1));
      const path = join(dir, "direct.bin");
      const stats = watchDirectWrites(path);
      const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
      unwatchDirectWrites(path);
      await stats.running();
      const heap = heapOf(6 * 2 ** 20);
      const MiB = 2 ** 20;
      const write = (i: number) => fs.writeSync(fd, heap, i * MiB, MiB, i * MiB + 10);
      // Six 1 MiB writes into 4 MiB of room: the fifth fails in the writing thread, and says so at a later call
      // (a later write, or settle()); each call that finds the failed writes still owed retries them and fails
      // again while the disk is full. A write that throws was not done: HDF5 would fail; here it is done again.
      const thrown: NodeJS.ErrnoException[] = [];
      const redo: number[] = [];
      for (let i = 0; i < 6; i++) {
        try {
          write(i);
        } catch (e) {
          thrown.push(e as NodeJS.ErrnoException);
          redo.push(i);
        }
      }
      try {
        stats.settle();
      } catch (e) {
        thrown.push(e as NodeJS.ErrnoException);
      }
      expect(stats.refused).toBeUndefined();
      expect(thrown.length).toBeGreaterThan(0);
      expect(thrown.map((e) => e.code)).toEqual(thrown.map(() => "ENOSPC"));
      expect(thrown[0]!.message).toMatch(/^ENOSPC: no space left on device/);
      expect(redo.every((i) => i >= 4)).toBe(true); // the first four fit, and none of them is said to have failed
      // The writes it stopped are kept: with room again, they are done before anything else.
      fs.rmSync(filler);
      stats.settle();
      for (const i of redo) write(i);
      fs.writeSync(fd, heap, 0, 10, 0);
      fs.closeSync(fd);
      const expected = Buffer.concat([Buffer.from(heap.buffer, heap.byteOffset, 10), Buffer.from(heap.buffer, heap.byteOffset, 6 * MiB)]);
      expect(fs.readFileSync(path).equals(expected)).toBe(true);
    } finally {
      unmountTmpfs(dir);
    }
  });

  it("a recording's frames go around the page cache and read back exactly", async () => {
    const path = tempPath("direct.nwb");
    const w = await NwbWriter.create(path, { session_description: "Direct writes.", session_start_time: "2026-12-01T09:00:00+01:00" });
    expect(w.pageCache).toBeUndefined();
    await w.addDevice({ neurodata_type: "Microscope", name: "Microscope", description: "Test microscope." });
    await w.addRig({ name: "Rig", description: "Test rig.", microscope: "Microscope" });
    await w.addChannel({ name: "Green", description: "Green.", excitation_wavelength_in_nm: 920, emission_wavelength_in_nm: 525, indicator: { label: "GCaMP6f", description: "Calcium indicator." } });
    await w.addImagingSpace({ neurodata_type: "PlanarImagingSpace", name: "Plane", description: "Plane.", dimensions_in_pixels: [512, 512], pixel_size_in_um: [1, 1], illumination_pattern: { neurodata_type: "LineScan", description: "Resonant scanning." } });
    const s = await w.createPlanarSeries({ name: "Frames", description: "Frames.", data_type: "uint16", frame_shape: [512, 512], microscopy_rig: "Rig", microscopy_channel: "Green", imaging_space: "Plane", clock: { timestamps: true } });
    const frames = 40;
    const pixel = (i: number, k: number) => (i * 131 + k * 7) & 0xffff;
    for (let i = 0; i < frames; i++) await w.append(s, Uint16Array.from({ length: 512 * 512 }, (_, k) => pixel(i, k)), [i / 30]);
    const report = await w.close();
    // All but what HDF5 writes in part pages or small pieces: most of the 20 MiB of frames.
    expect(report.directBytes).toBeGreaterThan(0.8 * frames * 512 * 512 * 2);
    const data = dataset(await openRead(path), "acquisition/Frames/data");
    expect(data.shape).toEqual([frames, 512, 512]);
    const values = data.value as Uint16Array;
    let wrong = 0;
    for (let i = 0; i < frames; i++) for (let k = 0; k < 512 * 512; k++) if (values[i * 512 * 512 + k] !== pixel(i, k)) wrong++;
    expect(wrong).toBe(0);
  });
});
