// The analysis worker off the frame path: offer() never waits — frames beyond its few slots are skipped and
// counted — and every frame it took is analysed, in order, before finish() answers with the summary images.
import { expect, it } from "vitest";
import { OnlineAnalysis, type FrameResult } from "../../src/analysis/online.js";
import { SyntheticSample, quantize } from "../../simulators/sample.js";

it("skips and counts frames offered faster than the worker analyses them, and analyses the rest in order", async () => {
  const size = 256;
  const sample = new SyntheticSample(10, 0, 4);
  const frames = Array.from({ length: 8 }, (_, k) => quantize(sample.image(size, size, k / 30, "green"), "uint16") as Uint16Array);
  const online = OnlineAnalysis.start([
    { series: "S", width: size, height: size, rate_Hz: 30, motion: { reference_s: 0.1 }, summary_images: true, rois: sample.groundTruth(size, size, [0]).cells.map((c) => c.pixel_mask), baseline: { window_s: 5, percentile: 8 } },
  ]);
  const results: FrameResult[] = [];
  online.results$.subscribe((r) => results.push(r));
  // 200 frames at once: far faster than 30 Hz, and offer() returns at once each time.
  const taken: number[] = [];
  for (let k = 0; k < 200; k++) if (online.offer("S", k / 30, null, frames[k % 8]!, performance.timeOrigin + performance.now())) taken.push(k / 30);
  const counts = online.counts.get("S")!;
  expect(counts.offered).toBe(200);
  expect(counts.skipped).toBeGreaterThan(0);
  expect(counts.skipped).toBe(200 - taken.length);
  const images = await online.finish();
  await online.close();
  expect(results.map((r) => r.time)).toEqual(taken);
  expect(results.every((r) => r.f.length === 10 && r.dff.length === 10)).toBe(true);
  expect(results.at(-1)!.shifts[0]).not.toBeNull();
  expect(images.get("S")![0]!.frames).toBe(taken.length);
  expect(online.offer("T", 0, null, frames[0]!, 0)).toBe(false); // a series not analysed
});

it("analyses a volumetric series plane by plane: one result per volume, an ROI NaN where a plane of it was not analysed, a volume cut short ended at finish", async () => {
  const [size, depths] = [32, 3];
  // ROI 0: 4 pixels of plane 0; ROI 1: 4 pixels of plane 1 and 4 of plane 2.
  const square = (z: number) => [0, 1].flatMap((x) => [0, 1].map((y) => [x + 8, y + 8, z, 1] as [number, number, number, number]));
  const online = OnlineAnalysis.start([{ series: "V", width: size, height: size, depths, rate_Hz: 10, summary_images: true, rois: [square(0), [...square(1), ...square(2)]], baseline: { window_s: 1, percentile: 8 } }]);
  const results: FrameResult[] = [];
  online.results$.subscribe((r) => results.push(r));
  // Plane p of every volume is 100·(p + 1) everywhere: ROI 0 reads 100, ROI 1 (200 · 4 + 300 · 4) / 8 = 250.
  const plane = (p: number) => new Uint16Array(size * size).fill(100 * (p + 1));
  const offer = async (volume: number, p: number) => {
    // Each plane waits for a free slot: here a plane not offered stands for one skipped.
    while (!online.offer("V", volume, 10 * volume + p, plane(p), 0, p)) await new Promise((r) => setTimeout(r, 5));
  };
  for (const p of [0, 1, 2]) await offer(0, p); // whole
  for (const p of [0, 2]) await offer(1, p); // plane 1 skipped
  for (const p of [1, 2]) await offer(2, p); // plane 0 skipped
  for (const p of [0, 1]) await offer(3, p); // its last plane never comes
  const images = await online.finish();
  await online.close();
  expect(results.map((r) => [r.time, r.hardwareTime, r.planes, Array.from(r.f)])).toEqual([
    [0, 0, 3, [100, 250]],
    [1, 10, 2, [100, NaN]],
    [2, 21, 2, [NaN, 250]],
    [3, 30, 2, [100, NaN]],
  ]);
  expect(results.every((r) => r.shifts.length === depths && r.shifts.every((s) => s === null))).toBe(true); // no motion asked for
  // Summary images per depth, of the planes each depth analysed.
  expect(images.get("V")!.map((i) => [i.frames, i.mean[0]])).toEqual([[3, 100], [3, 200], [3, 300]]);
});
