// ROI traces: each ROI's weighted-mask fluorescence per frame, and its ΔF/F against a running baseline.

/** One ROI as ndx-microscopy's PlanarSegmentation pixel_mask gives it: [x, y, weight] rows, x along the width. */
export type PixelMask = readonly (readonly [x: number, y: number, weight: number])[];

/**
 * Every ROI's mask, packed for one pass over a frame: pixels (in row-major order) and weights end to end (CSR),
 * pixels `start[i]` to `start[i + 1]` being ROI i, cut into runs of pixels consecutive in the frame so that a
 * frame is read run by run, with no offset stored per pixel. Pixels with a weight ≤ 0 are not part of an ROI
 * (ndx-microscopy's convention).
 */
export class RoiMasks {
  readonly count: number;
  private readonly start: Int32Array;
  private readonly xs: Int32Array;
  private readonly ys: Int32Array;
  private readonly weights: Float32Array;
  /** Runs `runStart[i]` to `runStart[i + 1]` are ROI i's. */
  private readonly runStart: Int32Array;
  /** Each run's end (a pixel index), and its base: the frame offset (y · width + x) of its pixel k is base + k. */
  private readonly runEnd: Int32Array;
  private readonly runBase: Int32Array;
  /** Each ROI's bounding box [x0, y0, x1, y1] (inclusive): a mask moved with its box inside the frame needs no check per pixel. */
  private readonly boxes: Int32Array;
  /** Each ROI's sum of weights: the norm of a mask wholly inside the frame. */
  private readonly norms: Float64Array;

  /** Throws naming the ROI (by index) with a pixel outside the width × height frame or no pixel of weight > 0. */
  constructor(
    readonly width: number,
    readonly height: number,
    masks: readonly PixelMask[],
  ) {
    this.count = masks.length;
    const kept = masks.map((m, i) => {
      const pixels = m.filter(([, , w]) => w > 0);
      if (pixels.length === 0) throw new Error(`ROI ${i} has no pixel with a weight > 0`);
      for (const [x, y] of pixels) {
        if (!Number.isInteger(x) || !Number.isInteger(y) || x < 0 || y < 0 || x >= width || y >= height) {
          throw new Error(`ROI ${i} pixel (${x}, ${y}) lies outside the ${width} × ${height} frame (x < ${width}, y < ${height})`);
        }
      }
      return pixels.sort((a, b) => a[1] - b[1] || a[0] - b[0]);
    });
    const total = kept.reduce((n, m) => n + m.length, 0);
    this.start = new Int32Array(masks.length + 1);
    this.xs = new Int32Array(total);
    this.ys = new Int32Array(total);
    this.weights = new Float32Array(total);
    this.runStart = new Int32Array(masks.length + 1);
    const runEnd: number[] = [];
    const runBase: number[] = [];
    this.boxes = new Int32Array(4 * masks.length);
    this.norms = new Float64Array(masks.length);
    let k = 0;
    kept.forEach((mask, i) => {
      const box = [Infinity, Infinity, -Infinity, -Infinity];
      let previous = -2;
      for (const [x, y, w] of mask) {
        const offset = y * width + x;
        // A new run unless this pixel follows the last in the frame's memory.
        if (offset !== previous + 1) {
          if (k > this.start[i]!) runEnd.push(k);
          runBase.push(offset - k);
        }
        previous = offset;
        this.xs[k] = x;
        this.ys[k] = y;
        this.weights[k++] = w;
        this.norms[i] = this.norms[i]! + w;
        box.splice(0, 4, Math.min(box[0]!, x), Math.min(box[1]!, y), Math.max(box[2]!, x), Math.max(box[3]!, y));
      }
      runEnd.push(k);
      this.boxes.set(box, 4 * i);
      this.start[i + 1] = k;
      this.runStart[i + 1] = runEnd.length;
    });
    this.runEnd = Int32Array.from(runEnd);
    this.runBase = Int32Array.from(runBase);
  }

  /**
   * Weighted-mean fluorescence of each ROI in `frame` (row-major, `width` per row) into `out`, with every mask
   * moved by (dx, dy) rounded to whole pixels — one read per mask pixel, where interpolating would take four;
   * half a pixel is little against a cell 20–40 px across. Mask pixels moved off the frame are left out.
   */
  fluorescence(frame: ArrayLike<number>, dx: number, dy: number, out: Float32Array): void {
    const sx = Math.round(dx);
    const sy = Math.round(dy);
    const shift = sy * this.width + sx;
    const { width, height, xs, ys, weights, start, boxes, runStart, runEnd, runBase } = this;
    for (let i = 0; i < this.count; i++) {
      let sum = 0;
      let norm = 0;
      const b = 4 * i;
      if (boxes[b]! + sx >= 0 && boxes[b + 1]! + sy >= 0 && boxes[b + 2]! + sx < width && boxes[b + 3]! + sy < height) {
        // Two partial sums: one would make every pixel wait for the previous addition.
        let even = 0;
        let odd = 0;
        let k = start[i]!;
        for (let r = runStart[i]!, last = runStart[i + 1]!; r < last; r++) {
          const base = runBase[r]! + shift;
          const end = runEnd[r]!;
          for (; k + 1 < end; k += 2) {
            even += weights[k]! * frame[base + k]!;
            odd += weights[k + 1]! * frame[base + k + 1]!;
          }
          if (k < end) even += weights[k]! * frame[base + k++]!;
        }
        sum = even + odd;
        norm = this.norms[i]!;
      } else {
        for (let k = start[i]!; k < start[i + 1]!; k++) {
          const x = xs[k]! + sx;
          const y = ys[k]! + sy;
          if (x < 0 || y < 0 || x >= width || y >= height) continue;
          const w = weights[k]!;
          sum += w * frame[y * width + x]!;
          norm += w;
        }
      }
      out[i] = norm > 0 ? sum / norm : NaN;
    }
  }
}

/**
 * ΔF/F = (F − F0) / F0 of each ROI, F0 a running low percentile of F over the last `window` frames (a
 * baseline that follows slow drift and bleaching but not transients, as suite2p's "maximin" and CaImAn's
 * running percentile do). Each ROI keeps its window as a ring and a sorted copy, updated by binary search
 * and one shift: O(window) per ROI and frame, no allocation.
 */
export class RunningBaseline {
  private readonly ring: Float64Array;
  private readonly sorted: Float64Array;
  private readonly last: Float64Array;
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
    this.ring = new Float64Array(count * window);
    this.sorted = new Float64Array(count * window);
    this.last = new Float64Array(count);
  }

  /**
   * Adds one frame's F and writes ΔF/F into `dff`. A NaN (an ROI moved off the frame) gives a NaN ΔF/F and holds
   * the ROI's last F in the window, so that every ROI's window stays the same frames.
   */
  update(f: ArrayLike<number>, dff: Float32Array): void {
    const w = this.window;
    const full = this.filled === w;
    for (let i = 0; i < this.count; i++) {
      const base = i * w;
      const sorted = this.sorted.subarray(base, base + w);
      const given = f[i]!;
      const value = Number.isNaN(given) ? this.last[i]! : given;
      this.last[i] = value;
      let n = this.filled;
      if (full) {
        // The oldest value leaves the sorted window.
        const old = this.ring[base + this.next]!;
        const at = lowerBound(sorted, n, old);
        sorted.copyWithin(at, at + 1, n);
        n--;
      }
      const at = lowerBound(sorted, n, value);
      sorted.copyWithin(at + 1, at, n);
      sorted[at] = value;
      this.ring[base + this.next] = value;
      const f0 = sorted[Math.min(n, Math.floor((this.percentile / 100) * (n + 1)))]!;
      dff[i] = f0 > 0 && !Number.isNaN(given) ? (value - f0) / f0 : NaN;
    }
    this.next = (this.next + 1) % w;
    if (!full) this.filled++;
  }
}

/** First index of `a[0…n)` (sorted) whose value is ≥ v. */
function lowerBound(a: Float64Array, n: number, v: number): number {
  let lo = 0;
  for (let hi = n; lo < hi; ) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
