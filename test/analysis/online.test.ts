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
  expect(results.at(-1)!.shift).not.toBeNull();
  expect(images.get("S")!.frames).toBe(taken.length);
  expect(online.offer("T", 0, null, frames[0]!, 0)).toBe(false); // a series not analysed
});
