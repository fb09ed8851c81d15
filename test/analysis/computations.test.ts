// The analysis computations on in-memory frames: the synthetic sample's own ground truth (motion, masks, ΔF/F)
// and hand-made images whose answer is known exactly.
import { describe, expect, it } from "vitest";
import { MotionEstimator, ReferenceBuilder } from "../../src/analysis/motion.js";
import { SeriesAnalysis } from "../../src/analysis/series-analysis.js";
import { BANDS } from "../../src/analysis/plan.js";
import { SummaryAccumulator } from "../../src/analysis/summary.js";
import { RoiMasks, RunningBaseline } from "../../src/analysis/traces.js";
import { SyntheticSample } from "../../simulators/sample.js";
import { localMaxima, pearson, percentile } from "./stats.js";

/** A smooth image of blobs at a sub-pixel offset (dx, dy): its shift against offset 0 is known exactly. */
function blobs(size: number, dx: number, dy: number): Float32Array {
  const image = new Float32Array(size * size);
  const centres = Array.from({ length: 40 }, (_, i) => [((i * 37) % 97) / 97, ((i * 61) % 89) / 89, 2 + (i % 5)] as const);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let v = 100;
      for (const [cx, cy, r] of centres) v += 500 * Math.exp(-((x - dx - cx * size) ** 2 + (y - dy - cy * size) ** 2) / (2 * r * r));
      image[y * size + x] = v;
    }
  }
  return image;
}

describe("motion", () => {
  it("finds sub-pixel shifts of a smooth image within 0.1 px", () => {
    const estimator = new MotionEstimator(128, 128, blobs(128, 0, 0), { window: 64 });
    for (const [dx, dy] of [[0.3, -0.2], [-2.6, 1.4], [4.5, -3.75], [0, 0]] as const) {
      const s = estimator.estimate(blobs(128, dx, dy));
      expect(Math.abs(s.dx - dx)).toBeLessThan(0.1);
      expect(Math.abs(s.dy - dy)).toBeLessThan(0.1);
    }
  });

  it("follows the synthetic sample's motion (sim-2p's 512², 30 cells, its motion): |error| median ≤ 0.2 px, p99 ≤ 0.5 px", () => {
    const size = 512;
    const sample = new SyntheticSample(30, 0, 11);
    // Every 4 s over 20 min of drift and breathing, against the first second's frames at 30 Hz aligned on the first (t = 0, motion 0).
    const reference = new ReferenceBuilder(size, size);
    for (let k = 0; k < 30; k++) reference.add(sample.image(size, size, k / 30, "green"));
    const estimator = new MotionEstimator(size, size, reference.image());
    const times = Array.from({ length: 300 }, (_, k) => 1 + k * 4.01);
    const truth = sample.groundTruth(size, size, [0, ...times]);
    expect(truth.motion_px[0]).toEqual([0, 0]);
    const errors = times.flatMap((t, k) => {
      const s = estimator.estimate(sample.image(size, size, t, "green"));
      const [tx, ty] = truth.motion_px[k + 1]!;
      return [Math.abs(s.dx - tx), Math.abs(s.dy - ty)];
    });
    expect(Math.max(...truth.motion_px.map(([x]) => Math.abs(x)))).toBeGreaterThanOrEqual(4); // shifts worth finding
    console.log(`motion on sim-2p's sample: |error| p50 ${percentile(errors, 50).toFixed(3)} px, p99 ${percentile(errors, 99).toFixed(3)} px`);
    expect(percentile(errors, 50)).toBeLessThanOrEqual(0.2);
    expect(percentile(errors, 99)).toBeLessThanOrEqual(0.5);
  });

  it("refuses a window that is not a power of two and a reference of the wrong size", () => {
    expect(() => new MotionEstimator(64, 64, new Float32Array(64 * 64), { window: 48 })).toThrow(/power of two/);
    expect(() => new MotionEstimator(64, 64, new Float32Array(10))).toThrow(/reference image has 10 pixels, expected 64 × 64/);
  });
});

describe("ROI traces", () => {
  it("take each ROI's weighted mean, moved by the rounded shift, leaving out pixels moved off the frame", () => {
    const frame = Float32Array.from({ length: 4 * 3 }, (_, k) => k); // 3 rows of 4: value = 4 y + x
    const masks = new RoiMasks(4, 3, [[[0, 0, 1], [1, 0, 3]], [[3, 2, 1], [2, 2, 1]], [[1, 1, 0], [0, 0, 1]]]);
    const out = new Float32Array(3);
    masks.fluorescence(frame, 0, 0, out);
    expect([...out]).toEqual([0.75, 10.5, 0]);
    masks.fluorescence(frame, 1.2, 0.6, out); // moved by (1, 1): (1,1),(2,1) | (4,3) off, (3,3) off | (1,1)
    expect([...out]).toEqual([(5 + 3 * 6) / 4, NaN, 5]);
  });

  it("give the same weighted means as a pixel-by-pixel sum, for masks in any order and across row ends", () => {
    const [w, h] = [16, 12];
    let seed = 5;
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const frame = Float32Array.from({ length: w * h }, () => Math.round(1000 * rand()));
    // Random pixels, shuffled, and a row's last pixels followed by the next row's first.
    const masks = Array.from({ length: 6 }, () => Array.from({ length: 20 }, () => [Math.floor(w * rand()), Math.floor(h * rand()), rand()] as [number, number, number]));
    masks.push([[0, 5, 1], [w - 1, 4, 2], [w - 2, 4, 0.5], [1, 5, 3]]);
    const rois = new RoiMasks(w, h, masks);
    const out = new Float32Array(masks.length);
    for (const [dx, dy] of [[0, 0], [1, -1], [-2, 3]] as const) {
      rois.fluorescence(frame, dx, dy, out);
      masks.forEach((mask, i) => {
        const inside = mask.filter(([x, y]) => x + dx >= 0 && x + dx < w && y + dy >= 0 && y + dy < h);
        const norm = inside.reduce((n, [, , wt]) => n + wt, 0);
        const expected = inside.reduce((s, [x, y, wt]) => s + wt * frame[(y + dy) * w + x + dx]!, 0) / norm;
        expect(out[i]).toBeCloseTo(expected, 2);
      });
    }
  });

  it("refuse a mask pixel outside the frame, naming the ROI", () => {
    expect(() => new RoiMasks(4, 3, [[[0, 0, 1]], [[4, 0, 1]]])).toThrow("ROI 1 pixel (4, 0) lies outside the 4 × 3 frame");
    expect(() => new RoiMasks(4, 3, [[[0, 0, 0]]])).toThrow("ROI 0 has no pixel with a weight > 0");
  });

  it("take the baseline as the running percentile of the window, as a sort of the window gives it", () => {
    const window = 25;
    const baseline = new RunningBaseline(2, window, 10);
    const values: number[][] = [[], []];
    const dff = new Float32Array(2);
    let seed = 3;
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    for (let t = 0; t < 100; t++) {
      const f = [100 + 50 * rand(), 200 + 10 * rand()];
      f.forEach((v, i) => values[i]!.push(v));
      baseline.update(f, dff);
      f.forEach((v, i) => {
        const last = values[i]!.slice(-window).sort((a, b) => a - b);
        const f0 = last[Math.floor(0.1 * last.length)]!;
        expect(dff[i]).toBeCloseTo((v - f0) / f0, 5);
      });
    }
  });
});

describe("summary images", () => {
  it("give the mean and the maximum of every frame, and each pixel's mean correlation with its 8 neighbours, [x][y]", () => {
    // The correlation's sums take the k-th of BANDS bands of rows on frames k, k + BANDS, …, and pair only pixels
    // of one band: the brute force below does the same.
    const [w, h, n] = [5, 2 * BANDS, 20 * BANDS];
    let seed = 9;
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const frames = Array.from({ length: n }, () => Float32Array.from({ length: w * h }, () => 1000 + 100 * rand()));
    const acc = new SummaryAccumulator(w, h);
    frames.forEach((f) => acc.add(f));
    const images = acc.images();
    expect(images.shape).toEqual([w, h]);
    const band = (y: number) => Math.floor((y * BANDS) / h);
    const series = (x: number, y: number, all = false) => frames.filter((_, t) => all || t % BANDS === band(y)).map((f) => f[y * w + x]!);
    for (let x = 0; x < w; x++) {
      for (let y = 0; y < h; y++) {
        const s = series(x, y, true);
        expect(images.mean[x * h + y]).toBeCloseTo(s.reduce((a, b) => a + b) / n, 2);
        expect(images.max[x * h + y]).toBe(Math.fround(Math.max(...s)));
        const r: number[] = [];
        for (let j = -1; j <= 1; j++) {
          for (let i = -1; i <= 1; i++) {
            if ((i || j) && x + i >= 0 && x + i < w && y + j >= 0 && y + j < h && band(y + j) === band(y)) r.push(pearson(series(x, y), series(x + i, y + j)));
          }
        }
        expect(images.correlation[x * h + y]).toBeCloseTo(r.reduce((a, b) => a + b) / r.length, 4);
      }
    }
  });

  it("keep the mean and maximum of 16-bit frames exact over hundreds of frames, each moved back by its rounded shift", () => {
    // Integer frames are summed in int32 partials folded into float64 totals: nothing is rounded however long
    // the session. Int16 frames all below zero check that the maximum starts from the type's smallest value.
    const [w, h, n] = [7, 2 * BANDS, 300];
    let seed = 13;
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    for (const [Type, low, high] of [[Uint16Array, 0, 65535], [Int16Array, -32768, -1]] as const) {
      const frames = Array.from({ length: n }, () => new Type(Array.from({ length: w * h }, () => low + Math.round((high - low) * rand() ** 3))));
      frames[17]![3] = high;
      const shifts = frames.map(() => [4 * rand() - 2, 4 * rand() - 2] as const);
      const acc = new SummaryAccumulator(w, h);
      frames.forEach((f, t) => acc.add(f, ...shifts[t]!));
      const images = acc.images();
      const clamp = (v: number, size: number) => Math.min(size - 1, Math.max(0, v));
      for (let x = 0; x < w; x++) {
        for (let y = 0; y < h; y++) {
          const values = frames.map((f, t) => f[clamp(y + Math.round(shifts[t]![1]), h) * w + clamp(x + Math.round(shifts[t]![0]), w)]!);
          expect(images.mean[x * h + y]).toBe(Math.fround(values.reduce((a, b) => a + b) / n));
          expect(images.max[x * h + y]).toBe(Math.max(...values));
        }
      }
    }
  });
});

describe("the analysis of a series against the synthetic sample's truth", () => {
  // 30 s at 30 Hz of sim-2p's 512² field, twice its motion; the true masks as ROIs.
  const [size, rate, seconds] = [512, 30, 30];
  const sample = new SyntheticSample(30, 1100, 5, { motion: 2 });
  const times = Array.from({ length: rate * seconds }, (_, k) => 1000 + k / rate); // where the drift is under way
  const truth = sample.groundTruth(size, size, times);
  const analysis = new SeriesAnalysis({
    series: "S",
    width: size,
    height: size,
    rate_Hz: rate,
    motion: { reference_s: 1 },
    summary_images: true,
    rois: truth.cells.map((c) => c.pixel_mask),
    baseline: { window_s: 20, percentile: 8 },
  });
  const dff: number[][] = truth.cells.map(() => []);
  const shifts: ({ dx: number; dy: number } | null)[] = [];
  for (const t of times) {
    const r = analysis.add(sample.image(size, size, t, "green"));
    shifts.push(r.shift && { dx: r.shift.dx, dy: r.shift.dy });
    r.dff.forEach((v, i) => dff[i]!.push(v));
  }

  it("estimates motion once the reference (the first second) is built", () => {
    expect(shifts.slice(0, rate).every((s) => s === null)).toBe(true);
    // The reference is the first second's frames aligned on the first: its position is the truth's there.
    const [rx, ry] = truth.motion_px[0]!;
    const errors = shifts.flatMap((s, k) => (s ? [Math.abs(s.dx + rx - truth.motion_px[k]![0]), Math.abs(s.dy + ry - truth.motion_px[k]![1])] : []));
    expect(errors.length).toBe(2 * (times.length - rate));
    expect(percentile(errors, 50)).toBeLessThanOrEqual(0.2);
    expect(percentile(errors, 99)).toBeLessThanOrEqual(0.5);
  });

  it("gives ΔF/F correlated ≥ 0.9 (median over ROIs) with the true ΔF/F", () => {
    const start = rate * 5; // once the baseline has a few seconds
    const r = truth.cells.map((c, i) => pearson(dff[i]!.slice(start), c.dff.slice(start)));
    console.log(`ΔF/F against the truth: Pearson r median ${percentile(r, 50).toFixed(3)} (min ${Math.min(...r).toFixed(3)})`);
    expect(percentile(r, 50)).toBeGreaterThanOrEqual(0.9);
  });

  it("has a correlation image that peaks on the true cells", () => {
    const images = analysis.summaryImages()!;
    // Maxima at least the smallest cell's diameter apart (cells' radii are 0.025–0.04 of the field): a cell's
    // correlation is a plateau near 1, not one peak, and a big cell would otherwise hold several of them.
    const peaks = localMaxima(images.correlation, size, size, truth.cells.length, 0.05 * size);
    // Corrected frames sit where the reference (the first frame) does. A cell is found when one of the top
    // local maxima lies within its radius of its centre.
    const [rx, ry] = truth.motion_px[0]!;
    const found = truth.cells.filter((c) => peaks.some(([x, y]) => Math.hypot(x - rx - c.x * size, y - ry - c.y * size) <= c.r * size)).length;
    console.log(`correlation image: ${found}/${truth.cells.length} cells among its top ${truth.cells.length} maxima`);
    expect(found / truth.cells.length).toBeGreaterThanOrEqual(0.8);
  });
});
