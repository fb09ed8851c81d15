// ROI traces: each ROI's weighted-mask fluorescence per frame, and its ΔF/F against a running baseline.
import { copyFrame, kernels, WasmArray } from "./kernels/index.js";
import { checkPixelMasks } from "./plan.js";

/** One ROI as ndx-microscopy's PlanarSegmentation pixel_mask gives it: [x, y, weight] rows, x along the width. */
export type PixelMask = readonly (readonly [x: number, y: number, weight: number])[];

/**
 * Every ROI's mask, packed for one pass over a frame: cut into runs of pixels consecutive in the frame (a row's
 * stretch of one ROI), the runs of all ROIs in the frame's order, their weights end to end in that order. A
 * frame is then read once from top to bottom, each row while it is in the cache for every ROI on it (ROIs
 * overlap: a mask pixel of the benchmark's 200 cells is in two of them on average), with no offset stored per
 * pixel. Pixels with a weight ≤ 0 are not part of an ROI (ndx-microscopy's convention). The runs live in the
 * WebAssembly kernels' memory: a uint16 frame's sums are taken there, several pixels an instruction (kernels/).
 */
export class RoiMasks {
  readonly count: number;
  private readonly weights: WasmArray<Float32Array>;
  /** Run r: its ROI, its first pixel's frame offset (y · width + x), and its weights from[r] to from[r + 1]. */
  private readonly runRoi: WasmArray<Int32Array>;
  private readonly runOffset: WasmArray<Int32Array>;
  private readonly runFrom: WasmArray<Int32Array>;
  /** Each ROI's bounding box [x0, y0, x1, y1] (inclusive): a mask moved with its box inside the frame needs no check per pixel. */
  private readonly boxes: Int32Array;
  /** Each ROI's sum of weights: the norm of a mask wholly inside the frame. */
  private readonly norms: Float64Array;
  /** Per frame, per ROI: its sum, its norm, and whether its box is inside the frame moved. */
  private readonly sums: WasmArray<Float64Array>;
  private readonly norm: WasmArray<Float64Array>;
  private readonly inside: WasmArray<Uint8Array>;

  /** Throws naming the ROI (by index) with a pixel outside the width × height frame or no pixel of weight > 0. */
  constructor(
    readonly width: number,
    readonly height: number,
    masks: readonly PixelMask[],
  ) {
    this.count = masks.length;
    this.boxes = new Int32Array(4 * masks.length);
    this.norms = new Float64Array(masks.length);
    const runs: { roi: number; offset: number; weights: number[] }[] = [];
    checkPixelMasks(masks, width, height);
    masks.forEach((m, i) => {
      const pixels = m.filter(([, , w]) => w > 0);
      const box = [Infinity, Infinity, -Infinity, -Infinity];
      for (const [x, y, w] of pixels) {
        box.splice(0, 4, Math.min(box[0]!, x), Math.min(box[1]!, y), Math.max(box[2]!, x), Math.max(box[3]!, y));
        this.norms[i] = this.norms[i]! + w;
      }
      this.boxes.set(box, 4 * i);
      pixels.sort((a, b) => a[1] - b[1] || a[0] - b[0]);
      let previous = -2;
      for (const [x, y, w] of pixels) {
        const offset = y * width + x;
        // A new run unless this pixel follows the last in the frame's memory, on the same row.
        if (offset !== previous + 1 || x === 0) runs.push({ roi: i, offset, weights: [] });
        runs.at(-1)!.weights.push(w);
        previous = offset;
      }
    });
    runs.sort((a, b) => a.offset - b.offset || a.roi - b.roi);
    this.runRoi = new WasmArray(Int32Array, runs.length);
    this.runRoi.view.set(runs.map((r) => r.roi));
    this.runOffset = new WasmArray(Int32Array, runs.length);
    this.runOffset.view.set(runs.map((r) => r.offset));
    this.runFrom = new WasmArray(Int32Array, runs.length + 1);
    const runFrom = this.runFrom.view;
    runs.forEach((r, k) => (runFrom[k + 1] = runFrom[k]! + r.weights.length));
    this.weights = new WasmArray(Float32Array, runFrom[runs.length]!);
    this.weights.view.set(runs.flatMap((r) => r.weights));
    this.sums = new WasmArray(Float64Array, masks.length);
    this.norm = new WasmArray(Float64Array, masks.length);
    this.inside = new WasmArray(Uint8Array, masks.length);
  }

  /**
   * Weighted-mean fluorescence of each ROI in `frame` (row-major, `width` per row) into `out`, with every mask
   * moved by (dx, dy) rounded to whole pixels — one read per mask pixel, where interpolating would take four;
   * half a pixel is little against a cell 20–40 px across. Mask pixels moved off the frame are left out.
   */
  fluorescence(frame: ArrayLike<number>, dx: number, dy: number, out: Float32Array): void {
    const sx = Math.round(dx);
    const sy = Math.round(dy);
    const { width, height, boxes, norms } = this;
    const sums = this.sums.view;
    const norm = this.norm.view;
    const inside = this.inside.view;
    for (let i = 0; i < this.count; i++) {
      const b = 4 * i;
      inside[i] = boxes[b]! + sx >= 0 && boxes[b + 1]! + sy >= 0 && boxes[b + 2]! + sx < width && boxes[b + 3]! + sy < height ? 1 : 0;
      sums[i] = 0;
      norm[i] = inside[i] ? norms[i]! : 0;
    }
    if (frame instanceof Uint16Array) {
      const { weights, runRoi, runOffset, runFrom } = this;
      kernels.maskSumsU16(copyFrame(frame), weights.at, runRoi.at, runOffset.at, runFrom.at, runRoi.length, this.inside.at, this.sums.at, this.norm.at, width, height, sx, sy);
    } else this.maskSums(frame, sx, sy);
    // Views again: copying the first frame in may have grown the memory.
    const [f, n] = [this.sums.view, this.norm.view];
    for (let i = 0; i < this.count; i++) out[i] = n[i]! > 0 ? f[i]! / n[i]! : NaN;
  }

  /** maskSumsU16's sums (see kernels/assembly/kernels.ts) in JS, for frames other than uint16. */
  private maskSums(frame: ArrayLike<number>, sx: number, sy: number): void {
    const { width, height } = this;
    const [weights, runRoi, runOffset, runFrom, sums, norm, inside] = [this.weights.view, this.runRoi.view, this.runOffset.view, this.runFrom.view, this.sums.view, this.norm.view, this.inside.view];
    const shift = sy * width + sx;
    for (let r = 0; r < runRoi.length; r++) {
      const i = runRoi[r]!;
      let k = runFrom[r]!;
      let end = runFrom[r + 1]!;
      // The frame offset of weight k is base + k.
      const base = runOffset[r]! + shift - k;
      if (!inside[i]) {
        // Only the run's pixels moved inside the frame, and their weights in the norm.
        const y = Math.floor(runOffset[r]! / width) + sy;
        if (y < 0 || y >= height) continue;
        const x = (runOffset[r]! % width) + sx;
        const first = k;
        k = Math.max(first, first - x);
        end = Math.min(end, first + width - x);
        for (let j = k; j < end; j++) norm[i] = norm[i]! + weights[j]!;
      }
      // Four partial sums: one would make every pixel wait for the previous addition.
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (; k + 3 < end; k += 4) {
        s0 += weights[k]! * frame[base + k]!;
        s1 += weights[k + 1]! * frame[base + k + 1]!;
        s2 += weights[k + 2]! * frame[base + k + 2]!;
        s3 += weights[k + 3]! * frame[base + k + 3]!;
      }
      for (; k < end; k++) s0 += weights[k]! * frame[base + k]!;
      sums[i] = sums[i]! + (s0 + s1 + s2 + s3);
    }
  }
}

/**
 * ΔF/F = (F − F0) / F0 of each ROI, F0 a running low percentile of F over the last `window` frames (a
 * baseline that follows slow drift and bleaching but not transients, as suite2p's "maximin" and CaImAn's
 * running percentile do). Each ROI keeps its window as a ring and a sorted copy, updated by binary search
 * and one shift of the values between the oldest's place and the newest's: O(window) per ROI and frame at
 * worst, no allocation.
 */
export class RunningBaseline {
  /** Per ROI its window as a ring (oldest first at `next` once full) and sorted, float32 as F is: half the memory moved. */
  private readonly ring: Float32Array;
  private readonly sorted: Float32Array;
  private readonly last: Float32Array;
  private filled = 0;
  private next = 0;

  constructor(
    readonly count: number,
    readonly window: number,
    /** The percentile taken, 0–100. */
    readonly percentile: number,
  ) {
    if (!(window >= 1 && Number.isInteger(window))) throw new Error(`baseline window must be a whole number of frames ≥ 1, got ${window}`);
    if (!(percentile >= 0 && percentile <= 100)) throw new Error(`baseline percentile must be from 0 to 100, got ${percentile}`);
    this.ring = new Float32Array(count * window);
    this.sorted = new Float32Array(count * window);
    this.last = new Float32Array(count);
  }

  /**
   * Adds one frame's F (taken as float32) and writes ΔF/F into `dff`. A NaN (an ROI moved off the frame) gives a
   * NaN ΔF/F and holds the ROI's last F in the window, so that every ROI's window stays the same frames.
   */
  update(f: ArrayLike<number>, dff: Float32Array): void {
    const { window: w, sorted, ring, last } = this;
    const full = this.filled === w;
    // Values in the window before and after this frame's comes in.
    const held = this.filled;
    const n = full ? w : held + 1;
    const rank = Math.min(n - 1, Math.floor((this.percentile / 100) * n));
    for (let i = 0; i < this.count; i++) {
      const base = i * w;
      const given = f[i]!;
      const value = Number.isNaN(given) ? last[i]! : Math.fround(given);
      last[i] = value;
      const at = lowerBound(sorted, base, base + held, value);
      if (full) {
        // The oldest value leaves as this one comes in: only the values between the two places move, by one.
        const old = lowerBound(sorted, base, base + held, ring[base + this.next]!);
        if (at > old) {
          sorted.copyWithin(old, old + 1, at);
          sorted[at - 1] = value;
        } else {
          sorted.copyWithin(at + 1, at, old);
          sorted[at] = value;
        }
      } else {
        sorted.copyWithin(at + 1, at, base + held);
        sorted[at] = value;
      }
      ring[base + this.next] = value;
      const f0 = sorted[base + rank]!;
      dff[i] = f0 > 0 && !Number.isNaN(given) ? (value - f0) / f0 : NaN;
    }
    this.next = (this.next + 1) % w;
    if (!full) this.filled++;
  }
}

/** First index of `a[from…to)` (sorted) whose value is ≥ v, or `to`. */
function lowerBound(a: Float32Array, from: number, to: number, v: number): number {
  let lo = from;
  for (let hi = to; lo < hi; ) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
