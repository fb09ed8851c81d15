// NwbWriter: the asynchronous, main-thread face of an NWB file being written in a worker thread.
// Frames in shared slots (frame-slots.ts) travel as their slot number, others are transferred (not copied),
// and a bounded queue applies backpressure:
// append() resolves as soon as there is room, so memory stays flat whatever the producer does.
import type { Worker } from "node:worker_threads";
import { Subject } from "rxjs";
import { advance, checkAppend, checkPlane, checkPlanes, type SeriesCursor, type SeriesInfo, startCursor } from "./append-check.js";
import { NwbInputError } from "./errors.js";
import { elementTypeOf, type NumericArray } from "./element-types.js";
import type { WriteFailure } from "./failure.js";
import type * as M from "./model.js";
import type { CheckpointReport, OpenOptions } from "./nwb-file.js";
import { type Append, APPENDS_DONE, type Call, type FileMethod, type FileMethods, type Latency, type Response, type Samples, WAITING_FOR_ROOM } from "./protocol.js";
import { FrameSlots, slotOf } from "../frame-slots.js";
import { startWorker } from "../threads.js";

export interface WriterOptions extends OpenOptions {
  /** The worker checkpoints on its own this often while data arrives (default 1000 ms). */
  checkpointIntervalMs?: number;
  /** Bytes of samples queued for the worker before append() waits (default 64 MiB). */
  maxQueuedBytes?: number;
}

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };

/** A request of this writer failed in the worker; `cause` is the worker's error. */
export class NwbWriterError extends Error {
  override name = "NwbWriterError";
}

/**
 * A write failed (full disk, I/O error, output removed…) and the writer stopped: nothing more is written.
 * `message` says what failed in one line; `saved` is what the file holds (the last good checkpoint), and
 * `closed` whether the file was cut back to it and closed (false: it is left as a crash would leave it).
 */
export class NwbWriteFailure extends NwbWriterError implements WriteFailure {
  override name = "NwbWriteFailure";
  readonly code: string | undefined;
  readonly saved: CheckpointReport | undefined;
  readonly closed: boolean;

  constructor(failure: WriteFailure) {
    super(failure.message);
    this.code = failure.code;
    this.saved = failure.saved;
    this.closed = failure.closed;
  }
}

export class NwbWriter {
  /** Emits what each checkpoint (automatic, requested or final) made durable. */
  readonly checkpoints = new Subject<CheckpointReport>();
  /**
   * Resolves (never rejects) the moment a write fails, with what failed and what the file holds; it stays
   * pending while all goes well. Every call after that throws the same NwbWriteFailure, close() included.
   */
  readonly failed: Promise<NwbWriteFailure>;
  private resolveFailed: (failure: NwbWriteFailure) => void = () => undefined;
  private lastReport: CheckpointReport | undefined;
  private lastLatency: Latency = { samples: 0, written: null, durable: null };
  private workerGone = false;
  private readonly pending = new Map<number, Pending>();
  private readonly cursors = new Map<string, { info: SeriesInfo; cursor: SeriesCursor }>();
  private nextId = 0;
  /**
   * Why the file's data goes through the page cache rather than around it (direct-writes.ts), if it does: the
   * file system refused O_DIRECT. Slower, and no less safe.
   */
  pageCache: string | undefined;
  /** Sets of frame slots the worker has been handed. */
  private readonly sharedSlots = new Set<string>();
  /** [APPENDS_DONE, WAITING_FOR_ROOM], shared with the worker (protocol.ts). */
  private readonly progress = new Int32Array(new SharedArrayBuffer(8));
  /** Bytes of each append sent and not yet counted done by the worker, oldest first, from `firstQueued` on. */
  private queuedAppends: number[] = [];
  private firstQueued = 0;
  private appendsSent = 0;
  private queued = 0;
  private roomWaiters: (() => void)[] = [];
  private failure: Error | undefined;
  private closing = false;

  private constructor(
    private readonly worker: Worker,
    readonly path: string,
    private readonly maxQueuedBytes: number,
  ) {
    this.failed = new Promise((resolve) => (this.resolveFailed = resolve));
    worker.on("message", (msg: Response) => this.receive(msg));
    worker.on("error", (e) => this.fail(new NwbWriterError(`writer worker crashed: ${e.message}`), true));
    worker.on("exit", (code) => this.fail(new NwbWriterError(`writer worker exited (code ${code})`), true));
  }

  /** Creates the file (an existing one only with `overwrite`) with its metadata and cached specs. */
  static async create(path: string, metadata: M.NwbFileMetadata, options: WriterOptions = {}): Promise<NwbWriter> {
    const writer = new NwbWriter(startWorker(import.meta.url, "./worker.js", "h5wasm/node"), path, options.maxQueuedBytes ?? 64 * 1024 * 1024);
    try {
      const opened = (await writer.request({
        op: "open",
        path,
        metadata,
        options: { overwrite: options.overwrite ?? false, ...(options.reserveBytes === undefined ? {} : { reserveBytes: options.reserveBytes }) },
        checkpointIntervalMs: options.checkpointIntervalMs ?? 1000,
        progress: writer.progress.buffer as SharedArrayBuffer,
      })) as { pageCache?: string };
      writer.pageCache = opened.pageCache;
    } catch (e) {
      writer.closing = true;
      await writer.worker.terminate();
      throw e;
    }
    return writer;
  }

  addDevice = this.method("addDevice");
  addRig = this.method("addRig");
  addChannel = this.method("addChannel");
  addImagingSpace = this.method("addImagingSpace");
  addContainer = this.method("addContainer");
  addPlanarSegmentation = this.method("addPlanarSegmentation");
  addVolumetricSegmentation = this.method("addVolumetricSegmentation");
  addSummaryImages = this.method("addSummaryImages");
  addImages = this.method("addImages");
  addEvents = this.method("addEvents");
  createPlanarSeries = this.series("createPlanarSeries");
  createVolumetricSeries = this.series("createVolumetricSeries");
  createTelemetrySeries = this.series("createTelemetrySeries");
  createResponseSeries = this.series("createResponseSeries");

  /** Arrival → written and arrival → durable of the samples appended with a `received` time, as of the last checkpoint. */
  get latency(): Latency {
    return this.lastLatency;
  }

  /** Bytes of samples handed to the worker and not yet written. */
  get queuedBytes(): number {
    this.countDone();
    return this.queued;
  }

  /**
   * Appends samples to a series: validated here, then handed to the worker. An array in a frame slot
   * (frame-slots.ts) is sent as its slot; one that owns its whole buffer is transferred (it is detached
   * afterwards); a view into a larger buffer is copied. `received` is when the samples arrived
   * (ms since the epoch, performance.timeOrigin + performance.now()), for `latency`.
   * Resolves when the queue has room, not when the data is on disk: checkpoint() is that.
   */
  async append(series: SeriesInfo | string, data: NumericArray, timestamps?: ArrayLike<number>, received?: number): Promise<void> {
    this.throwIfFailed();
    const { name, cursor, info } = this.cursorOf(series);
    const rows = checkAppend(info, cursor, data, timestamps);
    advance(cursor, rows, timestamps);
    const [payload] = await this.room([data]);
    this.send({ op: "append", series: name, data: payload!, ...this.extras(timestamps, received) }, [payload!]);
  }

  /**
   * Appends one volume of a volumetric series given as its depth planes, each height × width: the worker
   * writes each where it belongs, depth last, so nobody walks the volume. Planes are transferred or
   * copied as in append(); `received` is when the last plane arrived.
   */
  async appendVolume(series: SeriesInfo | string, planes: readonly NumericArray[], timestamp?: number, received?: number): Promise<void> {
    this.throwIfFailed();
    const { name, cursor, info } = this.cursorOf(series);
    const timestamps = timestamp === undefined ? undefined : [timestamp];
    checkPlanes(info, cursor, planes, timestamps);
    advance(cursor, 1, timestamps);
    const payload = await this.room(planes);
    this.send({ op: "appendPlanes", series: name, planes: payload, ...this.extras(timestamps, received) }, payload);
  }

  /**
   * Appends plane `depth` of the next volume of a volumetric series, planes in order 0, 1, … as they arrive, so
   * that the worker writes each while the next is on its way rather than all once the last is in. The last plane
   * completes the volume and comes with its `timestamp` (if the series has them) and `received` (its own arrival).
   * Until then the volume is not a sample (see NwbFile.appendPlane); dropPartialVolume() takes it back. The plane
   * is sent as in append().
   */
  async appendPlane(series: SeriesInfo | string, depth: number, plane: NumericArray, timestamp?: number, received?: number): Promise<void> {
    this.throwIfFailed();
    const { name, cursor, info } = this.cursorOf(series);
    const timestamps = timestamp === undefined ? undefined : [timestamp];
    const rows = checkPlane(info, cursor, depth, plane, timestamps);
    advance(cursor, rows, timestamps);
    const [payload] = await this.room([plane]);
    this.send({ op: "appendPlane", series: name, depth, plane: payload!, ...this.extras(timestamps, received) }, [payload!]);
  }

  /** Takes back the planes appendPlane() gave of a volume that will not be whole (none given: nothing happens). */
  dropPartialVolume(series: SeriesInfo | string): void {
    this.throwIfFailed();
    const { name, cursor } = this.cursorOf(series);
    if (cursor.planes === 0) return;
    cursor.planes = 0;
    this.send({ op: "dropPartialVolume", series: name }, []);
  }

  private extras(timestamps: ArrayLike<number> | undefined, received: number | undefined): { timestamps?: Float64Array; received?: number } {
    return { ...(timestamps ? { timestamps: Float64Array.from(timestamps) } : {}), ...(received === undefined ? {} : { received }) };
  }

  /** Makes everything appended so far durable; resolves with what the file now holds. */
  checkpoint(): Promise<CheckpointReport> {
    this.throwIfFailed();
    return this.request({ op: "checkpoint" }) as Promise<CheckpointReport>;
  }

  /**
   * After a failed write (`failed` resolved with `closed`): adds to the file's event record each of `events` it
   * lacks — the ones cut back with the last checkpoint or written after the failure — and marks the file closed
   * with `note`; resolves with how many it added. Call it before close(), which ends the worker.
   */
  completeEvents(events: readonly M.RigEvent[], note: string): Promise<number> {
    return this.request({ op: "completeEvents", path: this.path, events: [...events], note }) as Promise<number>;
  }

  /**
   * Drains the queue, writes the last checkpoint and closes the file and the worker; resolves with what the
   * file holds. After a failed write it rejects with that NwbWriteFailure, whose `saved` is what the file holds.
   */
  async close(): Promise<CheckpointReport> {
    this.closing = true;
    try {
      // The worker closes the file even after a failed write; the caller still learns why it failed.
      const report = (await this.request({ op: "close" })) as CheckpointReport;
      if (this.failure) throw this.failure;
      return report;
    } finally {
      this.checkpoints.complete();
      await this.worker.terminate();
    }
  }

  private cursorOf(series: SeriesInfo | string): { name: string; info: SeriesInfo; cursor: SeriesCursor } {
    const name = typeof series === "string" ? series : series.name;
    const entry = this.cursors.get(name);
    if (!entry) throw new NwbInputError(`append: no series named '${name}'`);
    return { name, ...entry };
  }

  /**
   * Waits until the queue has room for `arrays`, then returns what to send: an array in a frame slot as its
   * slot (frame-slots.ts), an array that owns its whole buffer as it is (to be transferred, which detaches
   * it), a view into a larger buffer — or a buffer already sent in this call (one plane given twice) — as a copy.
   */
  private async room(arrays: readonly NumericArray[]): Promise<Samples[]> {
    const bytes = arrays.reduce((n, a) => n + a.byteLength, 0);
    const full = () => this.countDone() > 0 && this.queued + bytes > this.maxQueuedBytes;
    while (full()) {
      await new Promise<void>((resolve) => {
        this.roomWaiters.push(resolve);
        Atomics.store(this.progress, WAITING_FOR_ROOM, 1);
        // An append counted done before the flag was set posted no "room": look once more.
        if (!full()) this.wakeWaiters();
      });
      this.throwIfFailed();
    }
    const sent = new Set<ArrayBufferLike>();
    return arrays.map((a) => {
      const slot = slotOf(a);
      if (slot) {
        if (!this.sharedSlots.has(slot.slots)) {
          this.sharedSlots.add(slot.slots);
          this.request({ op: "slots", handle: FrameSlots.of(slot)!.handle }).catch(() => undefined); // a failure is said by the append
        }
        return { ...slot, type: elementTypeOf(a)! };
      }
      const owned = a.byteOffset === 0 && a.byteLength === a.buffer.byteLength && a.buffer instanceof ArrayBuffer && !sent.has(a.buffer);
      sent.add(a.buffer);
      return owned ? a : (a.slice() as NumericArray);
    });
  }

  /** Sends an append with its arrays transferred; the queue holds their bytes until the worker counts it done. */
  private send(req: Append, samples: readonly Samples[]): void {
    const bytes = samples.reduce((n, a) => n + a.byteLength, 0);
    this.queued += bytes;
    this.queuedAppends.push(bytes);
    this.appendsSent = (this.appendsSent + 1) | 0;
    const transfer = samples.filter((a): a is NumericArray => ArrayBuffer.isView(a)).map((a) => a.buffer as ArrayBuffer);
    if (this.workerGone) return; // its failure is what every call now throws
    const timestamps = "timestamps" in req && req.timestamps ? [req.timestamps.buffer as ArrayBuffer] : [];
    this.worker.postMessage(req, [...transfer, ...timestamps]);
  }

  /** Takes the appends the worker counted done out of the queue; returns the bytes still queued. */
  private countDone(): number {
    // Both counters wrap alike at 2³¹: their difference is right whatever they are.
    const stillQueued = (this.appendsSent - Atomics.load(this.progress, APPENDS_DONE)) | 0;
    while (this.queuedAppends.length - this.firstQueued > stillQueued) this.queued -= this.queuedAppends[this.firstQueued++]!;
    if (this.firstQueued >= 1024) {
      this.queuedAppends = this.queuedAppends.slice(this.firstQueued);
      this.firstQueued = 0;
    }
    return this.queued;
  }

  private method<K extends FileMethod>(method: K) {
    return (...args: Parameters<FileMethods[K]>): Promise<void> => {
      this.throwIfFailed();
      return this.request({ op: "call", method, args }) as Promise<void>;
    };
  }

  private series<K extends "createPlanarSeries" | "createVolumetricSeries" | "createTelemetrySeries" | "createResponseSeries">(method: K) {
    return async (...args: Parameters<FileMethods[K]>): Promise<SeriesInfo> => {
      this.throwIfFailed();
      const info = (await this.request({ op: "call", method, args })) as SeriesInfo;
      this.cursors.set(info.name, { info, cursor: startCursor() });
      return info;
    };
  }

  private request(req: DistributiveOmit<Call, "id">, transfer: ArrayBuffer[] = []): Promise<unknown> {
    const id = this.nextId++;
    if (this.workerGone) return Promise.reject(this.failure!); // nobody would answer
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...req, id }, transfer);
    });
  }

  private receive(msg: Response): void {
    if (msg.kind === "checkpoint") {
      this.lastReport = msg.report;
      this.lastLatency = msg.latency;
      this.checkpoints.next(msg.report);
      return;
    }
    if (msg.kind === "failed") {
      this.fail(new NwbWriteFailure(msg.failure));
      return;
    }
    if (msg.kind === "room") return this.wakeWaiters();
    if (msg.kind === "appendRefused") return this.fail(new NwbInputError(`append to ${msg.series}: ${msg.message}`));
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.error?.failure) {
      // The worker said "failed" before answering: every answer after carries that same failure.
      p.reject(this.failure instanceof NwbWriteFailure ? this.failure : new NwbWriteFailure(msg.error.failure));
    } else if (msg.error) {
      const E = msg.error.name === "NwbInputError" ? NwbInputError : NwbWriterError;
      p.reject(new E(msg.error.message));
    } else p.resolve(msg.value);
  }

  private wakeWaiters(): void {
    for (const wake of this.roomWaiters.splice(0)) wake();
  }

  /**
   * After a failed write nothing more is accepted. Requests already sent still get their answers
   * (close must finish closing the file) unless the worker itself is gone.
   */
  private fail(error: Error, workerGone = false): void {
    if (workerGone && this.closing && !this.pending.size) return; // the normal end of a closed writer
    if (workerGone) {
      this.workerGone = true;
      // The file is as the worker left it: what the last checkpoint reported, not closed.
      if (!(this.failure instanceof NwbWriteFailure)) error = new NwbWriteFailure({ message: error.message, code: undefined, saved: this.lastReport, closed: false });
    }
    this.failure ??= error;
    if (error instanceof NwbWriteFailure) this.resolveFailed(error);
    if (workerGone) {
      for (const p of this.pending.values()) p.reject(error);
      this.pending.clear();
    }
    this.wakeWaiters();
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
    if (this.closing) throw new NwbWriterError(`${this.path} is closing`);
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
