// The WebAssembly SIMD kernels (src/analysis/kernels/) against brute-force sums and against the JS path they
// replace for uint16 frames (which other frame types still take): realistic frames — the synthetic sample's,
// 16-bit, with its extremes — widths that are no multiple of a vector, shifts that move masks and rows off the
// frame, ROIs on the frame's edges.
import { describe, expect, it } from "vitest";
import { MotionEstimator } from "../../src/analysis/motion.js";
import { BANDS } from "../../src/analysis/plan.js";
import { SummaryAccumulator } from "../../src/analysis/summary.js";
import { RoiMasks, type PixelMask } from "../../src/analysis/traces.js";
import { SyntheticSample } from "../../simulators/sample.js";
import { pearson } from "./stats.js";

const [W, H] = [67, 3 * BANDS + 5];
const sample = new SyntheticSample(12, 0, 21);
let seed = 17;
const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
/** The sample's 16-bit frames with a few pixels at 0 and 65535. */
const frames = Array.from({ length: 10 * BANDS }, (_, t) => {
  const f = sample.render(W, H, 100 + t / 30, "green");
  for (let i = 0; i < 5; i++) f[Math.floor(rand() * f.length)] = rand() < 0.5 ? 0 : 65535;
  return f;
});
/** Whole-pixel shifts up to ±6 px, and now and then one moving most of the frame out (edge pixels stand in). */
const shifts = frames.map((_, t) => (t % 17 === 5 ? [-40.2, 19.7] : [12 * rand() - 6, 12 * rand() - 6]) as [number, number]);
const clamp = (v: number, size: number) => Math.min(size - 1, Math.max(0, v));
/** Pixel (x, y) of frame t moved back by its rounded shift, as the summary images take it. */
const moved = (t: number, x: number, y: number) => frames[t]![clamp(y + Math.round(shifts[t]![1]), H) * W + clamp(x + Math.round(shifts[t]![0]), W)]!;

describe("summary kernels", () => {
  const acc = new SummaryAccumulator(W, H);
  frames.forEach((f, t) => acc.add(f, ...shifts[t]!));
  const images = acc.images();

  it("give uint16 frames' mean and maximum exactly, as the JS path gives the same values as float32 frames", () => {
    const js = new SummaryAccumulator(W, H);
    frames.forEach((f, t) => js.add(Float32Array.from(f), ...shifts[t]!));
    const reference = js.images();
    expect(images.mean).toEqual(reference.mean);
    expect(images.max).toEqual(reference.max);
    for (let x = 0; x < W; x++) {
      for (let y = 0; y < H; y++) {
        const values = frames.map((_, t) => moved(t, x, y));
        expect(images.mean[x * H + y]).toBe(Math.fround(values.reduce((a, b) => a + b) / frames.length));
        expect(images.max[x * H + y]).toBe(Math.max(...values));
      }
    }
  });

  it("give each pixel's mean correlation with its neighbours in its band, as float64 sums do to float32 rounding", () => {
    const band = (y: number) => Math.min(BANDS - 1, Math.floor((y * BANDS) / H));
    const series = (x: number, y: number) => frames.flatMap((_, t) => (t % BANDS === band(y) ? [moved(t, x, y)] : []));
    let worst = 0;
    for (let x = 0; x < W; x++) {
      for (let y = 0; y < H; y++) {
        const r: number[] = [];
        for (let j = -1; j <= 1; j++) {
          for (let i = -1; i <= 1; i++) {
            if ((i || j) && x + i >= 0 && x + i < W && y + j >= 0 && y + j < H && band(y + j) === band(y)) r.push(pearson(series(x, y), series(x + i, y + j)));
          }
        }
        worst = Math.max(worst, Math.abs(images.correlation[x * H + y]! - r.reduce((a, b) => a + b) / r.length));
      }
    }
    expect(worst).toBeLessThan(1e-4);
  });
});

describe("ROI mask kernel", () => {
  // The sample's cells, and ROIs on each edge and corner of the frame, runs crossing rows' ends.
  const masks: PixelMask[] = [
    ...sample.groundTruth(W, H, [0]).cells.map((c) => c.pixel_mask),
    Array.from({ length: W }, (_, x) => [x, 0, 0.5 + rand()] as const),
    Array.from({ length: H }, (_, y) => [W - 1, y, rand()] as const),
    [[W - 3, H - 1, 1], [W - 2, H - 1, 2], [W - 1, H - 1, 3], [0, H - 1, 0.25]],
    Array.from({ length: 9 }, (_, k) => [k % 3, Math.floor(k / 3), 1 + k] as const),
    [[W - 1, 4, 1], [0, 5, 1], [1, 5, 0.5]],
  ];
  const roi = new RoiMasks(W, H, masks);
  /** Weighted mean of the mask's pixels moved inside the frame, in float64 one pixel at a time. */
  const bruteForce = (frame: ArrayLike<number>, mask: PixelMask, sx: number, sy: number) => {
    let [sum, norm] = [0, 0];
    for (const [x, y, w] of mask) {
      if (w <= 0 || x + sx < 0 || x + sx >= W || y + sy < 0 || y + sy >= H) continue;
      sum += Math.fround(w) * frame[(y + sy) * W + x + sx]!;
      norm += w;
    }
    return norm > 0 ? sum / norm : NaN;
  };

  it("gives each ROI's weighted mean of a uint16 frame as a pixel-by-pixel sum and the JS path do, to float32 rounding", () => {
    const [out, js] = [new Float32Array(masks.length), new Float32Array(masks.length)];
    let compared = 0;
    frames.forEach((f, t) => {
      const [dx, dy] = shifts[t]!;
      roi.fluorescence(f, dx, dy, out);
      roi.fluorescence(Float32Array.from(f), dx, dy, js);
      masks.forEach((m, i) => {
        const expected = bruteForce(f, m, Math.round(dx), Math.round(dy));
        for (const reference of [expected, js[i]!]) {
          if (Number.isNaN(reference)) expect(out[i]).toBeNaN();
          else expect(Math.abs(out[i]! - reference)).toBeLessThanOrEqual(2 ** -23 * Math.abs(reference));
        }
        compared += Number.isNaN(expected) ? 0 : 1;
      });
    });
    expect(compared).toBeGreaterThan(frames.length * (masks.length - 3)); // most ROIs on the frame, some moved off
  });
});

describe("motion kernel", () => {
  it("bins and tapers a uint16 frame as the JS path does: the same shifts to the bit, 2 × 2 binned and not", () => {
    const size = 512;
    const big = new SyntheticSample(30, 0, 4);
    const reference = big.image(size, size, 0, "green");
    for (const options of [{}, { bin: 1, window: 64 }, { bin: 3, window: 128 }]) {
      const estimator = new MotionEstimator(size, size, reference, options);
      for (const t of [3, 41.5, 200]) {
        const frame = big.render(size, size, t, "green");
        expect(estimator.estimate(frame)).toEqual(estimator.estimate(Float32Array.from(frame)));
      }
    }
  });
});
