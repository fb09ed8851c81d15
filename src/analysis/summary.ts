// Summary images of a series in one pass with memory bounded by the frame size: per-pixel sums, sums of
// squares, maxima and the products with the right, lower, lower-right and lower-left neighbours (each pair of
// 8-neighbours once) — enough for the mean, the maximum and the local correlation image (suite2p's Vcorr,
// CaImAn's local_correlations: each pixel's mean Pearson correlation over time with its 8 neighbours).
// Per frame this is the analysis' largest cost (memory traffic over a dozen frame-sized arrays), hence float32
// partial sums and the correlation's sums taken on one band of rows per frame (BANDS).

/** The images, each [x][y] as ndx-microscopy's SummaryImage and masks are (data[x · height + y]). */
export interface SummaryImages {
  mean: Float32Array<ArrayBuffer>;
  max: Float32Array<ArrayBuffer>;
  correlation: Float32Array<ArrayBuffer>;
  /** [x, y] = [width, height]. */
  shape: [number, number];
  frames: number;
}

/** The four neighbour directions whose products are kept: (dx, dy). The other four are their mirror images. */
const DIRECTIONS = [
  [1, 0],
  [0, 1],
  [1, 1],
  [-1, 1],
] as const;

/**
 * Frames summed in float32 before being folded into the float64 totals: exact (or nearly), and half the memory
 * traffic. The fold runs a slice at a time, one per frame, so that no frame pays for all of it.
 */
const FOLD_EVERY = 128;
/**
 * The correlation image's sums take one band of rows per frame, in turn: each pixel's correlations come from every
 * BANDS-th frame (about 230 a minute at 30 Hz, plenty for a correlation) and a frame costs a BANDS-th of them.
 */
export const BANDS = 8;

export class SummaryAccumulator {
  private readonly n: number;
  /** All frames: sum of the values (float32 partials exact for integer pixels: 128 × 65535 < 2²⁴) and maximum. */
  private readonly sumAll: Total;
  private readonly max: Float32Array;
  /** Each pixel's value in its band's first frame, taken out of the correlation's sums: its sums of squares then stay small. */
  private readonly origin: Float32Array;
  /** Band frames: sum and sum of squares of the centred values, and the four neighbour products (pairs within a band), in DIRECTIONS' order. */
  private readonly moments: Total[];
  private readonly sum: Float32Array;
  private readonly squares: Float32Array;
  private readonly right: Float32Array;
  private readonly down: Float32Array;
  private readonly downRight: Float32Array;
  private readonly downLeft: Float32Array;
  /** First row of each band, and the height as the end of the last. */
  private readonly bandStart: Int32Array;
  /** Frames each band of rows has taken. */
  private readonly bandFrames = new Array<number>(BANDS).fill(0);
  /** The current band row (moved by the shift, then centred) and the one before it. */
  private line: Float32Array;
  private previous: Float32Array;
  frames = 0;

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.n = width * height;
    this.sumAll = new Total(this.n);
    this.max = new Float32Array(this.n).fill(-Infinity);
    this.origin = new Float32Array(this.n);
    this.moments = Array.from({ length: 2 + DIRECTIONS.length }, () => new Total(this.n));
    [this.sum, this.squares, this.right, this.down, this.downRight, this.downLeft] = this.moments.map((m) => m.partial) as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
    this.bandStart = Int32Array.from({ length: BANDS + 1 }, (_, b) => Math.ceil((b * height) / BANDS));
    this.line = new Float32Array(width);
    this.previous = new Float32Array(width);
  }

  /** Row band of row y. */
  private band(y: number): number {
    return Math.min(BANDS - 1, Math.floor((y * BANDS) / this.height));
  }

  /**
   * Adds one frame (row-major, `width` per row) moved back by its shift (dx, dy) against the reference, rounded
   * to whole pixels, so that the images are motion-corrected; edge pixels stand in for those moved in from outside.
   */
  add(frame: ArrayLike<number>, dx = 0, dy = 0): void {
    const { width, height, max } = this;
    const sumAll = this.sumAll.partial;
    const sx = Math.round(dx);
    const sy = Math.round(dy);
    // x + sx within the frame for x in [lo, hi).
    const lo = Math.min(width, Math.max(0, -sx));
    const hi = Math.max(lo, Math.min(width, width - sx));
    // Mean and maximum: every pixel of every frame, read straight from the frame (the hot loop of the analysis).
    for (let y = 0; y < height; y++) {
      const from = Math.min(height - 1, Math.max(0, y + sy)) * width;
      const row = y * width;
      const at = from + sx;
      for (let x = lo; x < hi; x++) {
        const v = frame[at + x]!;
        const k = row + x;
        if (v > max[k]!) max[k] = v;
        sumAll[k] = sumAll[k]! + v;
      }
      const first = frame[from]!;
      for (let x = 0; x < lo; x++) {
        if (first > max[row + x]!) max[row + x] = first;
        sumAll[row + x] = sumAll[row + x]! + first;
      }
      const last = frame[from + width - 1]!;
      for (let x = hi; x < width; x++) {
        if (last > max[row + x]!) max[row + x] = last;
        sumAll[row + x] = sumAll[row + x]! + last;
      }
    }
    const band = this.frames % BANDS;
    this.correlate(frame, sx, sy, lo, hi, this.bandStart[band]!, this.bandStart[band + 1]!);
    this.bandFrames[band]!++;
    this.frames++;
    // Slice f of FOLD_EVERY on frame f: each pixel is folded once every FOLD_EVERY frames.
    const slice = this.frames % FOLD_EVERY;
    const from = Math.floor((slice * this.n) / FOLD_EVERY);
    const to = Math.floor(((slice + 1) * this.n) / FOLD_EVERY);
    this.sumAll.fold(from, to);
    for (let m = 0; m < this.moments.length; m++) this.moments[m]!.fold(from, to);
  }

  /** The correlation's sums over rows [y0, y1) of the frame moved by (sx, sy); x + sx is inside the frame for x in [lo, hi). */
  private correlate(frame: ArrayLike<number>, sx: number, sy: number, lo: number, hi: number, y0: number, y1: number): void {
    const { width, height, origin, sum, squares, right, down, downRight, downLeft } = this;
    const first = this.bandFrames[this.band(y0)] === 0;
    for (let y = y0; y < y1; y++) {
      const from = Math.min(height - 1, Math.max(0, y + sy)) * width;
      const row = y * width;
      const line = this.line;
      for (let x = 0; x < lo; x++) line[x] = frame[from]!;
      for (let x = lo; x < hi; x++) line[x] = frame[from + x + sx]!;
      for (let x = hi; x < width; x++) line[x] = frame[from + width - 1]!;
      if (first) origin.set(line, row);
      // One pass per row for the centred values, their squares and right-hand products, one for the products
      // with the row above (kept at the upper pixel): each accumulator is touched once per pixel.
      let left = line[0]! - origin[row]!;
      line[0] = left;
      sum[row] = sum[row]! + left;
      squares[row] = squares[row]! + left * left;
      for (let x = 1; x < width; x++) {
        const k = row + x;
        const c = line[x]! - origin[k]!;
        line[x] = c;
        sum[k] = sum[k]! + c;
        squares[k] = squares[k]! + c * c;
        right[k - 1] = right[k - 1]! + left * c;
        left = c;
      }
      if (y > y0) {
        const up = row - width;
        const p = this.previous;
        for (let x = 0; x + 1 < width; x++) {
          const k = up + x;
          const a = p[x]!;
          down[k] = down[k]! + a * line[x]!;
          downRight[k] = downRight[k]! + a * line[x + 1]!;
          downLeft[k + 1] = downLeft[k + 1]! + p[x + 1]! * line[x]!;
        }
        down[row - 1] = down[row - 1]! + p[width - 1]! * line[width - 1]!;
      }
      this.line = this.previous;
      this.previous = line;
    }
  }

  /** The images so far; the correlation is 0 where a pixel or its neighbours never varied. */
  images(): SummaryImages {
    const { n, width, height, frames } = this;
    const [sum, squares, ...products] = this.moments.map((m) => m.fold()) as [Float64Array, Float64Array, ...Float64Array[]];
    const all = this.sumAll.fold();
    const mean = new Float64Array(n);
    const sd = new Float64Array(n);
    for (let y = 0; y < height; y++) {
      const t = Math.max(1, this.bandFrames[this.band(y)]!);
      for (let k = y * width; k < (y + 1) * width; k++) {
        mean[k] = sum[k]! / t;
        sd[k] = Math.sqrt(Math.max(0, squares[k]! / t - mean[k]! ** 2));
      }
    }
    const total = new Float64Array(n);
    const neighbours = new Uint8Array(n);
    DIRECTIONS.forEach(([dx, dy], d) => {
      const p = products[d]!;
      for (let y = 0; y + dy < height; y++) {
        if (this.band(y + dy) !== this.band(y)) continue; // pairs across bands were never summed
        const t = Math.max(1, this.bandFrames[this.band(y)]!);
        for (let x = Math.max(0, -dx); x < width && x + dx < width; x++) {
          const a = y * width + x;
          const b = (y + dy) * width + x + dx;
          const denominator = sd[a]! * sd[b]!;
          const r = denominator > 0 ? (p[a]! / t - mean[a]! * mean[b]!) / denominator : 0;
          total[a] = total[a]! + r;
          total[b] = total[b]! + r;
          neighbours[a] = neighbours[a]! + 1;
          neighbours[b] = neighbours[b]! + 1;
        }
      }
    });
    // Row-major [y][x] here; ndx-microscopy's images are [x][y].
    const transpose = (get: (k: number) => number) => {
      const out = new Float32Array(n);
      for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) out[x * height + y] = get(y * width + x);
      return out;
    };
    return {
      mean: transpose((k) => all[k]! / Math.max(1, frames)),
      max: transpose((k) => (frames ? this.max[k]! : 0)),
      correlation: transpose((k) => total[k]! / neighbours[k]!),
      shape: [width, height],
      frames,
    };
  }
}

/** A per-pixel sum kept as float32 partials (what each frame touches) folded into float64 totals. */
class Total {
  readonly partial: Float32Array;
  private readonly total: Float64Array;

  constructor(n: number) {
    this.partial = new Float32Array(n);
    this.total = new Float64Array(n);
  }

  /** Moves the partial sums of pixels [from, to) (default all) into the totals; returns the totals. */
  fold(from = 0, to = this.total.length): Float64Array {
    const { partial, total } = this;
    for (let k = from; k < to; k++) total[k] = total[k]! + partial[k]!;
    partial.fill(0, from, to);
    return total;
  }
}
