// Benchmark of the NWB writer against ceilings measured on the same disk in the same run, interleaved A B C A B C
// so that a disk or a machine that changes speed mid-run affects all three alike:
//  - raw: the same bytes with fs.writeSync and an fsync every second (rigd's checkpoint cadence), through the page
//    cache and, as rigd writes frame data, around it (O_DIRECT);
//  - h5py: Debian's python3-h5py appending the same frames, one sample per chunk, flush + fsync every second;
//  - rigd: NwbWriter (h5wasm in its worker), frames arriving one per event-loop turn in frame slots as the
//    ZeroMQ driver hands them over, each with its arrival time for the latency figures.
// Shapes: 512² frames (2P), 2048² frames (a camera), 2048² × 16-plane volumes (light sheet); and a 2P series
// with gzip, for its compression ratio and rate beside the 2P acquisition rate.
//
//   npm run bench -- [--shape 2p|camera|volumes|gzip|all] [--scale 1] [--rounds 2] [--dir /tmp] [--gzip 1] [--json]
import { execFileSync } from "node:child_process";
import { rmSync, statSync } from "node:fs";
import { writeRaw } from "./raw-writes.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { FrameSlots } from "../src/frame-slots.js";
import { NwbWriter, type Percentiles } from "../src/nwb/index.js";

const { values: args } = parseArgs({
  options: {
    shape: { type: "string", default: "all" },
    scale: { type: "string", default: "1" },
    rounds: { type: "string", default: "2" },
    dir: { type: "string", default: tmpdir() },
    python: { type: "string", default: "/usr/bin/python3" }, // Debian's, with python3-h5py (.ci/run installs it)
    gzip: { type: "string", default: "1" },
    json: { type: "boolean", default: false },
  },
});

interface Shape {
  name: string;
  what: string;
  size: number;
  depths: number;
  /** Planes written per run. */
  planes: number;
  gzip?: number;
}

const scale = Number(args.scale);
const SHAPES: Shape[] = [
  { name: "2p", what: "512² uint16 frames", size: 512, depths: 1, planes: Math.round(4000 * scale) },
  { name: "camera", what: "2048² uint16 frames", size: 2048, depths: 1, planes: Math.round(400 * scale) },
  { name: "volumes", what: "2048² × 16 uint16 volumes", size: 2048, depths: 16, planes: 16 * Math.max(1, Math.round(25 * scale)) },
  { name: "gzip", what: `512² uint16 frames, gzip ${args.gzip}`, size: 512, depths: 1, planes: Math.round(2000 * scale), gzip: Number(args.gzip) },
];
const chosen = args.shape === "all" ? SHAPES : SHAPES.filter((s) => s.name === args.shape);
if (!chosen.length) throw new Error(`--shape: expected one of ${SHAPES.map((s) => s.name).join(", ")} or all, got ${args.shape}`);

/** 2 channels × 512² uint16 × 30.9 Hz, what a 2P rig's series need written. */
const TWO_P_MB_S = (2 * 512 * 512 * 2 * 30.9) / 1e6;

/** A ring of synthetic frames (a moving gradient plus noise, so gzip has realistic work), made before timing. */
function ring(size: number): Uint16Array[] {
  return Array.from({ length: 32 }, (_, i) => {
    const f = new Uint16Array(size * size);
    for (let k = 0; k < f.length; k++) f[k] = (((k % size) + i) & 1023) + ((Math.imul(k, 2654435761) + i) >>> 28);
    return f;
  });
}

interface Run {
  seconds: number;
  cpuSeconds?: number;
  worstStallMs?: number;
  rssMB?: number;
  fileMB: number;
  latency?: { written: Percentiles | null; durable: Percentiles | null };
}

/** Largest delay of a 10 ms timer while `work` runs (how long the event loop was blocked), and the process's CPU. */
async function watched(work: () => Promise<void>): Promise<{ seconds: number; cpuSeconds: number; worstStallMs: number; rssMB: number }> {
  let last = performance.now();
  let worst = 0;
  let rss = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - 10);
    last = now;
    rss = Math.max(rss, process.memoryUsage.rss());
  }, 10);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  try {
    await work();
    const cpu = process.cpuUsage(cpu0);
    return { seconds: (performance.now() - t0) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6, worstStallMs: worst, rssMB: rss / 1e6 };
  } finally {
    clearInterval(timer);
  }
}

function raw(shape: Shape, frames: Uint16Array[], path: string, direct = false): Run {
  const { seconds } = writeRaw(path, frames, (planes) => planes < shape.planes, direct);
  return { seconds, fileMB: statSync(path).size / 1e6 };
}

const H5PY_SCRIPT = fileURLToPath(new URL("../../bench/h5py-append.py", import.meta.url));

/** h5py's run, or why there is none (no python3 with h5py and numpy here). */
function h5py(shape: Shape, path: string): Run | string {
  try {
    const out = execFileSync(String(args.python), [H5PY_SCRIPT, path, String(shape.size), String(shape.depths), String(shape.planes)], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return { seconds: (JSON.parse(out) as { seconds: number }).seconds, fileMB: statSync(path).size / 1e6 };
  } catch (e) {
    return `h5py did not run: ${(e as Error).message.split("\n")[0]}`;
  }
}

async function rigd(shape: Shape, frames: Uint16Array[], path: string): Promise<Run> {
  const { size, depths } = shape;
  const slots = FrameSlots.forSource(size * size * 2, depths);
  let latency: Run["latency"];
  const w = await NwbWriter.create(path, { session_description: "Writer benchmark.", session_start_time: "2026-11-23T09:00:00Z" }, { overwrite: true });
  const run = await watched(async () => {
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
      ...(shape.gzip ? { storage: { gzipLevel: shape.gzip } } : {}),
    };
    // A frame as the ZeroMQ driver hands it over: copied into a frame slot, waiting while all are in use, and
    // stamped on arrival.
    const arrive = async (i: number) => {
      let slot;
      while (!(slot = slots.acquire(size * size * 2))) await slots.freed(100);
      const f = slots.view(slot, Uint16Array, true);
      f.set(frames[i % frames.length]!);
      return f;
    };
    const now = () => performance.timeOrigin + performance.now();
    // One frame per event-loop turn, as I/O events come: a tight loop of resolved awaits would hide stalls.
    if (depths === 1) {
      await w.addImagingSpace({ neurodata_type: "PlanarImagingSpace", name: "Plane", description: "Imaged plane.", dimensions_in_pixels: [size, size], illumination_pattern: pattern });
      const s = await w.createPlanarSeries({ ...series, name: "PlanarMicroscopySeries", frame_shape: [size, size], imaging_space: "Plane" });
      for (let i = 0; i < shape.planes; i++) {
        await new Promise(setImmediate);
        await w.append(s, await arrive(i), [i / 30.9 + (i % 7) * 1e-5], now());
      }
    } else {
      await w.addImagingSpace({ neurodata_type: "VolumetricImagingSpace", name: "Volume", description: "Imaged volume.", dimensions_in_voxels: [size, size, depths], illumination_pattern: pattern });
      const s = await w.createVolumetricSeries({ ...series, name: "VolumetricMicroscopySeries", frame_shape: [size, size, depths], imaging_space: "Volume" });
      // Each plane goes to the writer as it arrives, as a session hands a camera's planes on.
      for (let v = 0; v < shape.planes / depths; v++) {
        for (let d = 0; d < depths; d++) {
          await new Promise(setImmediate);
          const last = d === depths - 1;
          await w.appendPlane(s, d, await arrive(v * depths + d), last ? v / 6.25 + (v % 7) * 1e-5 : undefined, last ? now() : undefined);
        }
      }
    }
    await w.close();
    latency = w.latency;
  });
  slots.detach();
  return { ...run, fileMB: statSync(path).size / 1e6, latency };
}

interface ShapeResult {
  shape: Shape;
  mb: number;
  raw: Run[];
  rawDirect: Run[];
  h5py: Run[] | string;
  rigd: Run[];
}

async function measure(shape: Shape): Promise<ShapeResult> {
  const frames = ring(shape.size);
  const paths = { raw: join(args.dir!, "rigd-bench.raw"), h5py: join(args.dir!, "rigd-bench-h5py.h5"), rigd: join(args.dir!, "rigd-bench.nwb") };
  const result: ShapeResult = { shape, mb: (shape.planes * shape.size * shape.size * 2) / 1e6, raw: [], rawDirect: [], h5py: [], rigd: [] };
  try {
    for (let round = 0; round < Number(args.rounds); round++) {
      result.raw.push(raw(shape, frames, paths.raw));
      rmSync(paths.raw);
      result.rawDirect.push(raw(shape, frames, paths.raw, true));
      rmSync(paths.raw);
      if (Array.isArray(result.h5py)) {
        const h = h5py(shape, paths.h5py);
        if (typeof h === "string") result.h5py = h;
        else result.h5py.push(h);
        rmSync(paths.h5py, { force: true });
      }
      result.rigd.push(await rigd(shape, frames, paths.rigd));
      rmSync(paths.rigd);
    }
  } finally {
    for (const p of Object.values(paths)) rmSync(p, { force: true });
  }
  return result;
}

const total = (runs: Run[], key: "seconds" | "cpuSeconds") => runs.reduce((n, r) => n + (r[key] ?? 0), 0);
const rate = (r: ShapeResult, runs: Run[]) => (r.mb * runs.length) / total(runs, "seconds");
const worst = (runs: Run[], pick: (r: Run) => number | undefined) => Math.max(...runs.map((r) => pick(r) ?? 0));

const results: ShapeResult[] = [];
for (const shape of chosen) results.push(await measure(shape));

const summary = results.map((r) => {
  const rigdMBs = rate(r, r.rigd);
  const rawMBs = rate(r, r.raw);
  const rawDirectMBs = rate(r, r.rawDirect);
  const h5pyMBs = Array.isArray(r.h5py) ? rate(r, r.h5py) : undefined;
  const planeMB = (r.shape.size * r.shape.size * 2) / 1e6;
  const last = r.rigd[r.rigd.length - 1]!;
  return {
    shape: r.shape.name,
    what: r.shape.what,
    mb_per_run: r.mb,
    rounds: r.rigd.length,
    raw_MB_s: rawMBs,
    raw_direct_MB_s: rawDirectMBs,
    h5py_MB_s: h5pyMBs ?? null,
    h5py_skipped: typeof r.h5py === "string" ? r.h5py : undefined,
    rigd_MB_s: rigdMBs,
    rigd_planes_s: rigdMBs / planeMB,
    vs_raw: rigdMBs / rawMBs,
    vs_raw_direct: rigdMBs / rawDirectMBs,
    vs_h5py: h5pyMBs === undefined ? null : rigdMBs / h5pyMBs,
    rigd_cpu_cores: total(r.rigd, "cpuSeconds") / total(r.rigd, "seconds"),
    worst_stall_ms: worst(r.rigd, (x) => x.worstStallMs),
    peak_rss_MB: worst(r.rigd, (x) => x.rssMB),
    latency_ms: last.latency,
    compression_ratio: r.shape.gzip ? r.mb / last.fileMB : undefined,
    two_p_headroom: r.shape.gzip ? rigdMBs / TWO_P_MB_S : undefined,
  };
});

if (args.json) {
  process.stdout.write(`${JSON.stringify({ results: summary }, null, 1)}\n`);
} else {
  const ms = (p: Percentiles | null | undefined) => (p ? `${p.p50.toFixed(0)} / ${p.p99.toFixed(0)}` : "—");
  const cols: [string, (s: (typeof summary)[number]) => string][] = [
    ["raw + fsync/s (MB/s)", (s) => s.raw_MB_s.toFixed(0)],
    ["raw O_DIRECT (MB/s)", (s) => s.raw_direct_MB_s.toFixed(0)],
    ["h5py (MB/s)", (s) => (s.h5py_MB_s === null ? "skipped" : s.h5py_MB_s.toFixed(0))],
    ["rigd (MB/s)", (s) => s.rigd_MB_s.toFixed(0)],
    ["rigd planes/s", (s) => s.rigd_planes_s.toFixed(1)],
    ["rigd ÷ raw", (s) => s.vs_raw.toFixed(2)],
    ["rigd ÷ raw O_DIRECT", (s) => s.vs_raw_direct.toFixed(2)],
    ["rigd ÷ h5py", (s) => (s.vs_h5py === null ? "—" : s.vs_h5py.toFixed(2))],
    ["rigd CPU (cores)", (s) => s.rigd_cpu_cores.toFixed(2)],
    ["worst loop stall (ms)", (s) => s.worst_stall_ms.toFixed(1)],
    ["peak RSS (MB)", (s) => s.peak_rss_MB.toFixed(0)],
    ["→ written p50/p99 (ms)", (s) => ms(s.latency_ms?.written)],
    ["→ durable p50/p99 (ms)", (s) => ms(s.latency_ms?.durable)],
    ["gzip ratio", (s) => (s.compression_ratio === undefined ? "" : s.compression_ratio.toFixed(2))],
    ["gzip rate ÷ 2P rate", (s) => (s.two_p_headroom === undefined ? "" : `${s.two_p_headroom.toFixed(1)}×`)],
  ];
  const width = 16;
  console.log(`Writer alone, ${args.rounds} rounds interleaved, in ${args.dir} (2P rate: 2 × 512² × 30.9 Hz = ${TWO_P_MB_S.toFixed(1)} MB/s)`);
  for (const s of summary) console.log(`  ${s.shape.padEnd(8)} ${s.what}, ${s.mb_per_run.toFixed(0)} MB a run${s.h5py_skipped ? ` (${s.h5py_skipped})` : ""}`);
  console.log(`${"".padEnd(26)}${summary.map((s) => s.shape.padStart(width)).join("")}`);
  for (const [label, cell] of cols) console.log(`${label.padEnd(26)}${summary.map((s) => cell(s).padStart(width)).join("")}`);
}
