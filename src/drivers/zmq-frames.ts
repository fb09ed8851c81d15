// Frames over ZeroMQ, protocol v1 (docs/frame-protocol-v1.md): rigd binds a PULL socket, acquisition software
// connects a PUSH socket and sends [JSON header, raw pixels]. Every message is checked; a bad one is counted,
// reported and dropped, and the stream goes on. Counters are judged by the session that listens (a frame that
// arrives while none listens is counted as unobserved). Memory is bounded by the socket's queue, sized in
// bytes and kept small, and by hold(), which lets a slow consumer stop the reading so that backpressure
// reaches the producer, where the hardware is. The socket lives in a thread of its own (zmq-receiver.ts).
import type { Worker } from "node:worker_threads";
import { Subject } from "rxjs";
import { copyBytes, FrameSlots, releaseFrame, type SlotRef, type SlotsHandle } from "../frame-slots.js";
import { startWorker } from "../threads.js";
import { type DeviceEvent, epochMs, type Stamped } from "./device.js";
import { FRAME_DTYPES, type Frame, type FrameArrayType, type FrameCounts, type FrameData, type FrameSource, type FrameSpec, isFrameDtype, REJECT_REASONS, type RejectReason, type ScannerState } from "./frame-source.js";

export const PROTOCOL_VERSION = 1;
export const HEADER_LIMIT_BYTES = 4096;
const MAX_SIDE = 65536;

/** Messages to the receiving thread (zmq-receiver.ts). */
export type ToReceiver =
  // inFlight: frames the thread may have handed over that the main thread has not taken yet.
  // control: Int32 [held (1 while the main thread holds the source), frames the main thread has taken].
  | { op: "bind"; spec: FrameSpec & { address: string }; receiveHighWaterMark: number; maxMessageSize: number; inFlight: number; slots: SlotsHandle; control: SharedArrayBuffer }
  | { op: "close" };

/** Messages from the receiving thread; a frame's pixels are in its slot (frame-slots.ts). */
export type FromReceiver =
  | { kind: "bound"; endpoint: string }
  | { kind: "bind-failed"; message: string }
  | { kind: "frame"; frame: Omit<Frame, "data">; slot: SlotRef; scanner?: ScannerState }
  | { kind: "rejected"; reason: RejectReason; message: string }
  // A producer completed its handshake, or went (told after the frames it sent before).
  | { kind: "producer"; connected: boolean }
  | { kind: "stopped"; message: string };

export type Decoded = { frame: Frame; scanner: ScannerState | undefined } | { reason: RejectReason; message: string };

const show = (value: unknown) => {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
};
const reject = (reason: RejectReason, message: string): Decoded => ({ reason, message });
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Where a good frame's pixels are copied: a typed array of `length` pixels of `Type`, to be filled with them. */
export type PixelPlace = (Type: FrameArrayType, length: number) => FrameData;

/** A buffer of its own. */
const own: PixelPlace = (Type, length) => new Type(length);

/** Checks one message against protocol v1 and the source's spec; a good one becomes a Frame, its pixels copied to `place`. */
export function decodeFrame(parts: readonly Buffer[], spec: FrameSpec, place: PixelPlace = own): Decoded {
  if (parts.length !== 2) return reject("parts", `expected 2 parts (header, pixels), got ${parts.length}`);
  const [head, payload] = parts as [Buffer, Buffer];
  if (head.length > HEADER_LIMIT_BYTES) return reject("header", `the header is ${head.length} bytes, more than ${HEADER_LIMIT_BYTES}`);
  let header: unknown;
  try {
    header = JSON.parse(utf8.decode(head));
  } catch (e) {
    return reject("header", `the header is not UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) return reject("header", `the header is not a JSON object: ${show(header)}`);
  const h = header as Record<string, unknown>;

  if (h.version !== PROTOCOL_VERSION) return reject("version", `protocol version ${show(h.version)}, this receiver speaks ${PROTOCOL_VERSION}`);
  if (!isFrameDtype(h.dtype)) return reject("dtype", `unknown dtype ${show(h.dtype)} (known: ${Object.keys(FRAME_DTYPES).join(", ")})`);
  if (h.dtype !== spec.data_type) return reject("dtype", `dtype ${h.dtype}, but this source delivers ${spec.data_type}`);
  const shape = h.shape;
  if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((n) => Number.isInteger(n) && n >= 1 && n <= MAX_SIDE)) {
    return reject("shape", `shape ${show(shape)} is not [height, width] in whole pixels from 1 to ${MAX_SIDE}`);
  }
  const [height, width] = shape as [number, number];
  if (height !== spec.frame_shape[0] || width !== spec.frame_shape[1]) return reject("shape", `shape [${height}, ${width}], but this source delivers [${spec.frame_shape.join(", ")}]`);

  const below = (name: "channel" | "plane", count: number, flyback = 0) => {
    const n = h[name];
    const limit = flyback ? `plane_count ${count} + flyback_planes ${flyback}` : `${name}_count ${count}`;
    return Number.isInteger(n) && (n as number) >= 0 && (n as number) < count + flyback ? undefined : `${name} must be a whole number below ${limit}, got ${show(n)}`;
  };
  const problem =
    (Number.isSafeInteger(h.counter) && (h.counter as number) >= 0 ? undefined : `counter must be a whole number from 0 to 2^53 - 1, got ${show(h.counter)}`) ??
    (Number.isFinite(h.hardware_time_s) || (h.hardware_time_s === undefined && spec.clock === "arrival")
      ? undefined
      : `hardware_time_s must be a number of seconds${spec.clock === "arrival" ? " or absent" : ""}, got ${show(h.hardware_time_s)}`) ??
    below("channel", spec.channel_count) ??
    below("plane", spec.plane_count, spec.flyback_planes);
  if (problem) return reject("field", problem);
  const scanner = h.scanner === undefined ? undefined : parseScanner(h.scanner);
  if (typeof scanner === "string") return reject("field", scanner);

  const Type = FRAME_DTYPES[h.dtype];
  const bytes = height * width * Type.BYTES_PER_ELEMENT;
  if (payload.length !== bytes) return reject("size", `the pixels are ${payload.length} bytes, a ${height}×${width} ${h.dtype} frame is ${bytes}`);
  // Copied once, out of zeromq.js's buffer, which cannot be transferred to another thread.
  const data = place(Type, height * width);
  copyBytes(data, payload);
  const frame: Frame = {
    counter: h.counter as number,
    hardware_time_s: h.hardware_time_s as number | undefined,
    channel: h.channel as number,
    plane: h.plane as number,
    shape: [height, width],
    dtype: h.dtype,
    data,
    received_time: performance.timeOrigin + performance.now(),
  };
  return { frame, scanner };
}

/** The header's `scanner` object, or what is wrong with it. Fields are copied in a fixed order so states compare as text. */
function parseScanner(value: unknown): ScannerState | string {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return `scanner must be an object, got ${show(value)}`;
  const s = value as Record<string, unknown>;
  const positive = (n: unknown) => typeof n === "number" && Number.isFinite(n) && n > 0;
  const state: ScannerState = {};
  if (s.line_rate_Hz !== undefined) {
    if (!positive(s.line_rate_Hz)) return `scanner.line_rate_Hz must be a positive number, got ${show(s.line_rate_Hz)}`;
    state.line_rate_Hz = s.line_rate_Hz as number;
  }
  if (s.scan_direction !== undefined) {
    if (s.scan_direction !== "horizontal" && s.scan_direction !== "vertical") return `scanner.scan_direction must be "horizontal" or "vertical", got ${show(s.scan_direction)}`;
    state.scan_direction = s.scan_direction;
  }
  if (s.bidirectional !== undefined) {
    if (typeof s.bidirectional !== "boolean") return `scanner.bidirectional must be true or false, got ${show(s.bidirectional)}`;
    state.bidirectional = s.bidirectional;
  }
  if (s.pixel_size_um !== undefined) {
    const size = s.pixel_size_um;
    if (!Array.isArray(size) || size.length !== 2 || !size.every(positive)) return `scanner.pixel_size_um must be [x, y] in µm, got ${show(size)}`;
    state.pixel_size_um = [size[0], size[1]];
  }
  if (s.zoom !== undefined) {
    if (!positive(s.zoom)) return `scanner.zoom must be a positive number, got ${show(s.zoom)}`;
    state.zoom = s.zoom as number;
  }
  return state;
}

/**
 * Reports each kind of problem at once, then at most once per interval: a producer gone wrong at 1 kHz would
 * otherwise flood the event record. What is held back is summed into the report at the end of the interval.
 */
class ThrottledReports {
  private readonly windows = new Map<string, { held: number; latest: string; kind: DeviceEvent["kind"]; timer: NodeJS.Timeout }>();

  constructor(
    private readonly emit: (kind: DeviceEvent["kind"], message: string) => void,
    private readonly intervalMs: number,
  ) {}

  report(key: string, kind: DeviceEvent["kind"], message: string): void {
    const window = this.windows.get(key);
    if (window) {
      window.held++;
      window.latest = message;
      return;
    }
    this.emit(kind, message);
    this.open(key, kind);
  }

  private open(key: string, kind: DeviceEvent["kind"]): void {
    const timer = setTimeout(() => this.release(key, true), this.intervalMs).unref();
    this.windows.set(key, { held: 0, latest: "", kind, timer });
  }

  private release(key: string, reopen: boolean): void {
    const window = this.windows.get(key)!;
    clearTimeout(window.timer);
    this.windows.delete(key);
    if (window.held === 0) return;
    this.emit(window.kind, `${window.held} more like this within ${this.intervalMs} ms, the latest: ${window.latest}`);
    if (reopen) this.open(key, window.kind);
  }

  flush(): void {
    for (const key of [...this.windows.keys()]) this.release(key, false);
  }
}

export interface ZmqFrameOptions extends FrameSpec {
  /** Where rigd binds, e.g. tcp://127.0.0.1:5600 or ipc:///tmp/frames; tcp port * picks a free one (see `endpoint`). */
  address: string;
  /**
   * Frames the socket may queue while the consumer is busy or holds the reading, in bytes (default 16 MiB,
   * at least 2 frames), and two more between the receiving thread and the main thread: small, so that a
   * backlog builds at the producer, which is told, not inside rigd, where a crash would lose it.
   */
  queueBytes?: number;
  /** Each kind of problem is reported at most once per interval, the rest summed (default 1000 ms). */
  reportIntervalMs?: number;
}

export class ZmqFrameSource implements FrameSource {
  readonly driver = "zmq-frames";
  private readonly frames = new Subject<Frame>();
  private readonly state = new Subject<Stamped<ScannerState>>();
  private readonly events = new Subject<DeviceEvent>();
  readonly frames$ = this.frames.asObservable();
  readonly state$ = this.state.asObservable();
  readonly events$ = this.events.asObservable();
  private readonly tally = { frames: 0, unobserved: 0, rejected: 0 };
  private readonly rejectedBy = Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>;
  private readonly reports: ThrottledReports;
  private readonly frameBytes: number;
  /** Frames of one acquisition step: every channel and plane (flyback included) carries its counter. */
  private readonly framesPerCounter: number;
  /** The latest frame's counter and how many frames in a row carried it: whether a stream ended on a whole step. */
  private latest: { counter: number; frames: number } | undefined;
  private connectedProducers = 0;
  /** A part this large is not a frame of this source: ZeroMQ drops the connection rather than buffer it. */
  private readonly partLimit: number;
  private latestScanner: { state: ScannerState; text: string } | undefined;
  /** Work the consumer is doing; while any is pending, the receiving thread stops reading. */
  private readonly holds = new Set<Promise<unknown>>();
  private receiver: Worker | undefined;
  private slots: FrameSlots | undefined;
  /** Shared with the receiving thread, so that holding and taking frames cost no message: see ToReceiver. */
  private readonly control = new Int32Array(new SharedArrayBuffer(8));
  private bound: string | undefined;
  private closed: Promise<void> | undefined;

  constructor(private readonly options: ZmqFrameOptions) {
    const [height, width] = options.frame_shape;
    this.frameBytes = height * width * FRAME_DTYPES[options.data_type].BYTES_PER_ELEMENT;
    this.partLimit = 2 * this.frameBytes + 64 * 1024;
    this.framesPerCounter = options.channel_count * (options.plane_count + (options.flyback_planes ?? 0));
    this.reports = new ThrottledReports((kind, message) => this.event(kind, message), options.reportIntervalMs ?? 1000);
  }

  get scanner(): ScannerState | undefined {
    return this.latestScanner?.state;
  }

  get counts(): FrameCounts {
    return { ...this.tally, rejected_by_reason: { ...this.rejectedBy } };
  }

  /** Producers connected now. */
  get producers(): number {
    return this.connectedProducers;
  }

  /** The address actually bound (with the port chosen for tcp://…:*), once connected. */
  get endpoint(): string | undefined {
    return this.bound;
  }

  /** Binds the socket in a thread of its own (zmq-receiver.ts); rejects, naming the address, if it cannot. */
  async connect(): Promise<void> {
    const { queueBytes: _q, reportIntervalMs: _r, ...spec } = this.options;
    const receiver = startWorker(import.meta.url, "./zmq-receiver.js");
    const exited = new Promise<void>((resolve) => receiver.once("exit", () => resolve()));
    const answer = new Promise<FromReceiver>((resolve, reject) => {
      receiver.once("message", resolve);
      receiver.once("error", reject);
    });
    // Counted in messages: each as its pixels plus the most a header may take, so tiny frames cannot queue millions.
    const queued = Math.max(2, Math.floor((this.options.queueBytes ?? 16 * 2 ** 20) / (this.frameBytes + HEADER_LIMIT_BYTES)));
    // Frames in rigd, from the receiving thread to the file.
    const slots = FrameSlots.forSource(this.frameBytes, this.framesPerCounter);
    // Two frames may wait between the threads, one taken while the next is read; then the reading stops, so the
    // producer is told. Few, so that hold() stops the reading within a frame or two.
    receiver.postMessage({ op: "bind", spec, receiveHighWaterMark: queued, maxMessageSize: this.partLimit, inFlight: 2, slots: slots.handle, control: this.control.buffer as SharedArrayBuffer } satisfies ToReceiver);
    const first = await answer.catch((e: Error) => ({ kind: "bind-failed" as const, message: e.message }));
    if (first.kind !== "bound") {
      await exited;
      throw new Error(`frame source cannot bind ${spec.address}: ${first.kind === "bind-failed" ? first.message : first.kind}`);
    }
    this.bound = first.endpoint;
    this.receiver = receiver;
    this.slots = slots;
    receiver.on("message", (m: FromReceiver) => this.receive(m));
    receiver.on("error", (e) => this.event("fault", `stopped receiving: ${e.message}`));
    this.closed = exited;
  }

  hold(work: Promise<unknown>): void {
    if (this.holds.size === 0) Atomics.store(this.control, 0, 1);
    this.holds.add(work);
    const done = () => {
      this.holds.delete(work);
      if (this.holds.size > 0) return;
      Atomics.store(this.control, 0, 0);
      Atomics.notify(this.control, 0);
    };
    work.then(done, done);
  }

  private send(message: ToReceiver): void {
    this.receiver?.postMessage(message);
  }

  private receive(m: FromReceiver): void {
    switch (m.kind) {
      case "frame":
        this.accept({ ...m.frame, data: this.slots!.view(m.slot, FRAME_DTYPES[m.frame.dtype], true) }, m.scanner);
        break;
      case "rejected":
        this.tally.rejected++;
        this.rejectedBy[m.reason]++;
        this.reports.report(m.reason, "garbage", `rejected a message (${m.reason}): ${m.message}`);
        break;
      case "producer":
        if (m.connected) {
          this.connectedProducers++;
          this.event("producer_connected", `a producer connected (${this.connectedProducers} now)`);
        } else {
          this.connectedProducers--;
          this.producerGone();
        }
        break;
      case "stopped":
        this.event("fault", `stopped receiving: ${m.message}`);
        break;
    }
  }

  private accept(frame: Frame, scanner: ScannerState | undefined): void {
    if (scanner) this.updateScanner(scanner);
    if (this.latest?.counter === frame.counter) this.latest.frames++;
    else this.latest = { counter: frame.counter, frames: 1 };
    if (!this.frames.observed) {
      this.tally.unobserved++;
      releaseFrame(frame.data);
    } else {
      this.tally.frames++;
      this.frames.next(frame);
    }
    Atomics.add(this.control, 1, 1);
    Atomics.notify(this.control, 1);
  }

  /**
   * ZeroMQ tells a producer that closed its socket from one that crashed no better than by the connection's end;
   * the stream tells more. One that ends on a whole acquisition step (every channel and plane of its last counter)
   * closed at the end of its acquisition; one that leaves a step unfinished went away mid-stream, a loss.
   */
  private producerGone(): void {
    const last = this.latest;
    this.latest = undefined;
    if (!last) return this.event("producer_closed", "a producer closed its connection without sending a frame");
    if (last.frames >= this.framesPerCounter) {
      return this.event("producer_closed", `a producer closed its connection after a whole acquisition (counter ${last.counter}, every channel and plane)`);
    }
    this.event("disconnected", `a producer went away mid-acquisition: ${last.frames} of the ${this.framesPerCounter} frames of counter ${last.counter} came (it ended abruptly, or sent a part over ${this.partLimit} bytes, for which ZeroMQ drops the connection)`);
  }

  private updateScanner(state: ScannerState): void {
    const text = JSON.stringify(state);
    if (text === this.latestScanner?.text) return;
    this.latestScanner = { state, text };
    this.state.next({ time: epochMs(), state });
  }

  private event(kind: DeviceEvent["kind"], message: string): void {
    this.events.next({ time: epochMs(), kind, message: `frames on ${this.endpoint ?? this.options.address}: ${message}` });
  }

  async close(): Promise<void> {
    this.send({ op: "close" });
    await this.closed;
    this.receiver = undefined;
    this.slots?.detach();
    this.reports.flush();
    this.frames.complete();
    this.state.complete();
    this.events.complete();
  }
}
