// npm run bench -- --analysis [--seconds 20] [--rois 200] [--mask-fraction 0.2] [--json]: the online analysis
// (src/analysis) on sim-2p's 512² frames with 200 ROIs, motion and summary images on. Prints (1) what it costs per
// frame on one core — the analysis alone, in this thread, frame after frame — and (2) in its worker at sim-2p's
// 30.9 frames/s, as a session runs it: latency from a frame's arrival to its traces being published on the main
// thread, and frames skipped.
// The frames are the synthetic sample's, rendered once before timing. The ROIs are its cells' true masks cut to the
// pixels of at least --mask-fraction of the cell's peak weight, as a segmentation outlines a cell: the sample's
// Gaussian footprints (kept down to 5 % of the peak) are ~2 650 px a cell, overlapping, where suite2p's or CaImAn's
// ROIs at 512² are ~50–300 px; cut at 20 % they are ~1 400 px, still generous. --mask-fraction 0 takes them whole.
// The machine's load (1-minute average) is printed before and after each part: on a shared machine only runs at
// like load compare.
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { quantize, SyntheticSample } from "../simulators/sample.js";
import { OnlineAnalysis } from "../src/analysis/online.js";
import { SeriesAnalysis, type SeriesAnalysisConfig } from "../src/analysis/series-analysis.js";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "20" }, rois: { type: "string", default: "200" }, "mask-fraction": { type: "string", default: "0.2" }, json: { type: "boolean", default: false } } });
const SIZE = 512;
const RATE = 30.9;
const seconds = Number(values.seconds);
const roiCount = Number(values.rois);
const maskFraction = Number(values["mask-fraction"]);

const sample = new SyntheticSample(roiCount, 0, 3);
const RENDERED = 64;
const frames = Array.from({ length: RENDERED }, (_, k) => quantize(sample.image(SIZE, SIZE, 100 + k / RATE, "green"), "uint16") as Uint16Array);
const config: SeriesAnalysisConfig = {
  series: "Green",
  width: SIZE,
  height: SIZE,
  rate_Hz: RATE,
  motion: { reference_s: 1 },
  summary_images: true,
  rois: sample.groundTruth(SIZE, SIZE, [0]).cells.map((c) => {
    const peak = c.pixel_mask.reduce((m, [, , w]) => Math.max(m, w), 0);
    return c.pixel_mask.filter(([, , w]) => w >= maskFraction * peak);
  }),
  baseline: { window_s: 30, percentile: 8 },
};
const pixels = config.rois!.reduce((n, m) => n + m.length, 0);

const percentiles = (ms: number[]) => {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
  return { p50: at(0.5), p99: at(0.99), max: sorted.at(-1)! };
};

const load = () => Math.round(loadavg()[0]! * 100) / 100;

// (1) One core: every frame, in this thread. The reference's second is left out (no motion estimate yet).
const loadBefore = load();
const analysis = new SeriesAnalysis(config);
const reference = Math.round(RATE);
const cost: number[] = [];
// The two steps of a frame: motion and ROI traces (published), then the summary images' sums.
const tracesCost: number[] = [];
const summaryCost: number[] = [];
for (let k = 0; k < reference + Math.round(seconds * RATE); k++) {
  const frame = frames[k % RENDERED]!;
  const start = performance.now();
  analysis.traces(frame);
  const traced = performance.now();
  analysis.summarize(frame);
  const end = performance.now();
  if (k >= reference) cost.push(end - start), tracesCost.push(traced - start), summaryCost.push(end - traced);
}
const summaryStart = performance.now();
analysis.summaryImages();
const summaryMs = performance.now() - summaryStart;
const loadBetween = load();

// (2) In its worker, frames offered at the frame rate as a session offers them.
const online = OnlineAnalysis.start([config]);
const latency: number[] = [];
const steady: number[] = [];
const now = () => performance.timeOrigin + performance.now();
// After the first 2 s the worker's code is compiled (JIT) and the reference built: its steady state.
online.results$.subscribe((r) => (r.time < 2 ? latency : steady).push(now() - r.received));
const total = Math.round(seconds * RATE);
const t0 = performance.now();
for (let k = 0; k < total; k++) {
  const wait = t0 + (k * 1000) / RATE - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  online.offer("Green", k / RATE, k / RATE, frames[k % RENDERED]!, now());
}
await online.finish();
await online.close();
const counts = online.counts.get("Green")!;
const loadAfter = load();

const result = {
  frame: [SIZE, SIZE],
  rois: roiCount,
  mask_fraction: maskFraction,
  roi_pixels: pixels,
  motion: "central 256² binned 2 × 2, 128² FFT",
  per_frame_ms: percentiles(cost),
  motion_and_traces_ms: percentiles(tracesCost),
  summary_sums_ms: percentiles(summaryCost),
  summary_images_at_stop_ms: summaryMs,
  worker: { frames: counts.offered, skipped: counts.skipped, arrival_to_traces_ms: percentiles([...latency, ...steady]), after_2_s: percentiles(steady) },
  load_1_min: { one_core: [loadBefore, loadBetween], worker: [loadBetween, loadAfter] },
};
if (values.json) console.log(JSON.stringify(result, null, 2));
else {
  const f = (p: { p50: number; p99: number; max: number }) => `p50 ${p.p50.toFixed(2)} ms, p99 ${p.p99.toFixed(2)} ms, max ${p.max.toFixed(2)} ms`;
  console.log(`online analysis, ${SIZE}² uint16 frames, ${roiCount} ROIs (${pixels} mask pixels, ≥ ${maskFraction} of each cell's peak), motion (central 256², binned 2 × 2) + summary images + ΔF/F:`);
  console.log(`  one core, per frame:            ${f(result.per_frame_ms)} over ${cost.length} frames; summary images at stop ${summaryMs.toFixed(0)} ms (load ${loadBefore} → ${loadBetween})`);
  console.log(`    motion + traces:              ${f(result.motion_and_traces_ms)}`);
  console.log(`    summary images' sums:         ${f(result.summary_sums_ms)}`);
  console.log(`  worker at ${RATE} frames/s:       arrival → traces published ${f(result.worker.arrival_to_traces_ms)}; ${counts.skipped} of ${counts.offered} frames skipped (load ${loadBetween} → ${loadAfter})`);
  console.log(`    after the first 2 s:          ${f(result.worker.after_2_s)}`);
}
