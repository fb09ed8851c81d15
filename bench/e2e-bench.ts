// End-to-end benchmark (issue 9, `--e2e`): the real pipeline, nothing mocked. A producer in a process of its own
// (bench/producer.ts) pushes frames over ZeroMQ on tcp loopback to a real `rigd acquire --json` child, which
// records them into a real file on the disk under test. For each shape it
//   1. measures the disk's raw ceiling in the same run: fs.writeSync of the same frame bytes, an fsync every
//      second (rigd checkpoints every second), for a few seconds right before each run (A B A B: this disk's
//      speed swings between runs, so each run has its own ceiling and the ratio uses their median);
//   2. steps the producer's rate up (×1.25 from 20 planes/s) until a rate loses frames (down instead, if 20
//      loses already); the highest rate without loss is the result, beside the ceiling;
//   3. confirms that rate for --confirm-seconds, then runs twice that rate to show that losses are counted
//      (every counter the producer used is in the file or counted lost by rigd), RSS stays bounded and rigd
//      keeps printing its status each second;
// and finally measures rigd's CPU on a 2P load (2 channels of 512² at 30.9 Hz). rigd's CPU is its own process's
// (all threads, /proc/PID/stat) over the producer's sending, in % of one core; and for runs of 40 s or more also
// from WARM_S on, once V8 has compiled the frame path (~0.5 s of CPU, 1–2 % of a 30 s run): a rig records for
// minutes to hours, so that is the figure its users live with. Each run's files are deleted
// after it.
//
//   npm run bench -- --e2e [--shape frames|volumes|both|none] [--step-seconds 10]
//       [--confirm-seconds 60] [--overload-seconds 15] [--two-p-seconds 90] [--start-rate 20] [--step-factor 1.25]
//       [--dir DIR] [--cpu-prof DIR] [--quick] [--json]
//   --shape none runs the 2P measurement only; --quick is a smoke run with short steps.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { writeRaw } from "./raw-writes.js";
import { createServer } from "node:net";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import type { SessionStatus } from "../src/acquisition/session.js";
import { LINGER_MS, pixelBuffers, type ProducerOptions, type ProducerSummary } from "./producer.js";

const { values: args } = parseArgs({
  options: {
    shape: { type: "string", default: "both" },
    "step-seconds": { type: "string" },
    "confirm-seconds": { type: "string" },
    "overload-seconds": { type: "string" },
    "two-p-seconds": { type: "string" },
    "start-rate": { type: "string", default: "20" },
    "step-factor": { type: "string" },
    dir: { type: "string", default: tmpdir() },
    /** Where rigd writes a CPU profile per thread (node --cpu-prof), to see where its CPU goes. */
    "cpu-prof": { type: "string" },
    quick: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});

const number = (name: string, text: string | undefined, fallback: number, min: number): number => {
  const n = text === undefined ? fallback : Number(text);
  if (!(Number.isFinite(n) && n >= min)) throw new Error(`--${name}: expected a number ≥ ${min}, got ${text}`);
  return n;
};
const quick = args.quick;
const settings = {
  step_s: number("step-seconds", args["step-seconds"], quick ? 3 : 10, 1),
  confirm_s: number("confirm-seconds", args["confirm-seconds"], quick ? 6 : 60, 1),
  overload_s: number("overload-seconds", args["overload-seconds"], quick ? 4 : 15, 1),
  two_p_s: number("two-p-seconds", args["two-p-seconds"], quick ? 8 : 90, 1),
  start_rate: number("start-rate", args["start-rate"], 20, 0.1),
  step_factor: number("step-factor", args["step-factor"], quick ? 2 : 1.25, 1.01),
  ceiling_s: quick ? 1 : 3,
};
const SHAPES = ["frames", "volumes"] as const;
type ShapeName = (typeof SHAPES)[number];
const chosen: ShapeName[] = args.shape === "both" ? [...SHAPES] : args.shape === "none" ? [] : [args.shape as ShapeName];
if (!chosen.every((s) => SHAPES.includes(s))) throw new Error(`--shape: expected frames, volumes, both or none, got ${args.shape}`);

const root = fileURLToPath(new URL("../../", import.meta.url));
const rigdMain = join(root, "dist/src/cli/main.js");
const producerMain = join(root, "dist/bench/producer.js");
const sessionFile = join(root, "examples/session.yaml");
/** Left free on the disk under test whatever a run would write (rigd itself stops at 100 MB free). */
const RESERVE_BYTES = 2 * 2 ** 30;
/** Seconds after the producer's start from which a long run's CPU is also given (warm_cpu_percent). */
const WARM_S = 20;
const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

interface Shape {
  name: ShapeName | "2p";
  height: number;
  width: number;
  planes: number;
  channels: number;
  /** writer.chunk_bytes: a whole 2048² plane per chunk, as the ceiling writes whole frames; sim-2p's 4 MiB for 2P. */
  chunkBytes: number;
}
const SHAPE: Record<Shape["name"], Shape> = {
  frames: { name: "frames", height: 2048, width: 2048, planes: 1, channels: 1, chunkBytes: 8 * 2 ** 20 },
  volumes: { name: "volumes", height: 2048, width: 2048, planes: 16, channels: 1, chunkBytes: 8 * 2 ** 20 },
  "2p": { name: "2p", height: 512, width: 512, planes: 1, channels: 2, chunkBytes: 4 * 2 ** 20 },
};
const planeBytes = (s: Shape) => s.height * s.width * 2;

const log = (line: string) => process.stderr.write(`${line}\n`);
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- the ceiling

/** Through the page cache (the issue's ceiling), and around it with O_DIRECT (what the disk itself takes). */
interface Ceiling {
  MB_per_s: number;
  planes_per_s: number;
  direct_MB_per_s: number;
  direct_planes_per_s: number;
}

/** Raw sequential writes of the same frame bytes with an fsync every second, as rigd's checkpoints, and at the end. */
function rawCeiling(shape: Shape, seconds: number): Ceiling {
  const path = join(args.dir, `rigd-e2e-ceiling-${process.pid}.raw`);
  const frames = pixelBuffers(4, shape.height, shape.width);
  const measure = (direct: boolean) => {
    try {
      const { planes, bytes, seconds: s } = writeRaw(path, frames, (_, ms) => ms < seconds * 1000, direct);
      return { MB: round(bytes / 1e6 / s, 0), planes: round(planes / s) };
    } finally {
      rmSync(path, { force: true });
    }
  };
  const cached = measure(false);
  const direct = measure(true);
  return { MB_per_s: cached.MB, planes_per_s: cached.planes, direct_MB_per_s: direct.MB, direct_planes_per_s: direct.planes };
}

// ---------------------------------------------------------------- one run of rigd acquire fed by the producer

/** A rig profile with the frame source alone (no serial device: the schema needs none), bound to `address`. */
function rigProfile(shape: Shape, planeRate: number, address: string): string {
  const volumetric = shape.planes > 1;
  const channels = ["Green", "Red"].slice(0, shape.channels);
  const profile = {
    rig: {
      description: "Benchmark rig: frames from a producer process",
      microscope: { name: "BenchMicroscope", description: "Benchmark microscope" },
      photodetectors: channels.map((c) => ({ name: `Detector${c}`, description: `Detector of the ${c} channel` })),
      indicators: [{ name: "GCaMP6s", label: "GCaMP6s", description: "Calcium indicator" }],
    },
    channels: channels.map((c, i) => ({
      name: c,
      description: `${c} channel`,
      indicator: "GCaMP6s",
      excitation_wavelength_in_nm: 920,
      emission_wavelength_in_nm: 510 + 71 * i,
      photodetector: `Detector${c}`,
    })),
    imaging_spaces: [
      volumetric
        ? {
            neurodata_type: "VolumetricImagingSpace",
            name: "Space",
            description: "Imaged volume",
            voxel_size_in_um: [0.325, 0.325, 5],
            dimensions_in_voxels: [shape.width, shape.height, shape.planes],
            illumination_pattern: { neurodata_type: "PlaneAcquisition", description: "Light sheet" },
          }
        : {
            neurodata_type: "PlanarImagingSpace",
            name: "Space",
            description: "Imaged plane",
            pixel_size_in_um: [1, 1],
            dimensions_in_pixels: [shape.width, shape.height],
            illumination_pattern: { neurodata_type: "LineScan", description: "Resonant scanning" },
          },
    ],
    recording: {
      frame_sources: [
        {
          name: "BenchFrames",
          frame_shape: [shape.height, shape.width],
          channel_count: shape.channels,
          plane_count: shape.planes,
          data_type: "uint16",
          frame_rate_in_Hz: planeRate,
        },
      ],
      series: channels.map((c, i) =>
        volumetric
          ? { neurodata_type: "VolumetricMicroscopySeries", name: `VolumetricMicroscopySeries${c}`, description: `${c} volumes`, microscopy_channel: c, volumetric_imaging_space: "Space", frames: { source: "BenchFrames", channel: i } }
          : { neurodata_type: "PlanarMicroscopySeries", name: `PlanarMicroscopySeries${c}`, description: `${c} frames`, microscopy_channel: c, planar_imaging_space: "Space", frames: { source: "BenchFrames", channel: i } },
      ),
    },
    bindings: [{ driver: "zmq-frames", device: "BenchFrames", address }],
    // At these rates any disk runs out within 10 minutes: the warning would fire every run and say nothing.
    writer: { checkpoint_interval_ms: 1000, chunk_bytes: shape.chunkBytes, compression: "none", warn_below_free_minutes: 0 },
  };
  return stringify(profile);
}

/** A TCP port free right now on the loopback. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** utime + stime of a process, all its threads, in seconds; undefined once it has gone. */
function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** CPU time the whole machine spent busy (not idle, not waiting for I/O), all cores, in seconds. */
function machineBusySeconds(): number {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  return (user! + nice! + system! + irq! + softirq! + steal!) / CLK_TCK;
}

/** Peak resident memory so far (VmHWM), MB; undefined once the process has gone. */
function peakRssMB(pid: number): number | undefined {
  try {
    const kB = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kB === undefined ? undefined : (Number(kB) * 1024) / 1e6;
  } catch {
    return undefined;
  }
}

/** The event record of a recorded file, as `rigd inspect --json` reads it; empty when there is no file. */
function fileEvents(out: string): string[] {
  if (!existsSync(out)) return [];
  const inspect = spawnSync(process.execPath, [rigdMain, "inspect", out, "--json"], { encoding: "utf8" });
  if (inspect.status !== 0) return [`rigd inspect failed: ${inspect.stderr.trim().split("\n").pop() ?? ""}`];
  const { events } = JSON.parse(inspect.stdout) as { events: { time_s: number; text: string }[] };
  return events.slice(0, 50).map((e) => `${e.time_s.toFixed(3)} s: ${e.text}`);
}

interface Run {
  label: string;
  /** The raw ceiling measured right before this run. */
  ceiling?: Ceiling;
  /** Planes (frames) per second of each channel offered by the producer, and the run's planned length. */
  rate: number;
  seconds: number;
  notes: string[];
  producer?: ProducerSummary;
  /** Frames (planes) in the file, every series. */
  in_file: number;
  /** Frames (planes) rigd counted lost, in all and by cause. */
  dropped: number;
  losses: Record<string, number>;
  frames_before_start: number;
  /** Producer's counters used − (in the file + counted lost): 0 when every frame is accounted for. */
  unaccounted?: number;
  cpu_percent?: number;
  /** rigd's CPU from WARM_S after the producer's start to its end (runs of 2 × WARM_S or more), % of one core. */
  warm_cpu_percent?: number;
  /**
   * CPU the rest of the machine used meanwhile (other processes, kernel threads), % of one core: on 2 cores
   * shared by rigd and the producer, anything else running makes the figures of that run worthless.
   */
  other_cpu_percent?: number;
  /** VmHWM of rigd, and the largest rss_MB of its status lines. */
  peak_rss_MB?: number;
  status_rss_MB?: number;
  max_queue_MB: number;
  status_lines: number;
  max_status_gap_s?: number;
  latency_ms: SessionStatus["latency_ms"] | null;
  /** The file's event record ("time s: kind [source] message"), the first 50: what rigd saw go wrong. */
  events: string[];
  exit_code: number | null;
  error?: string;
}

/** Drops, a failed send or a failed run: the rate was not sustained. */
const lost = (r: Run) => r.error !== undefined || r.dropped > 0 || (r.producer?.failed ?? 0) > 0;

async function run(label: string, shape: Shape, rate: number, plannedSeconds: number): Promise<Run> {
  const result: Run = { label, rate: round(rate), seconds: plannedSeconds, notes: [], in_file: 0, dropped: 0, losses: {}, frames_before_start: 0, max_queue_MB: 0, status_lines: 0, latency_ms: null, events: [], exit_code: null };
  // The whole run must fit on the disk beside a reserve: shortened if not, and said so.
  const { bavail, bsize } = statfsSync(args.dir);
  const bytesPerSecond = rate * shape.channels * planeBytes(shape);
  const fits = Math.floor((bavail * bsize - RESERVE_BYTES) / bytesPerSecond);
  const seconds = Math.min(plannedSeconds, fits);
  if (seconds < plannedSeconds) result.notes.push(`shortened to ${seconds} s: ${(bavail * bsize / 1e9).toFixed(0)} GB free in ${args.dir}`);
  if (seconds < 1) return { ...result, error: "not enough free space" };
  result.seconds = seconds;

  const dir = mkdtempSync(join(args.dir, "rigd-e2e-"));
  try {
    const address = `tcp://127.0.0.1:${await freePort()}`;
    const profile = join(dir, "profile.yaml");
    const out = join(dir, "e2e.nwb");
    writeFileSync(profile, rigProfile(shape, rate, address));
    // --duration is only a cap: rigd is stopped (SIGINT) once the producer has finished and rigd has written
    // everything, so that every frame sent is received and counted, whatever the producer's pace.
    const rigd = spawn(process.execPath, [...(args["cpu-prof"] ? ["--cpu-prof", `--cpu-prof-dir=${args["cpu-prof"]}`] : []), rigdMain, "acquire", "--profile", profile, "--session", sessionFile, "--out", out, "--force", "--json", "--duration", `${seconds + 60}s`], { stdio: ["ignore", "pipe", "pipe"] });
    const options: ProducerOptions = { address, rate: rate / shape.planes, seconds, channels: shape.channels, planes: shape.planes, height: shape.height, width: shape.width, startWhenExists: out };
    const producer = spawn(process.execPath, [producerMain, JSON.stringify(options)], { stdio: ["ignore", "pipe", "pipe"] });

    let stderr = "";
    rigd.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    let producerErr = "";
    producer.stderr.on("data", (d: Buffer) => (producerErr += d.toString()));
    const statuses: { at: number; status: SessionStatus }[] = [];
    let summary: { status: SessionStatus; error?: string } | undefined;
    createInterface({ input: rigd.stdout }).on("line", (line) => {
      if (!line.startsWith("{")) return;
      const parsed = JSON.parse(line) as SessionStatus | { summary: { status: SessionStatus; error?: string } };
      if ("summary" in parsed) summary = parsed.summary;
      else statuses.push({ at: performance.now(), status: parsed });
    });
    let cpuStart: { at: number; cpu: number | undefined; machine: number } | undefined;
    let cpuWarm: { at: number; cpu: number | undefined } | undefined;
    let warmWatch: NodeJS.Timeout | undefined;
    let producerDone = 0;
    createInterface({ input: producer.stdout }).on("line", (line) => {
      const parsed = JSON.parse(line) as { started_ms: number } | ProducerSummary;
      if ("attempted" in parsed) {
        result.producer = parsed;
        producerDone = performance.now();
      } else {
        cpuStart = { at: performance.now(), cpu: cpuSeconds(rigd.pid!), machine: machineBusySeconds() };
        if (seconds >= 2 * WARM_S) warmWatch = setTimeout(() => (cpuWarm = { at: performance.now(), cpu: cpuSeconds(rigd.pid!) }), WARM_S * 1000);
      }
    });
    let peak: number | undefined;
    const rssWatch = setInterval(() => (peak = peakRssMB(rigd.pid!) ?? peak), 250);
    const rigdExit = new Promise<number | null>((r) => rigd.once("close", (code) => r(code)));
    const producerExit = new Promise<number | null>((r) => producer.once("close", (code) => r(code)));

    // The producer ends (its queue delivered: linger), or rigd ends first, having failed.
    const first = await Promise.race([producerExit.then(() => "producer" as const), rigdExit.then(() => "rigd" as const)]);
    if (first === "rigd") producer.kill("SIGKILL");
    else {
      if (producerDone && performance.now() - producerDone > LINGER_MS - 1000) result.notes.push("the producer's linger expired: frames it had sent may have been discarded undelivered");
      if (cpuStart) {
        const [cpuEnd, machineEnd, wall] = [cpuSeconds(rigd.pid!), machineBusySeconds(), (performance.now() - cpuStart.at) / 1000];
        if (cpuStart.cpu !== undefined && cpuEnd !== undefined) {
          const rigdCpu = cpuEnd - cpuStart.cpu;
          const producerCpu = result.producer ? (result.producer.cpu_percent / 100) * result.producer.elapsed_s : 0;
          result.cpu_percent = round((rigdCpu / wall) * 100);
          result.other_cpu_percent = round(Math.max(0, (machineEnd - cpuStart.machine - rigdCpu - producerCpu) / wall) * 100);
          if (cpuWarm?.cpu !== undefined) result.warm_cpu_percent = round(((cpuEnd - cpuWarm.cpu) / ((performance.now() - cpuWarm.at) / 1000)) * 100);
        }
        // Stop once a status line after the producer's end shows nothing queued and no sample added since the one before.
        const after = statuses.length;
        const until = performance.now() + 15_000;
        const settled = () => {
          const [a, b] = statuses.slice(-2).map((s) => s.status);
          return statuses.length >= after + 2 && a !== undefined && b !== undefined && b.queue_bytes === 0 && JSON.stringify(a.samples) === JSON.stringify(b.samples);
        };
        while (!settled() && rigd.exitCode === null && performance.now() < until) await sleep(100);
        if (!settled()) result.notes.push("rigd still writing 15 s after the producer ended");
      }
      rigd.kill("SIGINT");
    }
    result.exit_code = await rigdExit;
    await producerExit;
    clearInterval(rssWatch);
    clearTimeout(warmWatch);

    // Node's warnings aside (zeromq.js warns that it waits for queued messages at exit, as asked by linger).
    const producerError = producerErr.split("\n").filter((l) => l.trim() && !l.startsWith("(node:")).pop();
    if (producerError) result.notes.push(`producer: ${producerError}`);
    result.events = fileEvents(out);
    // Faults (a restart, frames dated after they arrived) bear on the counting: shown with the run.
    result.notes.push(...result.events.filter((e) => / fault \[/.test(e)).slice(0, 3));
    // A crash ends its stderr with the stack and "Node.js v20…": its first error line says more.
    const stderrLines = stderr.split("\n").filter((l) => l.trim());
    const why = stderrLines.find((l) => /Error|rigd acquire:/.test(l)) ?? stderrLines.pop() ?? "(nothing on stderr)";
    if (!summary) return { ...result, error: `rigd acquire exited ${result.exit_code} without a summary: ${why.trim()}` };
    if (summary.error) result.error = summary.error;
    const st = summary.status;
    result.in_file = Object.values(st.samples).reduce((n, k) => n + k, 0) * shape.planes;
    result.dropped = st.dropped;
    for (const l of Object.values(st.losses)) for (const [cause, n] of Object.entries(l.frames)) if (n) result.losses[cause] = (result.losses[cause] ?? 0) + n;
    result.frames_before_start = st.frames_before_start;
    if (result.producer) result.unaccounted = result.producer.attempted - result.in_file - result.dropped;
    result.latency_ms = st.latency_ms;
    result.peak_rss_MB = peak === undefined ? undefined : round(peak, 0);
    result.status_rss_MB = statuses.length ? Math.max(...statuses.map((s) => s.status.rss_MB)) : undefined;
    result.max_queue_MB = round(Math.max(0, ...statuses.map((s) => s.status.queue_bytes)) / 1e6);
    result.status_lines = statuses.length;
    const gaps = statuses.slice(1).map((s, i) => (s.at - statuses[i]!.at) / 1000);
    result.max_status_gap_s = gaps.length ? round(Math.max(...gaps), 2) : undefined;
    if (result.producer && result.producer.achieved_per_s < 0.97 * rate * shape.channels) {
      result.notes.push(`producer behind: ${result.producer.achieved_per_s.toFixed(1)} messages/s of ${(rate * shape.channels).toFixed(1)}`);
    }
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- the steps, per shape

interface ShapeResult {
  shape: Shape;
  /** Median of the ceilings measured before each run of the shape, and their range. */
  ceiling: Ceiling;
  ceiling_range_MB_per_s: [number, number];
  steps: Run[];
  /** Highest stepped rate without loss (planes/s), and its ratio to the median ceilings. */
  best_rate: number | null;
  ratio_to_ceiling: number | null;
  ratio_to_direct_ceiling: number | null;
  /** True when no rate up to twice the direct ceiling lost anything: the stepping stopped there. */
  capped: boolean;
  confirm?: Run;
  overload?: Run;
}

const progress = (r: Run) =>
  log(`  ${r.label} ${r.rate}/s × ${r.seconds} s (raw ceiling ${r.ceiling?.planes_per_s ?? "-"}/s, O_DIRECT ${r.ceiling?.direct_planes_per_s ?? "-"}/s): sent ${r.producer?.sent ?? "?"}, failed ${r.producer?.failed ?? "?"}, in file ${r.in_file}, dropped ${r.dropped}, cpu ${r.cpu_percent ?? "?"} %, peak RSS ${r.peak_rss_MB ?? "?"} MB${r.error ? `, ERROR ${r.error}` : ""}${r.notes.length ? ` (${r.notes.join("; ")})` : ""}`);

/** A run with the raw ceiling measured right before it, on the same disk. */
async function runBesideCeiling(label: string, shape: Shape, rate: number, seconds: number): Promise<Run & { ceiling: Ceiling }> {
  const ceiling = rawCeiling(shape, settings.ceiling_s);
  const r = { ...(await run(label, shape, rate, seconds)), ceiling };
  progress(r);
  return r;
}

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function measureShape(shape: Shape): Promise<ShapeResult> {
  log(`${shape.name}: ${shape.height}×${shape.width} uint16${shape.planes > 1 ? `, ${shape.planes} planes per volume` : ""}`);
  const steps: Run[] = [];
  const step = async (rate: number) => {
    const r = await runBesideCeiling("step", shape, rate, settings.step_s);
    steps.push(r);
    return r;
  };
  let rate = settings.start_rate;
  let r = await step(rate);
  let best: number | null = null;
  let capped = false;
  if (lost(r)) {
    // The start rate loses already: step down until a rate loses nothing, to no less than an eighth of it.
    while (lost(r) && rate / settings.step_factor >= settings.start_rate / 8) r = await step((rate /= settings.step_factor));
    if (!lost(r)) best = rate;
  } else {
    // Up until a rate loses. No loss even at twice what the disk takes raw: rigd is not the limit; stop there.
    best = rate;
    while (!lost(r)) {
      if (rate > 2 * Math.max(r.ceiling.planes_per_s, r.ceiling.direct_planes_per_s)) {
        capped = true;
        break;
      }
      r = await step((rate *= settings.step_factor));
      if (!lost(r)) best = rate;
    }
  }
  const confirm = best === null ? undefined : await runBesideCeiling("confirm", shape, best, settings.confirm_s);
  const overload = best === null ? undefined : await runBesideCeiling("2× rate", shape, 2 * best, settings.overload_s);
  const ceilings = [...steps, confirm, overload].flatMap((x) => (x?.ceiling ? [x.ceiling] : []));
  const ceiling = {
    MB_per_s: round(median(ceilings.map((c) => c.MB_per_s)), 0),
    planes_per_s: round(median(ceilings.map((c) => c.planes_per_s))),
    direct_MB_per_s: round(median(ceilings.map((c) => c.direct_MB_per_s)), 0),
    direct_planes_per_s: round(median(ceilings.map((c) => c.direct_planes_per_s))),
  };
  return {
    shape,
    ceiling,
    ceiling_range_MB_per_s: [Math.min(...ceilings.map((c) => c.MB_per_s)), Math.max(...ceilings.map((c) => c.MB_per_s))],
    steps,
    best_rate: best === null ? null : round(best),
    ratio_to_ceiling: best === null ? null : round(best / ceiling.planes_per_s, 2),
    ratio_to_direct_ceiling: best === null ? null : round(best / ceiling.direct_planes_per_s, 2),
    capped,
    ...(confirm ? { confirm } : {}),
    ...(overload ? { overload } : {}),
  };
}

// ---------------------------------------------------------------- output

const cell = (x: number | string | undefined | null, width: number) => String(x ?? "-").padStart(width);
const pct = (p: { p50: number; p99: number } | null | undefined) => (p ? `${p.p50.toFixed(0)}/${p.p99.toFixed(0)}` : "-");
const HEADER = ["run", "rate/s", "raw/s", "direct/s", "s", "sent", "failed", "in file", "dropped", "unacct", "cpu %", "RSS MB", "queue MB", "status", "gap s", "written ms", "durable ms", "prod/s", "prod %", "other %"];
const WIDTHS = [8, 7, 6, 8, 4, 7, 7, 8, 8, 7, 6, 7, 9, 7, 6, 11, 11, 7, 7, 8];

function row(r: Run): string {
  const values = [
    r.label,
    r.rate,
    r.ceiling?.planes_per_s,
    r.ceiling?.direct_planes_per_s,
    r.seconds,
    r.producer?.sent,
    r.producer?.failed,
    r.in_file,
    r.dropped,
    r.unaccounted,
    r.cpu_percent,
    r.peak_rss_MB,
    r.max_queue_MB,
    r.status_lines,
    r.max_status_gap_s,
    pct(r.latency_ms?.written),
    pct(r.latency_ms?.durable),
    r.producer ? round(r.producer.achieved_per_s) : undefined,
    r.producer ? round(r.producer.cpu_percent) : undefined,
    r.other_cpu_percent,
  ];
  const extra = [r.error ? `ERROR: ${r.error}` : "", Object.keys(r.losses).length ? `losses ${Object.entries(r.losses).map(([c, n]) => `${c} ${n}`).join(", ")}` : "", r.frames_before_start ? `before start ${r.frames_before_start}` : "", ...r.notes].filter(Boolean);
  return `${values.map((v, i) => (i === 0 ? String(v).padEnd(WIDTHS[0]!) : cell(v, WIDTHS[i]!))).join(" ")}${extra.length ? `  ${extra.join("; ")}` : ""}`;
}

function table(runs: Run[]): string {
  return [HEADER.map((h, i) => (i === 0 ? h.padEnd(WIDTHS[0]!) : cell(h, WIDTHS[i]!))).join(" "), ...runs.map(row)].join("\n");
}

const verdict = (r: Run | undefined, what: string) => {
  if (!r) return `${what}: not run`;
  const counted = r.unaccounted === 0 ? "every frame sent is in the file or counted lost" : `${r.unaccounted ?? "?"} frames unaccounted for`;
  return `${what}: ${r.dropped} dropped (producer failed ${r.producer?.failed ?? "?"}), ${counted}; peak RSS ${r.peak_rss_MB ?? "?"} MB; ${r.status_lines} status lines, longest gap ${r.max_status_gap_s ?? "?"} s`;
};

/** Above this, other processes took enough of the 2 cores to make a run's figures say little about rigd. */
const BUSY_MACHINE_PERCENT = 10;

function report(shapes: ShapeResult[], twoP: Run, seconds: number): string {
  const lines: string[] = [];
  const runs = [...shapes.flatMap((s) => [...s.steps, s.confirm, s.overload]), twoP].filter((r): r is Run => r !== undefined);
  const busiest = Math.max(0, ...runs.map((r) => r.other_cpu_percent ?? 0));
  if (busiest > BUSY_MACHINE_PERCENT) lines.push(`WARNING: other processes used up to ${busiest} % of a core during these runs (column other %): the figures of those runs do not measure rigd alone`);
  for (const s of shapes) {
    const sh = s.shape;
    lines.push(`\n== ${sh.name}: ${sh.height}×${sh.width} uint16${sh.planes > 1 ? `, ${sh.planes} planes per volume` : ""} (rates in planes/s; frames counted as planes)`);
    lines.push(`raw ceiling (writeSync + fsync every 1 s, before each run): median ${s.ceiling.MB_per_s} MB/s = ${s.ceiling.planes_per_s} planes/s, ${s.ceiling_range_MB_per_s.join("–")} MB/s; around the page cache (O_DIRECT, as rigd writes frames): median ${s.ceiling.direct_MB_per_s} MB/s = ${s.ceiling.direct_planes_per_s} planes/s`);
    lines.push(table([...s.steps, ...(s.confirm ? [s.confirm] : []), ...(s.overload ? [s.overload] : [])]));
    lines.push(
      s.best_rate === null
        ? `highest rate without loss: none, down to ${s.steps[s.steps.length - 1]?.rate}/s`
        : `highest rate without loss: ${s.best_rate} planes/s = ${round((s.best_rate * planeBytes(sh)) / 1e6, 0)} MB/s, ${s.ratio_to_ceiling} × the median raw ceiling, ${s.ratio_to_direct_ceiling} × the median O_DIRECT ceiling${s.capped ? "; stepping stopped above twice the ceiling without a loss" : ""}`,
    );
    lines.push(verdict(s.confirm, `confirmed for ${settings.confirm_s} s`));
    lines.push(verdict(s.overload, `at twice the rate for ${settings.overload_s} s`));
  }
  lines.push(`\n== 2P: 2 channels × 512×512 uint16 at 30.9 Hz for ${twoP.seconds} s`);
  lines.push(table([twoP]));
  // The goal is for a rig recording: the first seconds, while V8 compiles the frame path, are given apart.
  const cpu =
    twoP.warm_cpu_percent === undefined
      ? `${twoP.cpu_percent ?? "?"} % of one core over the run (goal ≤ 10 % while recording, measured from ${WARM_S} s on in runs of ${2 * WARM_S} s or more)`
      : `${twoP.warm_cpu_percent} % of one core from ${WARM_S} s on (goal ≤ 10 %); ${twoP.cpu_percent ?? "?"} % over the whole run, V8 compiling the frame path in its first seconds`;
  lines.push(`rigd CPU ${cpu}; peak RSS ${twoP.peak_rss_MB ?? "?"} MB (goal ≤ 300 MB)`);
  lines.push(`\ncolumns: rate per channel; raw/s, direct/s = the raw ceiling measured right before the run, through the page cache and around it (O_DIRECT), planes/s (- for the 2P run, which measures CPU, not the disk); s = the run's length; sent/failed by the producer; in file and dropped as rigd counts them; unacct = producer's counters − in file − dropped; cpu = rigd's own, % of one core while the producer sent; RSS = rigd's VmHWM; queue = largest queue_bytes in status; status = JSON status lines, gap = longest between two; written/durable = arrival → in the file / fsynced, p50/p99 ms; prod/s = messages/s the producer achieved (all channels), prod % = its CPU, % of one core; other % = CPU of everything else on the machine meanwhile (should be near 0)`);
  lines.push(`${cpus().length} cores, Node ${process.version}, files in ${args.dir}; took ${(seconds / 60).toFixed(1)} min`);
  return lines.join("\n");
}

// ---------------------------------------------------------------- main

for (const f of [rigdMain, producerMain]) if (!existsSync(f)) throw new Error(`${f} is missing: run npm run build first`);
const started = performance.now();
const shapes: ShapeResult[] = [];
for (const name of chosen) shapes.push(await measureShape(SHAPE[name]));
log("2p: 2 channels × 512×512 uint16 at 30.9 Hz");
const twoP = await run("2p", SHAPE["2p"], 30.9, settings.two_p_s);
progress(twoP);
const seconds = (performance.now() - started) / 1000;
if (args.json) {
  process.stdout.write(`${JSON.stringify({ settings, cores: cpus().length, node: process.version, dir: args.dir, shapes: shapes.map((s) => ({ ...s, shape: s.shape.name })), two_p: twoP, seconds: round(seconds) })}\n`);
} else process.stdout.write(`${report(shapes, twoP, seconds)}\n`);
