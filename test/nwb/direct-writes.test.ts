// Writes around the page cache (src/nwb/direct-writes.ts) on a real file system: every byte lands where it was
// written, whatever the alignment of the write and of its buffer, mixed with writes and reads through the page
// cache on the same pages; and a real recording's frames take that path and read back exactly.
import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { unwatchDirectWrites, watchDirectWrites } from "../../src/nwb/direct-writes.js";
import { NwbWriter } from "../../src/nwb/index.js";
import { dataset, openRead, tempPath } from "./h5read.js";

describe("writes around the page cache", () => {
  it("whole pages go direct, part pages through the cache; every byte as written, reads in between see it", () => {
    const path = tempPath("direct.bin");
    const stats = watchDirectWrites(path);
    // Opened as h5wasm's NODERAWFS opens it: through the fs module's openSync, with numeric flags.
    const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o644);
    unwatchDirectWrites(path);
    const size = 6 * 2 ** 20;
    const model = new Uint8Array(size);
    // A memory like a WebAssembly heap seen as bytes, the writes' data at odd offsets in it.
    const heap = new Int8Array(new ArrayBuffer(size + 4099), 3);
    let seed = 7;
    for (let i = 0; i < heap.length; i++) heap[i] = (seed = (seed * 1103515245 + 12345) & 0x7fffffff) >> 16;
    const writes: [offset: number, length: number, position: number][] = [
      [0, 100, 0], // metadata-sized: the page cache
      [5, 1_000_001, 100], // unaligned at both ends: its head and tail part pages cached, the rest direct
      [17, 2 ** 20, 2 ** 20 + 4096], // aligned in the file, not in memory
      [40, 300, 2 ** 20 + 4196], // a small write into a page just written direct
      [0, 3 * 2 ** 20, 2 * 2 ** 20 + 123], // over part of both earlier ones, and beyond the end
      [999, 50_000, 10], // a small write over pages the first large one wrote direct
    ];
    let expectedDirect = 0;
    for (const [offset, length, position] of writes) {
      expect(fs.writeSync(fd, heap, offset, length, position)).toBe(length);
      model.set(new Uint8Array(heap.buffer, heap.byteOffset + offset, length), position);
      const head = (4096 - (position % 4096)) % 4096;
      const body = Math.floor((length - head) / 4096) * 4096;
      if (body >= 256 * 1024) expectedDirect += body;
      // A read through the page cache right after sees what was just written.
      const back = Buffer.alloc(length);
      fs.readSync(fd, back, 0, length, position);
      expect(back.equals(Buffer.from(model.buffer, position, length))).toBe(true);
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    const end = Math.max(...writes.map(([, length, position]) => position + length));
    expect(fs.readFileSync(path).equals(Buffer.from(model.buffer, 0, end))).toBe(true);
    expect(stats.refused).toBeUndefined();
    expect(stats.directBytes).toBe(expectedDirect);
    expect(expectedDirect).toBeGreaterThan(4 * 2 ** 20);
    // Another file, not watched, is written as before.
    const other = tempPath("cached.bin");
    const ofd = fs.openSync(other, "w");
    fs.writeSync(ofd, heap, 0, 2 ** 20, 0);
    fs.closeSync(ofd);
    expect(stats.directBytes).toBe(expectedDirect);
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
