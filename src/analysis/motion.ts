// Rigid motion by phase correlation (Kuglin & Hines 1975; as in suite2p's register step): the normalized
// cross-power spectrum of a frame and a reference has its inverse FFT peak at the shift between them. Whitening
// weighs the noise-dominated high frequencies as much as the rest, so the spectrum is smoothed with a Gaussian
// (σ = 1.15 px, suite2p's smooth_sigma): the peak becomes a Gaussian blob, and the vertex of a parabola through
// the logarithms of the peak and its neighbours along each axis gives its sub-pixel position.
// Only a central square window of the frame is transformed (tapered, so that its edges do not correlate), binned
// 2 × 2 on large frames: a rigid shift moves every part of the image alike, and the central 256² of a 512² frame
// binned to 128² costs a sixteenth of the whole frame (on sim-2p: |error| p99 0.3 px).
import FFT from "fft.js";
import { copyFrame, kernels, WasmArray } from "./kernels/index.js";

/** A frame: `height` rows of `width` pixels, row-major (x along the width, as frames arrive). */
export type Pixels = ArrayLike<number>;

export interface Shift {
  /** Shift of the frame against the reference in pixels, +x to the right (along the width), +y down (along the rows). */
  dx: number;
  dy: number;
  /** Height of the normalized correlation peak (0–1): how well the frame matched; low on a dark or blank frame. */
  peak: number;
}

export interface MotionOptions {
  /** Pixels binned (bin × bin) before the transform: 2 for frames of 512 px and more, where it quarters the cost. */
  bin: number;
  /** Side of the central square window transformed, in binned pixels: a power of two, at most the binned frame's smaller side. */
  window: number;
  /** Largest shift looked for, in binned pixels (default an eighth of the window: 32 px of a 512² frame); a peak farther out is taken as the best within it. */
  maxShift: number;
}

/** The default window for a (binned) frame: the largest power of two at most half its smaller side, and no more than 256. */
export function defaultWindow(width: number, height: number): number {
  let w = 16;
  while (w * 2 <= Math.min(width, height) / 2 && w * 2 <= 256) w *= 2;
  return Math.min(w, 2 ** Math.floor(Math.log2(Math.min(width, height))));
}

/**
 * Estimates each frame's rigid shift against a reference image of the same size. Every buffer is allocated
 * once here: estimate() allocates nothing but the Shift it returns, since it runs for every frame.
 */
export class MotionEstimator {
  readonly bin: number;
  readonly window: number;
  readonly maxShift: number;
  private readonly fft: FFT;
  private readonly x0: number;
  private readonly y0: number;
  /**
   * The window's taper along either axis (a Hann window; the 2-D taper is the product of the two). A frame's
   * mean is not taken out: a uniform background, tapered, transforms to frequencies of at most 1 cycle on each
   * axis only (a Hann window's transform is zero beyond), which the low-pass drops (LOWEST_FREQUENCY).
   */
  private readonly hann: WasmArray<Float64Array>;
  /** The Gaussian low-pass applied to the whitened cross-power spectrum, per frequency. */
  private readonly lowpass: Float64Array;
  /** Conjugate spectrum of the tapered reference: the columns of non-negative x frequency (n/2 + 1), each n complex values interleaved re/im. */
  private readonly refSpectrum: Float64Array;
  /**
   * Two spectra laid out as refSpectrum, each transform reading one and writing the other (fft.js transforms
   * out of place): `rows` holds the rows' transforms, then the cross-power spectrum; `spectrum` the 2-D
   * transform, then the inverse along columns.
   */
  private readonly rows: Float64Array;
  private readonly spectrum: Float64Array;
  /** Views of `rows` and `spectrum`, one per kept column (made once: a view per transform would be an allocation per frame). */
  private readonly rowsColumns: Float64Array[];
  private readonly spectrumColumns: Float64Array[];
  private readonly rowIn: Float64Array;
  /** A uint16 frame's window binned and tapered by the kernel (binTaperU16), row-major. */
  private readonly binned: WasmArray<Float64Array>;
  private readonly rowOut: Float64Array;
  /** Two full rows of the spectrum rebuilt from the half kept, as one complex row (see estimate()). */
  private readonly row: Float64Array;
  /** Correlation rows around zero shift only (2 maxShift + 1), each `window` long. */
  private readonly correlation: Float64Array;

  constructor(
    readonly width: number,
    readonly height: number,
    reference: Pixels,
    options: Partial<MotionOptions> = {},
  ) {
    const bin = options.bin ?? (Math.min(width, height) >= 512 ? 2 : 1);
    const side = Math.floor(Math.min(width, height) / bin);
    const n = options.window ?? defaultWindow(side, side);
    if (!Number.isInteger(Math.log2(n)) || n < 8 || n > side) {
      throw new Error(`motion window ${n} must be a power of two from 8 to the binned frame's smaller side (${side})`);
    }
    this.bin = bin;
    this.window = n;
    this.maxShift = Math.min(options.maxShift ?? Math.floor(n / 8), n / 2 - 2);
    this.fft = new FFT(n);
    this.x0 = Math.floor((width - n * bin) / 2);
    this.y0 = Math.floor((height - n * bin) / 2);
    this.hann = new WasmArray(Float64Array, n);
    this.hann.view.set(Array.from({ length: n }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * (i + 0.5)) / n)));
    this.binned = new WasmArray(Float64Array, n * n);
    const frequency = (i: number) => (i <= n / 2 ? i : i - n) / n;
    const half = n / 2 + 1;
    this.lowpass = new Float64Array(half * n);
    for (let x = 0; x < half; x++) for (let y = 0; y < n; y++) this.lowpass[x * n + y] = Math.hypot(frequency(x), frequency(y)) * n <= LOWEST_FREQUENCY ? 0 : Math.exp(-2 * (Math.PI * SMOOTH_SIGMA) ** 2 * (frequency(x) ** 2 + frequency(y) ** 2));
    this.rows = new Float64Array(2 * half * n);
    this.spectrum = new Float64Array(2 * half * n);
    const columns = (a: Float64Array) => Array.from({ length: half }, (_, x) => a.subarray(2 * x * n, 2 * (x + 1) * n));
    this.rowsColumns = columns(this.rows);
    this.spectrumColumns = columns(this.spectrum);
    this.rowIn = new Float64Array(n);
    this.rowOut = new Float64Array(2 * n);
    this.row = new Float64Array(2 * n);
    this.correlation = new Float64Array((2 * this.maxShift + 1) * n);
    this.refSpectrum = new Float64Array(this.spectrum.length);
    this.setReference(reference);
  }

  /** Replaces the reference (same size): later estimates are against it. */
  setReference(reference: Pixels): void {
    if (reference.length !== this.width * this.height) throw new Error(`reference image has ${reference.length} pixels, expected ${this.width} × ${this.height}`);
    this.forward(reference);
    this.refSpectrum.set(this.spectrum);
    for (let k = 1; k < this.refSpectrum.length; k += 2) this.refSpectrum[k] = -this.refSpectrum[k]!;
  }

  /** The shift, in (unbinned) pixels, that moves the reference onto `frame` (a cell at (x, y) in the reference is at (x + dx, y + dy) in the frame). */
  estimate(frame: Pixels): Shift {
    const n = this.window;
    const half = n / 2 + 1;
    const { spectrum: s, rows: cross, refSpectrum: r, lowpass } = this;
    this.forward(frame);
    // Cross-power spectrum, whitened (only the phase carries the shift) and smoothed.
    for (let k = 0; k < s.length; k += 2) {
      const re = s[k]! * r[k]! - s[k + 1]! * r[k + 1]!;
      const im = s[k]! * r[k + 1]! + s[k + 1]! * r[k]!;
      const scale = lowpass[k >> 1]! / (Math.sqrt(re * re + im * im) + 1e-12);
      cross[k] = re * scale;
      cross[k + 1] = im * scale;
    }
    // Inverse along each kept column, then along rows only near zero shift: all the peak search needs. Each row
    // is the transform of a real row, so its other half is the conjugate mirror of the half kept; and two such
    // rows A and B go through one complex inverse as A + iB, whose real and imaginary parts are theirs.
    for (let x = 0; x < half; x++) this.fft.inverseTransform(this.spectrumColumns[x]!, this.rowsColumns[x]!);
    const m = this.maxShift;
    const c = this.correlation;
    const row = this.row;
    const out = this.rowOut;
    for (let j = -m; j <= m; j += 2) {
      const a = 2 * ((j + n) % n);
      // Of an odd number of rows, the last goes alone (B = 0).
      const paired = j + 1 <= m;
      const b = 2 * ((j + 1 + n) % n);
      for (let x = 0; x < n; x++) {
        // Column x of the half kept, or its mirror n − x conjugated.
        const mirror = x < half ? 1 : -1;
        const at = 2 * (x < half ? x : n - x) * n;
        const ar = s[at + a]!;
        const ai = mirror * s[at + a + 1]!;
        const br = paired ? s[at + b]! : 0;
        const bi = paired ? mirror * s[at + b + 1]! : 0;
        row[2 * x] = ar - bi;
        row[2 * x + 1] = ai + br;
      }
      this.fft.inverseTransform(out, row);
      const to = (j + m) * n;
      for (let x = 0; x < n; x++) c[to + x] = out[2 * x]!;
      if (paired) for (let x = 0; x < n; x++) c[to + n + x] = out[2 * x + 1]!;
    }
    let best = -Infinity;
    let bx = 0;
    let by = 0;
    for (let j = -m; j <= m; j++) {
      for (let i = -m; i <= m; i++) {
        const v = c[(j + m) * n + ((i + n) % n)]!;
        if (v > best) (best = v), (bx = i), (by = j);
      }
    }
    const b = this.bin;
    const dx = vertex(this.at(bx - 1, by), best, this.at(bx + 1, by));
    const dy = vertex(this.at(bx, by - 1), best, this.at(bx, by + 1));
    return { dx: b * (bx + dx), dy: b * (by + dy), peak: best };
  }

  /** The correlation at shift (i, j) in binned pixels, j clamped to the rows kept. */
  private at(i: number, j: number): number {
    const { maxShift: m, window: n } = this;
    return this.correlation[(Math.max(-m, Math.min(m, j)) + m) * n + ((i + n) % n)]!;
  }

  /**
   * 2-D FFT of the tapered central window of `image` into `spectrum`: rows as real transforms, of which only the
   * non-negative frequencies (n/2 + 1) are kept — the rest mirror them — then those columns, stored column by column.
   */
  private forward(image: Pixels): void {
    const n = this.window;
    const half = n / 2 + 1;
    const { width, x0, y0, bin, rowIn, rowOut, rows } = this;
    // A uint16 frame (every frame of a 16-bit series) is binned and tapered by the kernel, in one call.
    if (image instanceof Uint16Array) kernels.binTaperU16(copyFrame(image), this.hann.at, this.binned.at, width, x0, y0, bin, n);
    const binned = image instanceof Uint16Array ? this.binned.view : undefined;
    const hann = this.hann.view;
    for (let y = 0; y < n; y++) {
      if (binned) for (let x = 0; x < n; x++) rowIn[x] = binned[y * n + x]!;
      else {
        // Binned, one source row at a time, then tapered.
        rowIn.fill(0);
        for (let j = 0; j < bin; j++) {
          const from = (y0 + y * bin + j) * width + x0;
          for (let x = 0; x < n; x++) {
            let v = 0;
            for (let i = 0, at = from + x * bin; i < bin; i++) v += image[at + i]!;
            rowIn[x] = rowIn[x]! + v;
          }
        }
        const ty = hann[y]!;
        for (let x = 0; x < n; x++) rowIn[x] = rowIn[x]! * ty * hann[x]!;
      }
      this.fft.realTransform(rowOut, rowIn);
      for (let x = 0; x < half; x++) (rows[2 * (x * n + y)] = rowOut[2 * x]!), (rows[2 * (x * n + y) + 1] = rowOut[2 * x + 1]!);
    }
    for (let x = 0; x < half; x++) this.fft.transform(this.spectrumColumns[x]!, this.rowsColumns[x]!);
  }
}

/**
 * Frequencies (cycles per window) at and below which the cross-power spectrum is dropped: there the taper,
 * the same in frame and reference whatever moved, outweighs the image and pulls the peak towards zero shift.
 */
const LOWEST_FREQUENCY = 2;
/** Width (px) of the Gaussian that smooths the correlation peak. */
const SMOOTH_SIGMA = 1.15;

/**
 * Offset (−0.5…0.5) of a maximum between three equally spaced values: the vertex of the parabola through their
 * logarithms (exact for a Gaussian peak), or through the values themselves where one is not positive.
 */
function vertex(left: number, centre: number, right: number): number {
  if (left > 0 && right > 0) {
    left = Math.log(left);
    centre = Math.log(centre);
    right = Math.log(right);
  }
  const curvature = left - 2 * centre + right;
  if (curvature >= 0) return 0;
  return Math.max(-0.5, Math.min(0.5, (0.5 * (left - right)) / curvature));
}

/**
 * The reference of a series: the mean of its first frames, each aligned (by its whole-pixel shift) to the mean
 * of those before it, so that motion while it fills (breathing) does not blur it. Its position is that of the
 * first frame. Memory: one frame's sum, whatever the number of frames.
 */
export class ReferenceBuilder {
  private readonly sum: Float64Array;
  private readonly mean: Float32Array;
  private estimator: MotionEstimator | undefined;
  count = 0;

  constructor(
    readonly width: number,
    readonly height: number,
    private readonly options: Partial<MotionOptions> = {},
  ) {
    this.sum = new Float64Array(width * height);
    this.mean = new Float32Array(width * height);
  }

  add(frame: Pixels): void {
    const { width, height, sum } = this;
    let sx = 0;
    let sy = 0;
    if (this.count > 0) {
      for (let k = 0; k < sum.length; k++) this.mean[k] = sum[k]! / this.count;
      if (this.estimator) this.estimator.setReference(this.mean);
      else this.estimator = new MotionEstimator(width, height, this.mean, this.options);
      const s = this.estimator.estimate(frame);
      sx = Math.round(s.dx);
      sy = Math.round(s.dy);
    }
    // The frame moved back onto the reference; edge pixels stand in for those moved in from outside.
    for (let y = 0; y < height; y++) {
      const from = Math.min(height - 1, Math.max(0, y + sy)) * width;
      for (let x = 0; x < width; x++) sum[y * width + x] = sum[y * width + x]! + frame[from + Math.min(width - 1, Math.max(0, x + sx))]!;
    }
    this.count++;
  }

  /** The reference so far (row-major, height × width). */
  image(): Float32Array {
    return Float32Array.from(this.sum, (v) => v / Math.max(1, this.count));
  }
}
