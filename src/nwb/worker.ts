// The writer's worker thread: h5wasm is synchronous, so the file lives here and the main thread's
// event loop (serial ports, ZeroMQ) never waits on HDF5. Requests run in arrival order; a checkpoint's fsync
// runs on libuv's thread pool while appends go on, so a frame never waits behind a slow disk's fsync.
// The first failed write stops the writer for good: the file is cut back to its last checkpoint and
// closed at once, the main thread is told, and every later request is answered with that failure.
import { createHistogram, type RecordableHistogram } from "node:perf_hooks";
import { parentPort } from "node:worker_threads";
import { type CheckpointReport, NwbFile } from "./nwb-file.js";
import { NwbInputError } from "./errors.js";
import { describeCause, isHdf5Stack, WriteError, type WriteFailure } from "./failure.js";
import { type Append, APPENDS_DONE, type Call, type FileMethod, type Latency, type Percentiles, type Request, type Response, type Samples, WAITING_FOR_ROOM } from "./protocol.js";
import { ELEMENT_TYPES, type NumericArray } from "./element-types.js";
import { FrameSlots } from "../frame-slots.js";

if (!parentPort) throw new Error("worker.ts runs as a worker thread of NwbWriter");
const port = parentPort;

let file: NwbFile | undefined;
let failure: WriteFailure | undefined;
/** [APPENDS_DONE, WAITING_FOR_ROOM], shared with the main thread. */
let progress: Int32Array<ArrayBufferLike> = new Int32Array(2);
/** What a crash may lose at most: a sample must be durable (flushed and fsynced) within it. */
let checkpointIntervalMs = 1000;
/**
 * Checkpoints begin this many times per interval, each once the last one's fsync is done: most of the interval is
 * left for the fsync, which takes 0.1–0.5 s on a busy disk. With one per interval, a sample written just after a
 * checkpoint began was durable only after the next one's fsync: 1.3 s at p99 (2P rate, busy disk); now 0.55 s.
 */
const CHECKPOINTS_PER_INTERVAL = 4;
/**
 * A crash must lose at most about a second, yet the page cache takes writes several times faster than a slow
 * disk writes them out: unchecked, checkpoints' fsyncs then took seconds (arrival → durable p99 2.5–4.4 s at the
 * writer's full rate of 2048² frames). So while a checkpoint's fsync runs, requests wait once `budget` bytes are
 * written and not yet durable: the main thread's queue fills, it holds the frame sources, and what the producer
 * cannot send it counts. The budget follows the fsyncs' durations (the disk's speed swings, and the kernel's own
 * writeback makes bytes ÷ seconds of one fsync meaningless): smaller after one over FSYNC_SLOW_S, larger after one
 * under FSYNC_FAST_S. A sample waits for at most the fsync under way and the next one.
 */
const FSYNC_SLOW_S = 0.4;
const FSYNC_FAST_S = 0.2;
const BUDGET_BYTES = { least: 32 * 2 ** 20, most: 2 * 2 ** 30 };
let budget = 64 * 2 ** 20;
/** Bytes of samples written, and of them those made durable (as of the start of the last checkpoint that ended). */
let writtenBytes = 0;
let durableBytes = 0;
/** Requests that wait for the running fsync (see FSYNC_SLOW_S), in arrival order. */
const held: Request[] = [];

function overBudget(): boolean {
  return pending !== undefined && writtenBytes - durableBytes > budget;
}

/** Adapts the budget to an fsync that took `seconds` to make `bytes` durable. */
function fsynced(bytes: number, seconds: number): void {
  if (seconds > FSYNC_SLOW_S) budget = Math.max(BUDGET_BYTES.least, Math.min(budget, bytes) * 0.7);
  else if (seconds < FSYNC_FAST_S && bytes > budget / 2) budget = Math.min(BUDGET_BYTES.most, budget * 1.25);
}

/** When the last checkpoint began. */
let lastCheckpoint = Date.now();
let dirty = false;
let timer: NodeJS.Timeout | undefined;
/** The checkpoint whose fsync is running, if one is: appends go on meanwhile. */
let pending: Promise<CheckpointReport | undefined> | undefined;

// Latency in µs (the histograms hold integers), from each sample's arrival to written, and to durable.
const written = createHistogram();
const durable = createHistogram();
/** Arrival times (ms since the epoch) of samples written since the last checkpoint began: durable when the next one ends. */
let undurable: number[] = [];
/** Per series, samples appended that wait in a batch to be written: the series' length with each, and its arrival. */
const batched = new Map<string, { rows: number; received: number }[]>();

const now = () => performance.timeOrigin + performance.now();
const record = (h: RecordableHistogram, since: number, at: number) => h.record(Math.max(1, Math.round((at - since) * 1000)));
const percentiles = (h: RecordableHistogram): Percentiles | null =>
  h.count === 0 ? null : { p50: h.percentile(50) / 1000, p99: h.percentile(99) / 1000, max: h.max / 1000 };
const latency = (): Latency => ({ samples: written.count, written: percentiles(written), durable: percentiles(durable) });

/** A sample arrived at `received` was appended to `series`: written once the file holds the series' rows up to it. */
function appendedSample(series: string, received: number | undefined): void {
  if (received === undefined) return;
  let waiting = batched.get(series);
  if (!waiting) batched.set(series, (waiting = []));
  waiting.push({ rows: file!.appendedRows(series), received });
  settle(series, waiting);
}

/** Records as written the samples of `series` the file now holds. */
function settle(series: string, waiting: { rows: number; received: number }[]): void {
  const inFile = file!.writtenRows(series);
  let n = 0;
  for (; n < waiting.length && waiting[n]!.rows <= inFile; n++) {
    record(written, waiting[n]!.received, now());
    undurable.push(waiting[n]!.received);
  }
  if (n) waiting.splice(0, n);
}

/** After the file wrote every batch (a checkpoint flushes them). */
function settleAll(): void {
  for (const [series, waiting] of batched) settle(series, waiting);
}

/** Checkpoints begun, and the latest of them whose report the main thread has. */
let checkpointsBegun = 0;
let reported = 0;

/** The arrivals written since the last checkpoint, which the checkpoint being started makes durable. */
function takeUndurable(): { arrivals: number[]; checkpoint: number } {
  const arrivals = undurable;
  undurable = [];
  lastCheckpoint = Date.now();
  dirty = false;
  return { arrivals, checkpoint: ++checkpointsBegun };
}

function madeDurable({ arrivals, checkpoint }: ReturnType<typeof takeUndurable>, report: CheckpointReport): void {
  const at = now();
  for (const received of arrivals) record(durable, received, at);
  // A background checkpoint whose fsync ends after a later one's (made at once for a new series) says less than it.
  if (checkpoint < reported) return;
  reported = checkpoint;
  port.postMessage({ kind: "checkpoint", report, latency: latency() } satisfies Response);
}

/**
 * Starts a checkpoint: flushes at once, fsyncs in the background. Resolves with its report, or undefined if
 * it failed (the writer has then failed: see fail) or the file was closed meanwhile.
 */
function checkpoint(): Promise<CheckpointReport | undefined> {
  const f = file!;
  // Its flush, which writes the samples waiting in batches, happens now; its fsync in the background.
  const running = f.checkpointInBackground();
  settleAll();
  const arrivals = takeUndurable();
  const mark = writtenBytes;
  const bytes = mark - durableBytes;
  const began = now();
  const started = running.then(
    (report) => {
      if (file !== f) return undefined;
      durableBytes = Math.max(durableBytes, mark);
      fsynced(bytes, (now() - began) / 1000);
      madeDurable(arrivals, report);
      return report;
    },
    (e: unknown) => {
      if (file === f) fail(e);
      return undefined;
    },
  );
  const settled: Promise<CheckpointReport | undefined> = started.finally(() => {
    if (pending === settled) pending = undefined;
    release();
  });
  pending = settled;
  return started;
}

/** Samples as an array: those in a frame slot viewed where they are. */
function resolve(samples: Samples): NumericArray {
  if (ArrayBuffer.isView(samples)) return samples;
  return FrameSlots.of(samples)!.view(samples, ELEMENT_TYPES[samples.type].array as never);
}

function releaseSlot(samples: Samples): void {
  if (!ArrayBuffer.isView(samples)) FrameSlots.of(samples)?.release(samples);
}

/** The samples an append carries: a frame, a plane, a volume's planes; none to take a partial volume back. */
function samplesOf(req: Append): Samples[] {
  if (req.op === "append") return [req.data];
  if (req.op === "appendPlane") return [req.plane];
  if (req.op === "appendPlanes") return req.planes;
  return [];
}

/**
 * An append is done, written or not: its slots are freed (the main thread forgot them once sent) and it is
 * counted, so its bytes leave the main thread's queue; the main thread is woken if it waits for room.
 */
function appended(req: Append): void {
  samplesOf(req).forEach(releaseSlot);
  Atomics.add(progress, APPENDS_DONE, 1);
  // After the count: a main thread that starts waiting after this look sees the count when it looks again.
  if (Atomics.exchange(progress, WAITING_FOR_ROOM, 0) === 1) port.postMessage({ kind: "room" } satisfies Response);
}

/** The error of a request that found the file gone while it waited (a failure meanwhile is answered as that failure). */
const gone = () => new Error(failure?.message ?? "the file is not open");

/** A checkpoint that covers everything appended so far (after the one running, if any). */
async function checkpointNow(): Promise<CheckpointReport> {
  await pending;
  if (!file) throw gone();
  const report = await checkpoint();
  if (!report) throw gone();
  return report;
}

/** Stops writing after the failure `e`: the file makes itself as good as it can and closes; the main thread is told at once. */
function fail(e: unknown): WriteFailure {
  if (!failure) {
    clearInterval(timer);
    failure = file!.fail(e);
    file = undefined;
    port.postMessage({ kind: "failed", failure } satisfies Response);
  }
  return failure;
}

// Checked after every request as well as on a timer: a busy queue must not starve the timer's checkpoints.
// A series' first sample is made durable at once, so that a failure never leaves it in the file empty.
function checkpointIfDue(): void {
  if (!file || !dirty) return;
  try {
    if (file.holdsUncheckpointedSeries) {
      // Durable before anything else is written: a failure would otherwise leave the new series empty.
      const report = file.checkpoint();
      settleAll();
      durableBytes = writtenBytes;
      madeDurable(takeUndurable(), report);
    } else if (!pending && Date.now() - lastCheckpoint >= checkpointIntervalMs / CHECKPOINTS_PER_INTERVAL) {
      void checkpoint();
    }
  } catch (e) {
    fail(e);
  }
}

async function closeFile(): Promise<CheckpointReport> {
  clearInterval(timer);
  await pending; // its fsync must not outlive the descriptor
  if (!file) throw gone();
  const report = file.close();
  settleAll();
  file = undefined; // nothing may touch it after this, not even a due checkpoint
  madeDurable(takeUndurable(), report);
  return report;
}

/** What a request was writing, for the failure's message (checkpoints name their series themselves). */
function writing(req: Call): string {
  if (req.op === "call") return CALL_WRITES[req.method] ?? req.method;
  return req.op;
}

const CALL_WRITES: Partial<Record<FileMethod, string>> = { addEvents: "writing the event record" };

/** Writes an append; a failed write fails the writer (said in its "failed" message), a refused one is said here. */
function append(req: Append): void {
  if (!file) return void port.postMessage({ kind: "appendRefused", series: req.series, message: "the file is not open" } satisfies Response);
  try {
    dirty = true;
    // A slot reference and an array alike have the bytes' count.
    for (const s of samplesOf(req)) writtenBytes += s.byteLength;
    switch (req.op) {
      case "append":
        file.append(req.series, resolve(req.data), req.timestamps);
        return appendedSample(req.series, req.received);
      case "appendPlanes":
        // Each plane's slot is freed as soon as the plane is written: the next volume's planes need them.
        file.appendVolume(req.series, req.planes.map(resolve), req.timestamps, (d) => releaseSlot(req.planes[d]!));
        return appendedSample(req.series, req.received);
      case "appendPlane":
        file.appendPlane(req.series, req.depth, resolve(req.plane), req.timestamps);
        return appendedSample(req.series, req.received); // the last plane's: a volume's latency is from its last plane's arrival
      case "dropPartialVolume":
        return file.dropPartialVolume(req.series);
    }
  } catch (e) {
    if (e instanceof NwbInputError) port.postMessage({ kind: "appendRefused", series: req.series, message: e.message } satisfies Response);
    else fail(WriteError.from(`writing ${req.series}`, e));
  }
}

function run(req: Call): unknown {
  if (req.op === "open") {
    checkpointIntervalMs = req.checkpointIntervalMs;
    progress = new Int32Array(req.progress);
    return NwbFile.create(req.path, req.metadata, req.options).then((f) => {
      file = f;
      timer = setInterval(checkpointIfDue, Math.max(20, checkpointIntervalMs / CHECKPOINTS_PER_INTERVAL / 4));
      return { pageCache: f.directWrites.refused };
    });
  }
  if (!file) throw new Error("the file is not open");
  switch (req.op) {
    case "checkpoint":
      return checkpointNow();
    case "close":
      return closeFile();
    case "slots":
      FrameSlots.attach(req.handle);
      return undefined;
    case "call": {
      dirty = true;
      const method = file[req.method] as (...args: unknown[]) => unknown;
      return method.apply(file, req.args);
    }
  }
}

/** The error a request is answered with: bad input as it is, a failed write as the writer's failure, never an HDF5 stack. */
function answer(req: Call, e: unknown): NonNullable<Extract<Response, { kind: "result" }>["error"]> {
  if (e instanceof NwbInputError) return { name: e.name, message: e.message };
  if (req.op === "open") {
    // No file to cut back: creating it failed (the lock, the reserve, HDF5).
    const message = e instanceof Error ? e.message : String(e);
    return { name: "Error", message: isHdf5Stack(message) ? `creating ${req.path}: ${describeCause(e).detail}` : message };
  }
  const f = fail(WriteError.from(writing(req), e));
  return { name: "NwbWriteFailure", message: f.message, failure: f };
}

port.on("message", (req: Request) => {
  if (held.length || overBudget()) held.push(req);
  else void handle(req);
});

/** A checkpoint's fsync ended: the next one begins, and held requests go on while the budget allows. */
function release(): void {
  checkpointIfDue();
  while (held.length && !overBudget()) void handle(held.shift()!);
}

async function handle(req: Request): Promise<void> {
  if (req.op === "completeEvents") {
    // Runs on the closed file, so after a failure too; an error here is said as it is, and changes nothing else.
    try {
      port.postMessage({ kind: "result", id: req.id, value: await NwbFile.completeEvents(req.path, req.events, req.note) } satisfies Response);
    } catch (e) {
      port.postMessage({ kind: "result", id: req.id, error: { name: "Error", message: `completing the event record of ${req.path}: ${describeCause(e).detail}` } } satisfies Response);
    }
    return;
  }
  if (req.op === "append" || req.op === "appendPlanes" || req.op === "appendPlane" || req.op === "dropPartialVolume") {
    if (!failure) append(req);
    appended(req);
    checkpointIfDue();
    return;
  }
  if (failure) {
    port.postMessage({ kind: "result", id: req.id, error: { name: "NwbWriteFailure", message: failure.message, failure } } satisfies Response);
    return;
  }
  try {
    port.postMessage({ kind: "result", id: req.id, value: await run(req) } satisfies Response);
  } catch (e) {
    port.postMessage({ kind: "result", id: req.id, error: answer(req, e) } satisfies Response);
  }
  checkpointIfDue();
}
