// A simulated scanner: it images the synthetic sample at the rate a real scan geometry gives and pushes the
// frames to rigd with frame protocol v1 (docs/frame-protocol-v1.md), as a digitizer's software would. Like
// hardware it never waits for the receiver: a frame that finds the send queue full is lost and its counter still
// advances, so rigd sees a gap. Brightness follows the laser and PMTs it is given, read at every frame. For tests
// it also loses frames on purpose and mixes in malformed messages.
import { setImmediate, setTimeout as sleep } from "node:timers/promises";
import { Push } from "zeromq";
import { FRAME_DTYPES, type FrameData, type FrameDtype, type RejectReason, type ScannerState } from "../src/drivers/frame-source.js";
import { PROTOCOL_VERSION } from "../src/drivers/zmq-frames.js";
import { type Fluorophore, type LaserLight, NOMINAL, quantize, random, SyntheticSample } from "./sample.js";

export interface ScanGeometry {
  channels: number;
  /** Planes per volume; each plane is one frame of every channel. */
  planes: number;
  height: number;
  width: number;
  dtype: FrameDtype;
}

export type ScanTiming = { kind: "resonant"; mirror_Hz: number; bidirectional: boolean } | { kind: "light-sheet"; plane_rate_Hz: number };

/** An 8 kHz resonant scanner (7.91 kHz) imaging on both sweeps: 15 820 lines/s, so 512 lines ≈ 30.9 frames/s. */
export const RESONANT: ScanTiming = { kind: "resonant", mirror_Hz: 7910, bidirectional: true };
/** A light-sheet microscope's camera: 100 planes/s. */
export const LIGHT_SHEET: ScanTiming = { kind: "light-sheet", plane_rate_Hz: 100 };

/** Planes imaged per second. */
export function planeRate(timing: ScanTiming, height: number): number {
  return timing.kind === "resonant" ? (timing.mirror_Hz * (timing.bidirectional ? 2 : 1)) / height : timing.plane_rate_Hz;
}

/** A PMT as the scanner reads it: SimulatedPmt instances fit as they are. */
export interface DetectorOutput {
  readonly signalScale: number;
}

export interface ScannerOptions {
  /** rigd's PULL address; the scanner connects to it. */
  address: string;
  geometry: ScanGeometry;
  /** Default RESONANT. */
  timing?: ScanTiming;
  sample?: SyntheticSample;
  /** Read at every frame (a laser simulator fits as it is); default: nominal light. */
  laser?: LaserLight;
  /** One per channel, read at every frame; default: signal scale 1. */
  detectors?: readonly DetectorOutput[];
  /** Field of view at zoom 1 in µm (default 1000), and the zoom (default 2): the pixel size follows. */
  fov_um?: number;
  zoom?: number;
  /** Chance that an acquisition (one plane, all channels) is lost; never a stream's first or last frame, where no gap could show. */
  dropProbability?: number;
  /** Sends a malformed message after every this many frames (default: never). */
  malformedEvery?: number;
  /** Frames the send queue holds before frames are lost (default 1000). */
  queueFrames?: number;
  seed?: number;
}

export interface ScanSummary {
  /** Frames acquired, lost ones included. */
  frames: number;
  sent: number;
  /** Frames lost on purpose, because the simulator fell behind real time, and because the send queue was full. */
  dropped_injected: number;
  dropped_late: number;
  dropped_queue_full: number;
  /** Malformed messages sent. */
  malformed: number;
  seconds: number;
}

/**
 * How far the simulator may fall behind its scan clock before it loses acquisitions: a digitizer's memory holds
 * this much while the host is busy (real ones hold seconds; on two busy cores the scanner was seen 80 ms
 * behind). A frame rendered late shows the light as it is then, not as it was when scanned.
 */
const DIGITIZER_BUFFER_S = 0.25;

/** Channel 0 shows the calcium indicator, channel 1 the structural marker. */
const FLUOROPHORES: readonly Fluorophore[] = ["green", "red"];

/** One malformed message of each kind the receiver must reject, with the reason it should give. */
export function malformedMessages(g: ScanGeometry): { reason: RejectReason; what: string; parts: Buffer[] }[] {
  const bytesPerPixel = FRAME_DTYPES[g.dtype].BYTES_PER_ELEMENT;
  const pixels = Buffer.alloc(g.height * g.width * bytesPerPixel);
  const valid = { version: PROTOCOL_VERSION, counter: 0, hardware_time_s: 0, channel: 0, plane: 0, shape: [g.height, g.width], dtype: g.dtype };
  const header = (fields: object) => Buffer.from(JSON.stringify({ ...valid, ...fields }));
  return [
    { reason: "parts", what: "a header alone", parts: [header({})] },
    { reason: "parts", what: "three parts", parts: [header({}), pixels, pixels] },
    { reason: "header", what: "truncated JSON", parts: [Buffer.from('{"version": 1, "counter": '), pixels] },
    { reason: "header", what: "JSON that is not an object", parts: [Buffer.from("[1, 2, 3]"), pixels] },
    { reason: "header", what: "bytes that are not UTF-8", parts: [Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), pixels] },
    { reason: "header", what: "a 5000-byte header", parts: [header({ note: "x".repeat(5000) }), pixels] },
    { reason: "version", what: "protocol version 2", parts: [header({ version: 2 }), pixels] },
    { reason: "dtype", what: "an unknown dtype", parts: [header({ dtype: "uint12" }), pixels] },
    { reason: "dtype", what: "another source's dtype", parts: [header({ dtype: g.dtype === "float32" ? "uint8" : "float32" }), pixels] },
    { reason: "shape", what: "a zero height", parts: [header({ shape: [0, g.width] }), pixels] },
    { reason: "shape", what: "an absurd shape", parts: [header({ shape: [1e9, 1e9] }), pixels] },
    { reason: "shape", what: "three dimensions", parts: [header({ shape: [1, g.height, g.width] }), pixels] },
    { reason: "shape", what: "another source's shape", parts: [header({ shape: [g.height, g.width + 1] }), pixels] },
    { reason: "field", what: "the counter as text", parts: [header({ counter: "7" }), pixels] },
    { reason: "field", what: "no timestamp", parts: [header({ hardware_time_s: undefined }), pixels] },
    { reason: "field", what: "a channel out of range", parts: [header({ channel: g.channels }), pixels] },
    { reason: "field", what: "a zoom of zero", parts: [header({ scanner: { zoom: 0 } }), pixels] },
    { reason: "size", what: "one byte short", parts: [header({}), pixels.subarray(1)] },
    { reason: "size", what: "one pixel too many", parts: [header({}), Buffer.concat([pixels, pixels.subarray(0, bytesPerPixel)])] },
  ];
}

export class ScannerSimulator {
  readonly sample: SyntheticSample;
  readonly geometry: ScanGeometry;
  readonly timing: ScanTiming;
  laser: LaserLight;
  detectors: readonly DetectorOutput[];
  /** See ScannerOptions; read as a run starts. */
  dropProbability: number;
  private readonly rand: () => number;
  private stopped = false;

  constructor(private readonly options: ScannerOptions) {
    this.geometry = options.geometry;
    if (!(this.geometry.channels >= 1 && this.geometry.channels <= FLUOROPHORES.length)) {
      throw new Error(`the synthetic sample shows ${FLUOROPHORES.length} fluorophores (green, red): 1 or 2 channels, not ${this.geometry.channels}`);
    }
    this.timing = options.timing ?? RESONANT;
    this.sample = options.sample ?? new SyntheticSample(30, 0, options.seed);
    this.laser = options.laser ?? NOMINAL.laser;
    this.detectors = options.detectors ?? [];
    this.dropProbability = options.dropProbability ?? 0;
    this.rand = random(options.seed ?? 1);
  }

  get planeRate_Hz(): number {
    return planeRate(this.timing, this.geometry.height);
  }

  /** What the scanner reports in every header. */
  get state(): ScannerState {
    const zoom = this.options.zoom ?? 2;
    const field = (this.options.fov_um ?? 1000) / zoom;
    const pixel_size_um = [field / this.geometry.width, field / this.geometry.height] as const;
    if (this.timing.kind === "light-sheet") return { pixel_size_um, zoom };
    const { mirror_Hz, bidirectional } = this.timing;
    return { line_rate_Hz: mirror_Hz * (bidirectional ? 2 : 1), scan_direction: "horizontal", bidirectional, pixel_size_um, zoom };
  }

  /**
   * Renders a few acquisitions off the clock, so that a run's first frames are not late while the JIT compiles the
   * rendering and the sample works out where its cells show (a first 512² frame took 80 ms, later ones 2–3 ms).
   */
  warmUp(acquisitions = 20): void {
    for (let a = 0; a < acquisitions; a++) {
      for (let channel = 0; channel < this.geometry.channels; channel++) this.render(a / this.planeRate_Hz, channel, a % this.geometry.planes);
    }
  }

  /** One frame of `channel` at time t, in the light as the frame begins (the frame is timed by its start, protocol v1). */
  private render(t: number, channel: number, plane: number): FrameData {
    const { planes, height, width, dtype } = this.geometry;
    const conditions = { laser: this.laser, signalScale: this.detectors[channel]?.signalScale ?? 1 };
    const image = this.sample.image(width, height, t, FLUOROPHORES[channel]!, planes > 1 ? (plane + 0.5) / planes : undefined, conditions);
    return quantize(image, dtype);
  }

  /** Ends run() after the volume under way and one more (see run). */
  stop(): void {
    this.stopped = true;
  }

  /** Acquires `frames` frames (whole planes of all channels) in real time, or until stop(). */
  async run(frames = Infinity): Promise<ScanSummary> {
    const { address, malformedEvery = 0 } = this.options;
    const dropProbability = this.dropProbability;
    const { channels, planes, height, width, dtype } = this.geometry;
    // Hardware cannot wait: a full queue fails the send at once (EAGAIN) and the frame is lost.
    const socket = new Push({ sendTimeout: 0, sendHighWaterMark: this.options.queueFrames ?? 1000, linger: 2000 });
    socket.connect(address);
    const malformed = malformedEvery > 0 ? malformedMessages(this.geometry) : [];
    const summary: ScanSummary = { frames: 0, sent: 0, dropped_injected: 0, dropped_late: 0, dropped_queue_full: 0, malformed: 0, seconds: 0 };
    let acquisitions = Math.ceil(frames / channels);
    const rate = this.planeRate_Hz;
    const started = performance.now();
    // A digitizer delivers a frame once it has been scanned: each goes out when the next one begins.
    let renderMs = 0;
    const scanned: { parts: Buffer[]; malformed?: true }[] = [];
    const deliver = async () => {
      for (const { parts, malformed } of scanned.splice(0)) {
        const sent = await send(socket, parts);
        if (malformed) summary.malformed += sent ? 1 : 0;
        else if (sent) summary.sent++;
        else summary.dropped_queue_full++;
      }
    };
    try {
      for (let a = 0; a < acquisitions; a++) {
        // Stopping finishes the volume under way and one more, so every plane's stream ends on a frame
        // that is never lost and any earlier gap shows: a loss after a stream's last frame would be invisible.
        if (this.stopped) acquisitions = Math.min(acquisitions, (Math.ceil(a / planes) + 1) * planes);
        const t = a / rate;
        const wait = started + t * 1000 - performance.now();
        // Behind its clock it still lets the event loop turn once: a stop (a message) must reach a scanner that
        // cannot keep up, whose sends otherwise only ever await microtasks.
        await (wait > 0 ? sleep(wait) : setImmediate());
        // A real scanner acquires on its own clock whatever the host does, into the digitizer's memory: an
        // acquisition the simulator renders later than that memory would hold is lost (an overrun); one a little
        // late goes out with its own hardware time, as a busy host reads a digitizer's buffer late.
        const late = performance.now() - (started + t * 1000) > DIGITIZER_BUFFER_S * 1000;
        await deliver();
        // A real digitizer does not share rigd's event loop: the receiver takes the frames (and times their
        // arrival) before a long render of the next ones holds the loop, when the schedule leaves time.
        if (renderMs > 1 && started + (t + 1 / rate) * 1000 - performance.now() > 2 * renderMs + 2) await sleep(1);
        const rendering = performance.now();
        const counter = Math.floor(a / planes);
        const plane = a % planes;
        // Never the first or last frame of a plane's stream: no frame before or after could show the gap.
        const inner = a >= planes && a < acquisitions - planes;
        const lost = inner && (late || this.rand() < dropProbability);
        for (let channel = 0; channel < channels; channel++) {
          summary.frames++;
          if (lost) summary[late ? "dropped_late" : "dropped_injected"]++;
          else {
            const pixels = this.render(t, channel, plane);
            const header = { version: PROTOCOL_VERSION, counter, hardware_time_s: hardwareClock(t), channel, plane, shape: [height, width], dtype, scanner: this.state };
            scanned.push({ parts: [Buffer.from(JSON.stringify(header)), Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength)] });
          }
          if (malformedEvery > 0 && summary.frames % malformedEvery === 0) scanned.push({ parts: malformed[(summary.frames / malformedEvery - 1) % malformed.length]!.parts, malformed: true });
        }
        renderMs = performance.now() - rendering;
      }
      const end = started + (acquisitions / rate) * 1000 - performance.now();
      if (end > 0) await sleep(end);
      await deliver();
    } finally {
      socket.close(); // linger: what is queued still goes out
    }
    summary.seconds = (performance.now() - started) / 1000;
    return summary;
  }
}

/**
 * The acquisition hardware's own clock reading at time `t`: like a digitizer's or camera's it runs a few
 * ppm off and counts whole microseconds, so frame intervals differ by a tick, never exactly equal.
 */
export const hardwareClock = (t: number) => Math.round(t * (1 + 25e-6) * 1e6) / 1e6;

/** Queues a message if there is room; false when the queue is full. */
async function send(socket: Push, parts: Buffer[]): Promise<boolean> {
  try {
    await socket.send(parts);
    return true;
  } catch (e) {
    if ((e as { code?: string }).code === "EAGAIN") return false;
    throw e;
  }
}
