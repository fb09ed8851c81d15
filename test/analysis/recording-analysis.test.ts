// sim-2p recorded with `analysis:` on its green series — the simulated sample's true masks as ROIs (read from an
// earlier session's NWB file, as a lab would reuse a segmentation), motion and summary images on — in process with the real simulators (ptys, ZeroMQ), and the file read back: the motion
// TimeSeries, the three SummaryImages and the response series aligned frame for frame with their source, the
// project's NWB checks, and the accuracy against the sample's ground truth on the frames analysed.
import { expect, it } from "vitest";
import { NwbWriter } from "../../src/nwb/index.js";
import { summarize } from "../../src/nwb/inspect.js";
import { SyntheticSample } from "../../simulators/sample.js";
import { hardwareClock } from "../../simulators/zmq-scanner.js";
import { execFileSync } from "node:child_process";
import { attr, dataset, openRead, tempPath } from "../nwb/h5read.js";
import { findPython } from "../python.js";
import { violations } from "../nwb/inspector-rules.js";
import { layoutByType, referenceFile, typedDifferently } from "../nwb/layout.js";
import { recordAnalysed } from "./record.js";
import { localMaxima, pearson, percentile } from "./stats.js";

const SERIES = "PlanarMicroscopySeriesGreen";
const python = findPython(["h5py"]);
const SIZE = 512;
/** The scanner simulator's sample as the simulated rig makes it: 30 cells, SyntheticSample's default seed (7). */
const sample = () => new SyntheticSample(30, 0);

/** An earlier session's file holding the sample's true masks (weights over 0.05) as PlanarSegmentation "Cells". */
async function earlierSession(): Promise<string> {
  const path = tempPath("earlier.nwb");
  const w = await NwbWriter.create(path, { session_description: "An earlier session: its segmentation.", session_start_time: "2026-11-30T09:00:00+01:00" });
  await w.addImagingSpace({ neurodata_type: "PlanarImagingSpace", name: "Plane", description: "The same field of view.", dimensions_in_pixels: [SIZE, SIZE], illumination_pattern: { neurodata_type: "LineScan", description: "Resonant scanning." } });
  await w.addPlanarSegmentation({ name: "Cells", description: "The sample's cells.", imaging_space: "Plane", rois: sample().groundTruth(SIZE, SIZE, [0]).cells.map((c) => ({ pixel_mask: c.pixel_mask })) });
  await w.close();
  return path;
}

/** sim-2p.yaml with `analysis:` on the green series, its ROIs from `rois` (an NWB file's segmentation "Cells"). */
function withAnalysis(rois: string): (yaml: string) => string {
  return (yaml) => {
    const analysis = `      analysis:\n        motion: { reference_s: 1 }\n        summary_images: true\n        baseline: { window_s: 20, percentile: 8 }\n        rois_from_nwb: { file: ${JSON.stringify(rois)}, segmentation: Cells }\n`;
    const at = yaml.indexOf("      frames: { source: ScanFrames, channel: 0 }\n");
    expect(at).toBeGreaterThan(0);
    const end = yaml.indexOf("\n", at) + 1;
    return yaml.slice(0, end) + analysis + yaml.slice(end);
  };
}

it("sim-2p with analysis: motion, summary images and ROI traces in the file, aligned and accurate against the truth", async () => {
  const seconds = 24; // > 17 s: time is the longest axis of a 512² series (nwbinspector)
  const recorded = await recordAnalysed("sim-2p.yaml", withAnalysis(await earlierSession()), seconds, "sim-2p-analysis.nwb");
  const { out, traces } = recorded;
  const status = recorded.status[SERIES]!;

  console.log(`analysis: ${status.offered} frames offered, ${status.analysed} analysed, ${status.skipped} skipped`);
  // Each skipped frame is in the event record: "analysis_behind [series] the online analysis fell behind: N frames …".
  const behind = (await summarize(out)).events.map((e) => /^analysis_behind \[PlanarMicroscopySeriesGreen\] the online analysis fell behind: (\d+) frames?/.exec(e.text));
  expect(behind.reduce((n, m) => n + (m ? Number(m[1]) : 0), 0)).toBe(status.skipped);

  const f = await openRead(out);
  const source = dataset(f, `/acquisition/${SERIES}/data`).shape![0]!;
  // The file, read back, has a trace row for every frame analysed and NaN rows for those skipped: as status counts.
  const dffRowsInFile = dataset(f, `/processing/ophys/MicroscopyResponseSeriesContainer/${SERIES}DfOverF/data`).value as Float32Array;
  const analysedRows = Array.from({ length: source }, (_, row) => dffRowsInFile.subarray(row * 30, (row + 1) * 30).some((v) => !Number.isNaN(v))).filter(Boolean).length;
  expect([analysedRows, source - analysedRows]).toEqual([status.analysed, status.skipped]);
  const seg = `/processing/ophys/SegmentationContainer/${SERIES}Segmentation`;
  for (const image of ["mean", "max", "correlation"]) {
    expect(attr(f, `${seg}/${image}`, "neurodata_type")).toBe("SummaryImage");
    expect(dataset(f, `${seg}/${image}/data`).shape).toEqual([SIZE, SIZE]);
  }
  for (const name of ["Fluorescence", "DfOverF"]) {
    const path = `/processing/ophys/MicroscopyResponseSeriesContainer/${SERIES}${name}`;
    expect(attr(f, path, "neurodata_type")).toBe("MicroscopyResponseSeries");
    // Frame for frame with its source: as many rows, its timestamps (a link to the source's).
    expect(dataset(f, `${path}/data`).shape).toEqual([source, 30]);
    expect(f.get_link(`${path}/timestamps`)).toBe(`/acquisition/${SERIES}/timestamps`);
  }
  // A motion row per frame in the file with a shift, at its time.
  const times = dataset(f, `/acquisition/${SERIES}/timestamps`).value as Float64Array;
  for (const axis of ["X", "Y"]) {
    const motion = dataset(f, `/processing/ophys/${SERIES}Motion${axis}/data`);
    expect(motion.attrs["unit"]?.value).toBe("micrometers");
    expect(Array.from(dataset(f, `/processing/ophys/${SERIES}Motion${axis}/timestamps`).value as Float64Array)).toEqual(traces.filter((t) => t.shift_um && times.includes(t.time)).map((t) => t.time));
  }
  // The rows of the analysed frames are the published values.
  const dffRows = dataset(f, `/processing/ophys/MicroscopyResponseSeriesContainer/${SERIES}DfOverF/data`).value as Float32Array;
  const last = traces.at(-1)!;
  const row = times.indexOf(last.time);
  expect(Array.from(dffRows.subarray(row * 30, row * 30 + 30))).toEqual(last.dff.map((v) => (v === null ? NaN : Math.fround(v))));

  expect(violations(f)).toEqual([]);
  expect(typedDifferently(layoutByType(f), layoutByType(await openRead(referenceFile())))).toEqual([]);

  // Accuracy against the truth, at each analysed frame's scanner time (its hardware time is the scanner's clock).
  // The scanner stamps t as hardwareClock(t): a clock running 25 ppm fast.
  const truthTimes = traces.map((t) => t.hardware_time_s! / hardwareClock(1));
  const truth = sample().groundTruth(SIZE, SIZE, truthTimes);
  // The reference is the first second's frames aligned on the first: positions are relative to that frame's.
  const [rx, ry] = truth.motion_px[0]!;
  const errors = traces.flatMap((t, k) => (t.shift_px ? [Math.abs(t.shift_px[0] + rx - truth.motion_px[k]![0]), Math.abs(t.shift_px[1] + ry - truth.motion_px[k]![1])] : []));
  const motion = { p50: percentile(errors, 50), p99: percentile(errors, 99) };
  const start = traces.findIndex((t) => t.time - traces[0]!.time > 5); // once the baseline has a few seconds
  const r = truth.cells.map((c, i) => pearson(traces.slice(start).map((t) => t.dff[i] ?? NaN), c.dff.slice(start)));
  const images = f.get(`${seg}/correlation/data`) as { value: Float32Array };
  // Maxima at least the smallest cell's diameter apart: a cell's correlation is a plateau near 1, not one peak.
  const peaks = localMaxima(images.value, SIZE, SIZE, truth.cells.length, 0.05 * SIZE, "rows"); // (height, width)
  const found = truth.cells.filter((c) => peaks.some(([x, y]) => Math.hypot(x - rx - c.x * SIZE, y - ry - c.y * SIZE) <= c.r * SIZE)).length;
  console.log(
    `accuracy on ${traces.length} frames: motion |error| p50 ${motion.p50.toFixed(3)} px, p99 ${motion.p99.toFixed(3)} px; ` +
      `ΔF/F Pearson r median ${percentile(r, 50).toFixed(3)} (min ${Math.min(...r).toFixed(3)}); correlation image: ${found}/${truth.cells.length} cells among its top ${truth.cells.length} maxima`,
  );
  expect(motion.p50).toBeLessThanOrEqual(0.2);
  expect(motion.p99).toBeLessThanOrEqual(0.5);
  expect(percentile(r, 50)).toBeGreaterThanOrEqual(0.9);
  expect(found / truth.cells.length).toBeGreaterThanOrEqual(0.8);
}, 180_000);

/** sim-2p.yaml with frames of size² pixels, and `analysis` inserted under the series recording `channel`. */
function withSeriesAnalysis(size: number, analyses: Record<number, string>): (yaml: string) => string {
  return (yaml) => {
    let out = yaml.replace("frame_shape: [512, 512]", `frame_shape: [${size}, ${size}]`).replace("dimensions_in_pixels: [512, 512]", `dimensions_in_pixels: [${size}, ${size}]`);
    for (const [channel, analysis] of Object.entries(analyses)) {
      const line = `      frames: { source: ScanFrames, channel: ${channel} }\n`;
      const at = out.indexOf(line);
      expect(at).toBeGreaterThan(0);
      out = out.slice(0, at + line.length) + `      analysis: ${analysis}\n` + out.slice(at + line.length);
    }
    return out;
  };
}

it(`summary images without ROIs (a core Images container) beside motion alone on the other channel: in the file, read back by h5py, the correlation image on the cells${python.skipNote}`, async () => {
  const size = 128;
  const seconds = 10; // ~1200 frames at 128 lines a frame: cells fire for the correlation image (and time is the longest axis)
  const edit = withSeriesAnalysis(size, { 0: "{ motion: { reference_s: 1 }, summary_images: true }", 1: "{ motion: { reference_s: 1 } }" });
  const { out, traces } = await recordAnalysed("sim-2p.yaml", edit, seconds, "sim-2p-summary.nwb");

  const f = await openRead(out);
  const images = `/processing/ophys/${SERIES}SummaryImages`;
  expect([attr(f, images, "namespace"), attr(f, images, "neurodata_type")]).toEqual(["core", "Images"]);
  for (const image of ["mean", "max", "correlation"]) {
    expect(attr(f, `${images}/${image}`, "neurodata_type")).toBe("GrayscaleImage");
    expect(dataset(f, `${images}/${image}`).shape).toEqual([size, size]);
  }
  // No ROIs: no segmentation, no response series; motion on both channels, in µm.
  const motions = [SERIES, "PlanarMicroscopySeriesRed"].flatMap((s) => [`${s}MotionX`, `${s}MotionY`]);
  expect((f.get("/processing/ophys") as unknown as { keys(): string[] }).keys().sort()).toEqual([`${SERIES}SummaryImages`, ...motions].sort());
  for (const series of [SERIES, "PlanarMicroscopySeriesRed"]) {
    const times = dataset(f, `/acquisition/${series}/timestamps`).value as Float64Array;
    const shifts = traces.filter((t) => t.series === series && t.shift_um && times.includes(t.time)).length;
    expect(shifts).toBeGreaterThan(0);
    for (const axis of ["X", "Y"]) {
      const motion = dataset(f, `/processing/ophys/${series}Motion${axis}/data`);
      expect(motion.attrs["unit"]?.value).toBe("micrometers");
      expect(motion.shape![0]).toBe(shifts);
    }
  }
  expect(traces.every((t) => t.dff.length === 0 && t.f.length === 0)).toBe(true);
  expect(violations(f)).toEqual([]);
  expect(typedDifferently(layoutByType(f), layoutByType(await openRead(referenceFile())))).toEqual([]);
  expect((await summarize(out)).images).toEqual([{ path: images, images: ["correlation", "max", "mean"].map((name) => ({ name, shape: [size, size] })) }]);

  if (python.path) {
    // Another reader: h5py sees the types and the float32 (height, width) images.
    const script = `import h5py, sys, json\nwith h5py.File(sys.argv[1], "r") as f:\n  g = f[sys.argv[2]]\n  print(json.dumps({k: [g[k].attrs["neurodata_type"], str(g[k].dtype), list(g[k].shape)] for k in g}))\n`;
    const read = JSON.parse(execFileSync(python.path, ["-c", script, out, images], { encoding: "utf8" }));
    expect(read).toEqual(Object.fromEntries(["correlation", "max", "mean"].map((k) => [k, ["GrayscaleImage", "float32", [size, size]]])));
  }

  // The correlation image peaks on the sample's cells (positions relative to the reference's first frame).
  const green = traces.filter((t) => t.series === SERIES);
  const truth = sample().groundTruth(size, size, green.map((t) => t.hardware_time_s! / hardwareClock(1)));
  const [rx, ry] = truth.motion_px[0]!;
  const correlation = dataset(f, `${images}/correlation`).value as Float32Array;
  const peaks = localMaxima(correlation, size, size, truth.cells.length, 0.05 * size, "rows"); // (height, width), as the frames
  const found = truth.cells.filter((c) => peaks.some(([x, y]) => Math.hypot(x - rx - c.x * size, y - ry - c.y * size) <= c.r * size)).length;
  console.log(`summary images without ROIs: ${green.length} frames analysed; correlation image: ${found}/${truth.cells.length} cells among its top ${truth.cells.length} maxima`);
  expect(found / truth.cells.length).toBeGreaterThanOrEqual(0.8);
}, 120_000);
