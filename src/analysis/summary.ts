// Summary images of a series in one pass with memory bounded by the frame size: per-pixel sums, maxima, and for
// the correlation the sums, sums of squares and products with the right, lower, lower-right and lower-left
// neighbours (each pair of 8-neighbours once) — enough for the mean, the maximum and the local correlation image
// (suite2p's Vcorr, CaImAn's local_correlations: each pixel's mean Pearson correlation over time with its 8
// neighbours). Per frame this is memory traffic over frame-sized arrays (the rest of the analysis has pushed
// them out of the cache by then), hence the fewest bytes: for integer frames the sums in int32 and the maximum
// in the frame's own type, in one pass; the correlation's six sums of a pixel together (one stream, not six)
// in float32 partials, taken on one band of rows per frame (BANDS). (Float64 sums with no partials to fold move
// twice the bytes: slower.) The partials live in the WebAssembly kernels' memory: uint16 frames' mean and maximum
// and every frame's correlation sums are taken there, several pixels an instruction (kernels/).
import { copyFrame, kernels, WasmArray, type ArrayConstructor } from "./kernels/index.js";
import { BANDS } from "./plan.js";

/** The images, each [x][y] as ndx-microscopy's SummaryImage and masks are (data[x · height + y]). */
export interface SummaryImages {
  mean: Float32Array<ArrayBuffer>;
  max: Float32Array<ArrayBuffer>;
  correlation: Float32Array<ArrayBuffer>;
  /** [x, y] = [width, height]. */
  shape: [number, number];
  frames: number;
}

/**
 * The neighbour directions whose products are kept, (dx, dy), in their order among a pixel's correlation sums
 * (after its sum and sum of squares), each at the upper (then left) pixel of the pair. The other four are their mirror images.
 */
const DIRECTIONS = [
  [1, 0],
  [0, 1],
  [1, 1],
  [-1, 1],
] as const;
/**
 * Correlation sums per pixel: sum, sum of squares, then a product per direction; kept per block of 4 pixels as
 * SUMS vectors of 4 (a kernel's instruction takes one), so pixel k's sum j is at sumAt(k, j).
 */
const SUMS = 2 + DIRECTIONS.length;
const sumAt = (k: number, j: number) => SUMS * (k & ~3) + 4 * j + (k & 3);

/**
 * Frames summed in the partials (int32 or float32) before being folded into the float64 totals. Int32 partials
 * of 16-bit pixels hold at most FOLD_EVERY × 65535 < 2²³, far from overflow; float32 ones are exact for integers
 * below 2²⁴. The totals are float64, exact to 2⁵³: 10¹¹ frames of 65535, 4 000 years at 30 Hz. The fold runs a
 * slice at a time, one per frame, so that no frame pays for all of it.
 */
const FOLD_EVERY = 128;

/** Frame types whose pixels are summed in int32 and whose maximum keeps their type, with their smallest value. */
const INTEGER_FRAMES = new Map<unknown, number>([
  [Uint8Array, 0],
  [Uint16Array, 0],
  [Int16Array, -32768],
]);

type Sums = Int32Array | Float32Array;
type Maxima = Uint8Array | Uint16Array | Int16Array | Float32Array;

export class SummaryAccumulator {
  private readonly n: number;
  /** All frames: sum of the values and maximum, typed after the first frame (see INTEGER_FRAMES). */
  private sumAll: Total<Sums> | undefined;
  private max: WasmArray<Maxima> | undefined;
  /** Each pixel's value in its band's first frame, taken out of the correlation's sums: its sums of squares then stay small. */
  private readonly origin: WasmArray<Float32Array>;
  /** Band frames: per pixel SUMS values (see DIRECTIONS, sumAt), of the centred values; pairs within a band. */
  private readonly moments: Total<Float32Array>;
  /** First row of each band, and the height as the end of the last. */
  private readonly bandStart: Int32Array;
  /** Frames each band of rows has taken. */
  private readonly bandFrames = new Array<number>(BANDS).fill(0);
  /**
   * Two band rows (moved by the shift, then centred), each with a zero on either side (pixel x at x + 1), and a
   * row of zeros below a band's last: products with a pixel beyond the frame or the band add nothing.
   */
  private readonly rows: WasmArray<Float32Array>[];
  private readonly zeros: WasmArray<Float32Array>;
  frames = 0;

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.n = width * height;
    this.origin = new WasmArray(Float32Array, this.n);
    // Whole blocks of 4 pixels.
    this.moments = new Total(new WasmArray(Float32Array, SUMS * 4 * Math.ceil(this.n / 4)));
    this.bandStart = Int32Array.from({ length: BANDS + 1 }, (_, b) => Math.ceil((b * height) / BANDS));
    this.rows = [new WasmArray(Float32Array, width + 2), new WasmArray(Float32Array, width + 2)];
    this.zeros = new WasmArray(Float32Array, width + 2);
  }

  /** Row band of row y. */
  private band(y: number): number {
    return Math.min(BANDS - 1, Math.floor((y * BANDS) / this.height));
  }

  /**
   * Adds one frame (row-major, `width` per row) moved back by its shift (dx, dy) against the reference, rounded
   * to whole pixels, so that the images are motion-corrected; edge pixels stand in for those moved in from outside.
   * Frames are of one type throughout: the first decides how they are summed. For uint8, uint16 and int16 frames
   * the mean and maximum are exact over every frame; for others the mean's partial sums are float32.
   */
  add(frame: ArrayLike<number>, dx = 0, dy = 0): void {
    const { width, height } = this;
    if (!this.sumAll) {
      const smallest = INTEGER_FRAMES.get(frame.constructor);
      const integer = smallest !== undefined;
      this.sumAll = new Total<Sums>(integer ? new WasmArray<Sums>(Int32Array, this.n) : new WasmArray<Sums>(Float32Array, this.n));
      this.max = new WasmArray<Maxima>(integer ? (frame.constructor as ArrayConstructor<Maxima>) : Float32Array, this.n);
      this.max.view.fill(integer ? smallest : -Infinity);
    }
    const sx = Math.round(dx);
    const sy = Math.round(dy);
    // A uint16 frame is copied into the kernels' memory once, for both passes.
    const copy = frame instanceof Uint16Array ? copyFrame(frame) : undefined;
    if (copy !== undefined) kernels.sumMaxU16(copy, this.sumAll.partial.at, this.max!.at, width, height, sx, sy);
    else this.sumMax(frame, sx, sy);
    const band = this.frames % BANDS;
    this.correlate(copy ?? frame, sx, sy, this.bandStart[band]!, this.bandStart[band + 1]!);
    this.bandFrames[band]!++;
    this.frames++;
    // Slice f of FOLD_EVERY on frame f: each pixel is folded once every FOLD_EVERY frames.
    this.sumAll.fold(this.frames % FOLD_EVERY);
    this.moments.fold(this.frames % FOLD_EVERY);
  }

  /** The mean and maximum's pass of add() in JS, for frames other than uint16. */
  private sumMax(frame: ArrayLike<number>, sx: number, sy: number): void {
    const { width, height } = this;
    const max = this.max!.view;
    const sumAll = this.sumAll!.partial.view;
    // x + sx within the frame for x in [lo, hi).
    const lo = Math.min(width, Math.max(0, -sx));
    const hi = Math.max(lo, Math.min(width, width - sx));
    for (let y = 0; y < height; y++) {
      const from = Math.min(height - 1, Math.max(0, y + sy)) * width;
      const row = y * width;
      const at = from + sx;
      // Two pixels a turn: the loop's own cost is as much as the work on one pixel.
      let x = lo;
      for (; x + 1 < hi; x += 2) {
        const v = frame[at + x]!;
        const w = frame[at + x + 1]!;
        const k = row + x;
        if (v > max[k]!) max[k] = v;
        if (w > max[k + 1]!) max[k + 1] = w;
        sumAll[k] = sumAll[k]! + v;
        sumAll[k + 1] = sumAll[k + 1]! + w;
      }
      if (x < hi) {
        const v = frame[at + x]!;
        if (v > max[row + x]!) max[row + x] = v;
        sumAll[row + x] = sumAll[row + x]! + v;
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
  }

  /**
   * The correlation's sums over rows [y0, y1) of the frame — or of the uint16 frame at that byte offset in the
   * kernels' memory — moved by (sx, sy).
   */
  private correlate(frame: ArrayLike<number> | number, sx: number, sy: number, y0: number, y1: number): void {
    const { width } = this;
    const first = this.bandFrames[this.band(y0)] === 0;
    let line = this.centred(frame, sx, sy, y0, first);
    for (let y = y0; y < y1; y++) {
      const below = y + 1 < y1 ? this.centred(frame, sx, sy, y + 1, first) : this.zeros;
      kernels.correlateRow(line.at, below.at, this.moments.partial.at, y * width, width);
      line = below;
    }
  }

  /**
   * Row y of the frame (or of the uint16 frame at that offset, by centreRowU16) moved by (sx, sy), edge pixels
   * standing in for those from outside, less its origin (taken from it on a band's first frame), at x + 1 of one
   * of the two row buffers (by y's parity); returns that buffer.
   */
  private centred(frame: ArrayLike<number> | number, sx: number, sy: number, y: number, first: boolean): WasmArray<Float32Array> {
    const { width, height } = this;
    const buffer = this.rows[y & 1]!;
    if (typeof frame === "number") {
      kernels.centreRowU16(frame, this.origin.at, buffer.at, width, height, y, sx, sy, first);
      return buffer;
    }
    const out = buffer.view;
    const origin = this.origin.view;
    const from = Math.min(height - 1, Math.max(0, y + sy)) * width;
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const v = frame[from + Math.min(width - 1, Math.max(0, x + sx))]!;
      if (first) origin[row + x] = v;
      out[x + 1] = v - origin[row + x]!;
    }
    return buffer;
  }

  /** The images so far; the correlation is 0 where a pixel or its neighbours never varied. */
  images(): SummaryImages {
    const { n, width, height, frames } = this;
    const moments = this.moments.fold();
    const all = this.sumAll?.fold();
    const max = this.max?.view;
    const mean = new Float64Array(n);
    const sd = new Float64Array(n);
    for (let y = 0; y < height; y++) {
      const t = Math.max(1, this.bandFrames[this.band(y)]!);
      for (let k = y * width; k < (y + 1) * width; k++) {
        mean[k] = moments[sumAt(k, 0)]! / t;
        sd[k] = Math.sqrt(Math.max(0, moments[sumAt(k, 1)]! / t - mean[k]! ** 2));
      }
    }
    const total = new Float64Array(n);
    const neighbours = new Uint8Array(n);
    DIRECTIONS.forEach(([dx, dy], d) => {
      for (let y = 0; y + dy < height; y++) {
        if (this.band(y + dy) !== this.band(y)) continue; // pairs across bands were never summed
        const t = Math.max(1, this.bandFrames[this.band(y)]!);
        for (let x = Math.max(0, -dx); x < width && x + dx < width; x++) {
          const a = y * width + x;
          const b = (y + dy) * width + x + dx;
          const denominator = sd[a]! * sd[b]!;
          const r = denominator > 0 ? (moments[sumAt(a, 2 + d)]! / t - mean[a]! * mean[b]!) / denominator : 0;
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
      mean: transpose((k) => (frames ? all![k]! / frames : 0)),
      max: transpose((k) => (frames ? max![k]! : 0)),
      correlation: transpose((k) => total[k]! / neighbours[k]!),
      shape: [width, height],
      frames,
    };
  }
}

/** A per-pixel sum kept as partials (what each frame touches, in the kernels' memory) folded into float64 totals. */
class Total<P extends Sums> {
  private readonly total: Float64Array;

  constructor(readonly partial: WasmArray<P>) {
    this.total = new Float64Array(partial.length);
  }

  /**
   * Moves the partial sums into the totals, slice `slice` of FOLD_EVERY (default all) — each frame folds one, so
   * that no frame pays for all of it; returns the totals.
   */
  fold(slice?: number): Float64Array {
    const { total } = this;
    const partial = this.partial.view;
    const from = slice === undefined ? 0 : Math.floor((slice * total.length) / FOLD_EVERY);
    const to = slice === undefined ? total.length : Math.floor(((slice + 1) * total.length) / FOLD_EVERY);
    for (let k = from; k < to; k++) total[k] = total[k]! + partial[k]!;
    partial.fill(0, from, to);
    return total;
  }
}
