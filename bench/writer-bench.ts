// Benchmark of the NWB writer against a baseline on the same disk in the same run: the same frames
// written with plain fs.writeSync + one fsync (what the disk can take). Prints both side by side with
// their ratio, the main thread's event-loop stalls (h5wasm must not block it) and memory over time.
// With --depths D the frames are the planes of D-plane volumes, appended as a light-sheet camera delivers
// them (appendVolume: the worker interleaves them depth last).
//
//   npm run bench -- [--frames 10000] [--size 512] [--depths 1] [--chunk-mb 64] [--dir /tmp] [--keep] [--gzip 1]
//   npm run bench -- --frames 1600 --size 2048 --depths 16      (sim-lightsheet's volumes at full size)
import { closeSync, fsyncSync, openSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { NwbWriter } from "../src/nwb/index.js";

const { values: args } = parseArgs({
  options: {
    frames: { type: "string", default: "10000" },
    size: { type: "string", default: "512" },
    depths: { type: "string", default: "1" },
    "chunk-mb": { type: "string", default: "64" },
    dir: { type: "string", default: tmpdir() },
    keep: { type: "boolean", default: false },
    gzip: { type: "string" },
  },
});
const frames = Number(args.frames);
const size = Number(args.size);
const depths = Number(args.depths);
if (!(Number.isInteger(depths) && depths >= 1 && frames % depths === 0)) throw new Error(`--depths must be a whole number ≥ 1 that divides --frames (${frames}), got ${args.depths}`);
const frameBytes = size * size * 2;
const totalMB = (frames * frameBytes) / 1e6;

/** A ring of synthetic frames (a moving gradient plus noise, so gzip has realistic work), made before timing. */
const ring = Array.from({ length: 32 }, (_, i) => {
  const f = new Uint16Array(size * size);
  for (let k = 0; k < f.length; k++) f[k] = (((k % size) + i) & 1023) + ((Math.imul(k, 2654435761) + i) >>> 28);
  return f;
});
const makeFrame = (i: number) => ring[i % ring.length]!;

/** Largest delay of a 10 ms timer while `work` runs: how long the event loop was blocked. */
async function withLoopWatch<T>(work: () => Promise<T>): Promise<{ result: T; worstStallMs: number; rssMB: number[] }> {
  let last = performance.now();
  let worst = 0;
  const rssMB: number[] = [];
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - 10);
    last = now;
  }, 10);
  const sampler = setInterval(() => rssMB.push(process.memoryUsage().rss / 1e6), 1000);
  try {
    return { result: await work(), worstStallMs: worst, rssMB };
  } finally {
    clearInterval(timer);
    clearInterval(sampler);
  }
}

async function baseline(path: string): Promise<number> {
  const t0 = performance.now();
  const fd = openSync(path, "w");
  for (let i = 0; i < frames; i++) {
    const f = makeFrame(i);
    writeSync(fd, f, 0, f.byteLength);
  }
  fsyncSync(fd);
  closeSync(fd);
  return (performance.now() - t0) / 1000;
}

async function rigd(path: string): Promise<number> {
  const t0 = performance.now();
  const w = await NwbWriter.create(path, { session_description: "Writer benchmark.", session_start_time: "2026-11-23T09:00:00Z" }, { overwrite: true });
  await w.addDevice({ neurodata_type: "Microscope", name: "Microscope", description: "Benchmark microscope." });
  await w.addRig({ name: "Rig", description: "Benchmark rig.", microscope: "Microscope" });
  await w.addChannel({ name: "Green", description: "Green channel.", excitation_wavelength_in_nm: 920, emission_wavelength_in_nm: 525, indicator: { label: "GCaMP6f", description: "Calcium indicator." } });
  const pattern = { neurodata_type: "LineScan" as const, description: "Resonant scanning." };
  const series = {
    description: "Benchmark frames.",
    data_type: "uint16" as const,
    microscopy_rig: "Rig",
    microscopy_channel: "Green",
    clock: { timestamps: true as const },
    storage: { chunkBytes: Math.min(Number(args["chunk-mb"]) * 1024 * 1024, frameBytes * depths), ...(args.gzip ? { gzipLevel: Number(args.gzip) } : {}) },
  };
  // Frames arrive as I/O events do (one per event-loop turn), each in a fresh buffer that append
  // transfers to the worker; a tight loop of resolved awaits would keep timers out and hide stalls.
  if (depths === 1) {
    await w.addImagingSpace({ neurodata_type: "PlanarImagingSpace", name: "Plane", description: "Imaged plane.", dimensions_in_pixels: [size, size], illumination_pattern: pattern });
    const s = await w.createPlanarSeries({ ...series, name: "PlanarMicroscopySeries", frame_shape: [size, size], imaging_space: "Plane" });
    for (let i = 0; i < frames; i++) {
      await new Promise(setImmediate);
      await w.append(s, makeFrame(i).slice(), [i / 30.9 + (i % 7) * 1e-5]);
    }
  } else {
    await w.addImagingSpace({ neurodata_type: "VolumetricImagingSpace", name: "Volume", description: "Imaged volume.", dimensions_in_voxels: [size, size, depths], illumination_pattern: pattern });
    const s = await w.createVolumetricSeries({ ...series, name: "VolumetricMicroscopySeries", frame_shape: [size, size, depths], imaging_space: "Volume" });
    for (let v = 0; v < frames / depths; v++) {
      const planes: Uint16Array[] = [];
      for (let d = 0; d < depths; d++) {
        await new Promise(setImmediate);
        planes.push(makeFrame(v * depths + d).slice());
      }
      await w.appendVolume(s, planes, v / 6.25 + (v % 7) * 1e-5);
    }
  }
  await w.close();
  return (performance.now() - t0) / 1000;
}

const rawPath = join(args.dir, "rigd-bench-baseline.raw");
const nwbPath = join(args.dir, "rigd-bench.nwb");
const what = depths === 1 ? `${frames} frames of ${size}×${size}` : `${frames / depths} volumes of ${size}×${size}×${depths} (as ${frames} planes)`;
console.log(`${what} uint16 (${totalMB.toFixed(0)} MB) in ${args.dir}${args.gzip ? `, gzip ${args.gzip}` : ""}`);
const base = await withLoopWatch(() => baseline(rawPath));
const ours = await withLoopWatch(() => rigd(nwbPath));
const row = (name: string, b: string, o: string, ratio: string) => console.log(`${name.padEnd(28)} ${b.padStart(12)} ${o.padStart(12)} ${ratio.padStart(8)}`);
row("", "baseline", "rigd", "ratio");
row("seconds", base.result.toFixed(2), ours.result.toFixed(2), (ours.result / base.result).toFixed(2));
row("MB/s", (totalMB / base.result).toFixed(0), (totalMB / ours.result).toFixed(0), (base.result / ours.result).toFixed(2));
row(depths === 1 ? "frames/s" : "planes/s", (frames / base.result).toFixed(1), (frames / ours.result).toFixed(1), (base.result / ours.result).toFixed(2));
row("worst event-loop stall (ms)", base.worstStallMs.toFixed(1), ours.worstStallMs.toFixed(1), "");
row("file size (MB)", (statSync(rawPath).size / 1e6).toFixed(0), (statSync(nwbPath).size / 1e6).toFixed(0), "");
const rss = ours.rssMB;
if (rss.length > 2) {
  row("rigd RSS after 1 s / end (MB)", rss[0]!.toFixed(0), rss[rss.length - 1]!.toFixed(0), (rss[rss.length - 1]! / rss[0]!).toFixed(2));
}
rmSync(rawPath);
if (!args.keep) rmSync(nwbPath);
else console.log(`kept ${nwbPath}`);
