// OnlineAnalysis: the main-thread face of the analysis worker. Off the frame path: offer() copies a frame into
// a free slot of the analysis' own small pool and posts the slot, or — when every slot is still being analysed —
// skips the frame and counts it. It never waits and never holds a frame the writer needs.
import type { Worker } from "node:worker_threads";
import { Subject } from "rxjs";
import { copyBytes, FrameSlots } from "../frame-slots.js";
import { startWorker } from "../threads.js";
import type { Shift } from "./motion.js";
import type { PixelType, Request, Response } from "./protocol.js";
import type { AnalysisConfig } from "./series-analysis.js";
import type { SummaryImages } from "./summary.js";

/** What the analysis made of one frame (or volume: of its planes analysed). */
export interface FrameResult {
  series: string;
  /** The frame's (volume's) time, s on the session clock, and its (first plane's) hardware_time_s as its producer stamped it (null: none). */
  time: number;
  hardwareTime: number | null;
  /** When the frame arrived and when its analysis was done, ms since the epoch (performance.timeOrigin + now). */
  received: number;
  done: number;
  /**
   * Per depth plane (one for a planar series), the shift against its reference in pixels (+x along the width, +y
   * down the rows); null while the reference is built, without motion, or for a plane not analysed.
   */
  shifts: (Shift | null)[];
  /** Planes analysed: 1 for a frame, those of the volume not skipped for a volume. */
  planes: number;
  /** Weighted-mask fluorescence per ROI (the frame's counts) and ΔF/F, in the order of the series' ROIs. */
  f: Float32Array;
  dff: Float32Array;
}

/** Slots per series analysed: frames (planes) the worker may be behind before frames are skipped (~130 ms at 30 Hz). */
const SLOTS_PER_SERIES = 4;

export class OnlineAnalysis {
  /** Every frame analysed, in order per series. */
  readonly results$ = new Subject<FrameResult>();
  /** Per series: frames (planes, for a volumetric series) offered, and skipped because the worker was behind. */
  readonly counts = new Map<string, { offered: number; skipped: number }>();
  private readonly index = new Map<string, number>();
  private readonly slots: FrameSlots;
  private finished: ((images: (SummaryImages[] | undefined)[]) => void) | undefined;
  private failure: ((e: Error) => void) | undefined;
  private error: Error | undefined;

  private constructor(
    private readonly worker: Worker,
    readonly series: readonly AnalysisConfig[],
  ) {
    series.forEach((s, i) => {
      this.index.set(s.series, i);
      this.counts.set(s.series, { offered: 0, skipped: 0 });
    });
    // Four bytes a pixel holds any pixel type.
    const slotBytes = Math.max(...series.map((s) => s.width * s.height * 4));
    this.slots = FrameSlots.create(slotBytes, slotBytes * SLOTS_PER_SERIES * series.length, SLOTS_PER_SERIES * series.length);
    worker.on("message", (msg: Response) => this.receive(msg));
    worker.on("error", (e) => this.fail(new Error(`analysis worker crashed: ${e.message}`)));
    worker.postMessage({ op: "start", series: [...series], slots: this.slots.handle } satisfies Request);
  }

  /** Starts the worker for `series` (a config error there surfaces as `errors`/finish()). */
  static start(series: readonly AnalysisConfig[]): OnlineAnalysis {
    return new OnlineAnalysis(startWorker(import.meta.url, "./worker.js"), series);
  }

  /**
   * Offers one frame of `series` (row-major height × width) — of a volumetric series, the plane at `depth` of the
   * volume at `time` (its first plane's time) — copied and posted if a slot is free, else skipped and counted.
   * Returns whether it will be analysed (false for a series not analysed, which is not counted).
   */
  offer(series: string, time: number, hardwareTime: number | null, data: Uint8Array | Uint16Array | Int16Array | Float32Array, received: number, depth = 0): boolean {
    const i = this.index.get(series);
    if (i === undefined) return false;
    const counts = this.counts.get(series)!;
    counts.offered++;
    // After a failure of the worker every frame is skipped (counted; finish() then throws why).
    const slot = this.error ? undefined : this.slots.acquire(data.byteLength);
    if (!slot) {
      counts.skipped++;
      return false;
    }
    const type = data.constructor.name as PixelType;
    copyBytes(this.slots.view(slot, Uint8Array), data);
    this.worker.postMessage({ op: "frame", series: i, depth, slot, type, time, hardwareTime, received } satisfies Request);
    return true;
  }

  /**
   * Waits for every frame offered to be analysed (a volume missing planes ends as it is); resolves with each
   * series' summary images per depth plane (one for a planar series; undefined where not asked for).
   */
  async finish(): Promise<Map<string, SummaryImages[] | undefined>> {
    if (this.error) throw this.error;
    const images = await new Promise<(SummaryImages[] | undefined)[]>((resolve, reject) => {
      this.finished = resolve;
      this.failure = reject;
      this.worker.postMessage({ op: "finish" } satisfies Request);
    });
    return new Map(this.series.map((s, i) => [s.series, images[i]]));
  }

  async close(): Promise<void> {
    this.results$.complete();
    await this.worker.terminate();
    this.slots.detach();
  }

  private receive(msg: Response): void {
    if (msg.kind === "result") {
      const { kind: _, series, ...rest } = msg;
      this.results$.next({ series: this.series[series]!.series, ...rest });
    } else if (msg.kind === "summaries") this.finished?.(msg.images);
    else this.fail(new Error(`online analysis: ${msg.message}`));
  }

  private fail(e: Error): void {
    this.error ??= e;
    this.failure?.(e);
  }
}
