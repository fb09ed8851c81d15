// The online analysis of one planar series (or one plane): motion, ROI traces and summary images, frame by
// frame. Pure computation on in-memory frames; analysis-worker.ts runs it off the frame path.
import { MotionEstimator, ReferenceBuilder, type Shift } from "./motion.js";
import { SummaryAccumulator, type SummaryImages } from "./summary.js";
import { RoiMasks, RunningBaseline, type PixelMask } from "./traces.js";

export interface SeriesAnalysisConfig {
  /** The series (or plane) analysed, as results name it. */
  series: string;
  /** Frame size in pixels: `height` rows of `width`, row-major as frames arrive. */
  width: number;
  height: number;
  /** Frames per second of this series, to turn the windows given in seconds into frames. */
  rate_Hz: number;
  /**
   * Rigid motion against a reference: the aligned mean of the first `reference_s` seconds of frames (see
   * ReferenceBuilder), or an image given row-major (height × width). Absent: no motion estimate, masks used
   * where they are, summary images of the frames as they are.
   */
  motion?: { reference_s: number } | { reference: Float32Array };
  summary_images: boolean;
  /** ROI masks ([x, y, weight] rows, at rest: the motion estimate moves them); absent or empty: no traces. */
  rois?: readonly PixelMask[];
  /** Running-percentile baseline of ΔF/F. */
  baseline: { window_s: number; percentile: number };
}

/** What one frame gave; the arrays are reused for the next frame: copy what is kept. */
export interface FrameAnalysis {
  /** The frame's shift against the reference in pixels; null while the reference is being built, or without motion. */
  shift: Shift | null;
  /** Weighted-mean fluorescence per ROI (counts, as the frame's pixels), in the order of the ROIs. */
  f: Float32Array;
  /** ΔF/F per ROI (dimensionless). */
  dff: Float32Array;
}

export class SeriesAnalysis {
  private estimator: MotionEstimator | undefined;
  private readonly reference: ReferenceBuilder | undefined;
  private readonly referenceFrames: number;
  private readonly summary: SummaryAccumulator | undefined;
  private readonly masks: RoiMasks | undefined;
  private readonly baseline: RunningBaseline | undefined;
  private readonly result: FrameAnalysis;

  constructor(readonly config: SeriesAnalysisConfig) {
    const { width, height, motion, rois, rate_Hz } = config;
    if (motion && "reference" in motion) this.estimator = new MotionEstimator(width, height, motion.reference);
    this.reference = motion && "reference_s" in motion ? new ReferenceBuilder(width, height) : undefined;
    this.referenceFrames = motion && "reference_s" in motion ? Math.max(1, Math.round(motion.reference_s * rate_Hz)) : 0;
    this.summary = config.summary_images ? new SummaryAccumulator(width, height) : undefined;
    if (rois?.length) {
      this.masks = new RoiMasks(width, height, rois);
      this.baseline = new RunningBaseline(rois.length, Math.max(1, Math.round(config.baseline.window_s * rate_Hz)), config.baseline.percentile);
    }
    const count = rois?.length ?? 0;
    this.result = { shift: null, f: new Float32Array(count), dff: new Float32Array(count) };
  }

  get motion(): boolean {
    return this.config.motion !== undefined;
  }

  get roiCount(): number {
    return this.masks?.count ?? 0;
  }

  /** Analyses the next frame (row-major, height × width): traces() then summarize(). Frames must come in time order; some may be skipped. */
  add(frame: ArrayLike<number>): FrameAnalysis {
    const r = this.traces(frame);
    this.summarize(frame);
    return r;
  }

  /**
   * The next frame's motion and ROI traces, without its summary images: what closed-loop code waits for. Follow
   * it with summarize() of the same frame before the next one.
   */
  traces(frame: ArrayLike<number>): FrameAnalysis {
    const r = this.result;
    r.shift = null;
    if (this.reference && !this.estimator) {
      this.reference.add(frame);
      if (this.reference.count >= this.referenceFrames) this.estimator = new MotionEstimator(this.config.width, this.config.height, this.reference.image());
    } else if (this.estimator) r.shift = this.estimator.estimate(frame);
    if (this.masks) {
      this.masks.fluorescence(frame, r.shift?.dx ?? 0, r.shift?.dy ?? 0, r.f);
      this.baseline!.update(r.f, r.dff);
    }
    return r;
  }

  /** Adds the frame last given to traces() to the summary images, motion-corrected by its shift. */
  summarize(frame: ArrayLike<number>): void {
    this.summary?.add(frame, this.result.shift?.dx ?? 0, this.result.shift?.dy ?? 0);
  }

  /** The summary images of the frames so far; undefined unless asked for. */
  summaryImages(): SummaryImages | undefined {
    return this.summary?.images();
  }
}
