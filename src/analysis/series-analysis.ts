// The online analysis of one planar series, or of a volumetric one plane by plane: motion, ROI traces and summary
// images, frame by frame. Pure computation on in-memory frames; worker.ts runs it off the frame path. A plane (of
// either) is a PlaneAnalysis; a series adds the ΔF/F baseline of its ROIs, which in a volume span planes.
import { MotionEstimator, ReferenceBuilder, type Shift } from "./motion.js";
import { SummaryAccumulator, type SummaryImages } from "./summary.js";
import { voxelsByDepth } from "./plan.js";
import { RoiMasks, RunningBaseline, type PixelMask } from "./traces.js";

/** One ROI of a volume: [x, y, z, weight] rows (ndx-microscopy's voxel_mask), z the depth plane. */
export type VoxelMask = readonly (readonly [x: number, y: number, z: number, weight: number])[];

interface Common {
  /** The series, as results name it. */
  series: string;
  /** Frame (plane) size in pixels: `height` rows of `width`, row-major as frames arrive. */
  width: number;
  height: number;
  /** Samples per second of this series (frames, or volumes), to turn the windows given in seconds into samples. */
  rate_Hz: number;
  summary_images: boolean;
  /** Running-percentile baseline of ΔF/F. */
  baseline: { window_s: number; percentile: number };
}

export interface SeriesAnalysisConfig extends Common {
  /**
   * Rigid motion against a reference: the aligned mean of the first `reference_s` seconds of frames (see
   * ReferenceBuilder), or an image given row-major (height × width). Absent: no motion estimate, masks used
   * where they are, summary images of the frames as they are.
   */
  motion?: { reference_s: number } | { reference: Float32Array };
  /** ROI masks ([x, y, weight] rows, at rest: the motion estimate moves them); absent or empty: no traces. */
  rois?: readonly PixelMask[];
}

/** A volumetric series: `depths` planes a volume, each analysed as a planar series of its own with one ROI table over all. */
export interface VolumeAnalysisConfig extends Common {
  depths: number;
  /** Each depth plane against its own reference: the aligned mean of its planes in the first `reference_s` seconds. */
  motion?: { reference_s: number };
  /** ROI masks as voxels ([x, y, z, weight] rows, at rest: each plane's motion moves its voxels); absent or empty: no traces. */
  rois?: readonly VoxelMask[];
}

export type AnalysisConfig = SeriesAnalysisConfig | VolumeAnalysisConfig;

/** What one frame gave; the arrays are reused for the next frame: copy what is kept. */
export interface FrameAnalysis {
  /** The frame's shift against the reference in pixels; null while the reference is being built, or without motion. */
  shift: Shift | null;
  /** Weighted-mean fluorescence per ROI (counts, as the frame's pixels), in the order of the ROIs. */
  f: Float32Array;
  /** ΔF/F per ROI (dimensionless). */
  dff: Float32Array;
}

/** What one volume gave (fresh arrays). */
export interface VolumeResult {
  /** The volume's time: that of its first plane (the volumetric series' timestamp). */
  time: number;
  /** Per depth plane, its shift against that plane's reference in pixels; null where none (reference being built, plane not analysed, no motion). */
  shifts: (Shift | null)[];
  /** Weighted-mean fluorescence of each ROI over all its voxels (counts), and ΔF/F; NaN for an ROI with voxels in a plane not analysed. */
  f: Float32Array;
  dff: Float32Array;
  /** Planes of the volume analysed (the rest were skipped). */
  planes: number;
}

/** Motion, ROI means and summary images of the frames of one plane. */
class PlaneAnalysis {
  private estimator: MotionEstimator | undefined;
  /** Until the reference is built (then dropped: a frame's sums, kept per plane of a volume). */
  private reference: ReferenceBuilder | undefined;
  private readonly summary: SummaryAccumulator | undefined;
  readonly masks: RoiMasks | undefined;
  /** The last frame's shift (a copy: the estimator reuses its own). */
  shift: Shift | null = null;

  constructor(
    private readonly width: number,
    private readonly height: number,
    motion: { reference_s: number } | { reference: Float32Array } | undefined,
    private readonly referenceFrames: number,
    summary: boolean,
    rois: readonly PixelMask[],
  ) {
    if (motion && "reference" in motion) this.estimator = new MotionEstimator(width, height, motion.reference);
    this.reference = motion && "reference_s" in motion ? new ReferenceBuilder(width, height) : undefined;
    this.summary = summary ? new SummaryAccumulator(width, height) : undefined;
    this.masks = rois.length ? new RoiMasks(width, height, rois) : undefined;
  }

  /** The next frame's shift (null while the reference is built), then its ROIs' weighted means into `f`. */
  traces(frame: ArrayLike<number>, f: Float32Array): Shift | null {
    this.shift = null;
    if (this.reference) {
      this.reference.add(frame);
      if (this.reference.count >= this.referenceFrames) {
        this.estimator = new MotionEstimator(this.width, this.height, this.reference.image());
        this.reference = undefined;
      }
    } else if (this.estimator) this.shift = { ...this.estimator.estimate(frame) };
    this.masks?.fluorescence(frame, this.shift?.dx ?? 0, this.shift?.dy ?? 0, f);
    return this.shift;
  }

  /** Adds the frame last given to traces() to the summary images, motion-corrected by its shift. */
  summarize(frame: ArrayLike<number>): void {
    this.summary?.add(frame, this.shift?.dx ?? 0, this.shift?.dy ?? 0);
  }

  summaryImages(): SummaryImages | undefined {
    return this.summary?.images();
  }
}

const windowOf = (config: Common) => Math.max(1, Math.round(config.baseline.window_s * config.rate_Hz));
const referenceOf = (config: Common & { motion?: object }) =>
  config.motion && "reference_s" in config.motion ? Math.max(1, Math.round((config.motion.reference_s as number) * config.rate_Hz)) : 0;

export class SeriesAnalysis {
  private readonly plane: PlaneAnalysis;
  private readonly baseline: RunningBaseline | undefined;
  private readonly result: FrameAnalysis;

  /** Throws (RoiMasks') naming an ROI outside the frame or without a pixel of weight > 0. */
  constructor(readonly config: SeriesAnalysisConfig) {
    const rois = config.rois ?? [];
    this.plane = new PlaneAnalysis(config.width, config.height, config.motion, referenceOf(config), config.summary_images, rois);
    if (rois.length) this.baseline = new RunningBaseline(rois.length, windowOf(config), config.baseline.percentile);
    this.result = { shift: null, f: new Float32Array(rois.length), dff: new Float32Array(rois.length) };
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
    r.shift = this.plane.traces(frame, r.f);
    this.baseline?.update(r.f, r.dff);
    return r;
  }

  /** Adds the frame last given to traces() to the summary images, motion-corrected by its shift. */
  summarize(frame: ArrayLike<number>): void {
    this.plane.summarize(frame);
  }

  /** The summary images of the frames so far; undefined unless asked for. */
  summaryImages(): SummaryImages | undefined {
    return this.plane.summaryImages();
  }
}

/**
 * A volumetric series plane by plane: each depth has its own reference, motion, summary images and the part of
 * each ROI's voxels in it; an ROI's F is the weighted mean over all its voxels (each plane's part by its
 * weights), ΔF/F against one running baseline per ROI, per volume. Planes come as they arrive, in time order,
 * any of them possibly skipped.
 */
export class VolumeAnalysis {
  private readonly planes: PlaneAnalysis[];
  /** Per depth: which ROIs have voxels in it (their indices), their weight there, and their means in the last plane. */
  private readonly members: Int32Array[];
  private readonly weights: Float64Array[];
  private readonly means: Float32Array[];
  private readonly baseline: RunningBaseline | undefined;
  private readonly roiCount: number;
  private current: { time: number; shifts: (Shift | null)[]; seen: Uint8Array; sum: Float64Array; weight: Float64Array; planes: number } | undefined;

  /** Throws naming an ROI with a voxel outside the width × height × depths volume, or without a voxel of weight > 0. */
  constructor(readonly config: VolumeAnalysisConfig) {
    const { width, height } = config;
    const rois = config.rois ?? [];
    this.roiCount = rois.length;
    const byDepth = voxelsByDepth(rois, width, height, config.depths);
    this.planes = byDepth.map((d) => new PlaneAnalysis(width, height, config.motion, referenceOf(config), config.summary_images, d.masks));
    this.members = byDepth.map((d) => Int32Array.from(d.members));
    this.weights = byDepth.map((d) => Float64Array.from(d.weights));
    this.means = byDepth.map((d) => new Float32Array(d.members.length));
    if (rois.length) this.baseline = new RunningBaseline(rois.length, windowOf(config), config.baseline.percentile);
  }

  /**
   * Motion and ROI means of the plane at `depth` of the volume at `time` (row-major, height × width). Returns the
   * volumes this completes: the one before, if `time` begins another before it had its last plane, and this one
   * once its last depth is in. Follow it with summarize() of the same plane.
   */
  traces(time: number, depth: number, frame: ArrayLike<number>): VolumeResult[] {
    const done: VolumeResult[] = [];
    if (this.current && this.current.time !== time) done.push(this.end()!);
    const { depths } = this.config;
    const n = this.roiCount;
    const v = (this.current ??= { time, shifts: new Array<Shift | null>(depths).fill(null), seen: new Uint8Array(depths), sum: new Float64Array(n), weight: new Float64Array(n), planes: 0 });
    const means = this.means[depth]!;
    v.shifts[depth] = this.planes[depth]!.traces(frame, means);
    v.seen[depth] = 1;
    v.planes++;
    const members = this.members[depth]!;
    const weights = this.weights[depth]!;
    // A part moved wholly off the frame is left out, as pixels moved off are within a plane.
    for (let k = 0; k < members.length; k++) {
      if (Number.isNaN(means[k]!)) continue;
      const i = members[k]!;
      v.sum[i] = v.sum[i]! + means[k]! * weights[k]!;
      v.weight[i] = v.weight[i]! + weights[k]!;
    }
    if (depth === depths - 1) done.push(this.end()!);
    return done;
  }

  /** Adds the plane last given to traces() at `depth` to that depth's summary images, motion-corrected by its shift. */
  summarize(depth: number, frame: ArrayLike<number>): void {
    this.planes[depth]!.summarize(frame);
  }

  /** The volume under way, ended as it is (at finish: its missing planes count as skipped); undefined if none. */
  end(): VolumeResult | undefined {
    const v = this.current;
    if (!v) return undefined;
    this.current = undefined;
    const f = Float32Array.from(v.sum, (s, i) => (v.weight[i]! > 0 ? s / v.weight[i]! : NaN));
    // An ROI with voxels in a plane not analysed has no F: the planes it was seen in would bias it.
    this.members.forEach((members, z) => {
      if (!v.seen[z]) for (const i of members) f[i] = NaN;
    });
    const dff = new Float32Array(this.roiCount);
    this.baseline?.update(f, dff);
    return { time: v.time, shifts: v.shifts, f, dff, planes: v.planes };
  }

  /** Each depth's summary images of its planes so far; undefined unless asked for. */
  summaryImages(): SummaryImages[] | undefined {
    return this.config.summary_images ? this.planes.map((p) => p.summaryImages()!) : undefined;
  }
}
