// profiles/sim-volume-analysis.yaml (a two-photon rig recording volumes of 4 planes) at 256² planes — the resonant
// scanner then runs 62.5 planes/s, 15.6 volumes/s — with the sample's true cells as voxel-mask ROIs (read from an
// earlier session's VolumetricSegmentation, as a lab would reuse one), motion per depth plane and summary images,
// in process with the real simulators, and the file read back: the VolumetricSegmentation with its 3-D
// SummaryImages, the response series aligned volume for volume with their source, the motion TimeSeries of one
// column per depth, the project's NWB checks, and the accuracy per plane against the sample's truth.
import { execFileSync } from "node:child_process";
import { expect, it } from "vitest";
import type { TracesMessage } from "../../src/acquisition/analysis.js";
import { NwbWriter } from "../../src/nwb/index.js";
import { summarize } from "../../src/nwb/inspect.js";
import { SyntheticSample } from "../../simulators/sample.js";
import { hardwareClock } from "../../simulators/zmq-scanner.js";
import { attr, dataset, openRead, tempPath } from "../nwb/h5read.js";
import { violations } from "../nwb/inspector-rules.js";
import { layoutByType, referenceFile, typedDifferently } from "../nwb/layout.js";
import { recordAnalysed } from "./record.js";
import { findPython } from "../python.js";
import { pearson, percentile } from "./stats.js";

const SERIES = "VolumetricMicroscopySeriesGreen";
/** Planes of 256 lines at the simulated resonant scanner's 16 000 lines/s. */
const [SIZE, DEPTHS, PLANE_RATE] = [256, 4, 62.5];
const python = findPython(["h5py"]);
/** The scanner simulator's sample as the simulated rig makes it: 30 cells, SyntheticSample's default seed (7). */
const sample = () => new SyntheticSample(30, 0);
/** Depth z of plane p in the sample, as the simulated scanner images it. */
const depthOf = (p: number) => (p + 0.5) / DEPTHS;

/** The sample's cells as voxel masks (weights over 0.05 in each plane), those seen in some plane, with their indices. */
function trueRois(): { cell: number; voxels: [number, number, number, number][] }[] {
  const planes = Array.from({ length: DEPTHS }, (_, p) => sample().groundTruth(SIZE, SIZE, [0], depthOf(p)).cells);
  return planes[0]!
    .map((_, cell) => ({ cell, voxels: planes.flatMap((cells, p) => cells[cell]!.pixel_mask.map(([x, y, w]) => [x, y, p, w] as [number, number, number, number])) }))
    .filter((r) => r.voxels.length > 0);
}

/** An earlier session's file holding `rois` as VolumetricSegmentation "Cells". */
async function earlierSession(rois: ReturnType<typeof trueRois>): Promise<string> {
  const path = tempPath("earlier-volume.nwb");
  const w = await NwbWriter.create(path, { session_description: "An earlier session: its segmentation.", session_start_time: "2026-11-30T09:00:00+01:00" });
  await w.addImagingSpace({ neurodata_type: "VolumetricImagingSpace", name: "Brain", description: "The same volume.", dimensions_in_voxels: [SIZE, SIZE, DEPTHS], illumination_pattern: { neurodata_type: "LineScan", description: "Resonant scanning." } });
  await w.addVolumetricSegmentation({ name: "Cells", description: "The sample's cells.", imaging_space: "Brain", rois: rois.map((r) => ({ voxel_mask: r.voxels })) });
  await w.close();
  return path;
}

/** sim-volume-analysis.yaml at size² planes (at the scanner's rate for them), its analysis replaced by `analysis` if given. */
function smaller(size: number, analysis?: string): (yaml: string) => string {
  return (yaml) => {
    const shipped = "      analysis:\n        motion: { reference_s: 2 }\n        summary_images: true\n";
    expect(yaml).toContain(shipped);
    return yaml
      .replace("frame_shape: [512, 512]", `frame_shape: [${size}, ${size}]`)
      .replace("frame_rate_in_Hz: 30", `frame_rate_in_Hz: ${16000 / size}`)
      .replace("dimensions_in_voxels: [512, 512, 4]", `dimensions_in_voxels: [${size}, ${size}, ${DEPTHS}]`)
      .replace("voxel_size_in_um: [1.0, 1.0, 50.0]", `voxel_size_in_um: [${512 / size}, ${512 / size}, 50.0]`)
      .replace(shipped, analysis === undefined ? shipped : `      analysis:\n${analysis}`);
  };
}

/** Records `seconds` of the simulated rig of `edit`ed sim-volume-analysis.yaml: the file, the traces published and the analysis' counts. */
async function record(edit: (yaml: string) => string, seconds: number) {
  const { out, traces, status: all } = await recordAnalysed("sim-volume-analysis.yaml", edit, seconds, "volume-analysis.nwb");
  const status = all[SERIES]!; // counted in planes
  console.log(`analysis: ${status.offered} planes offered, ${status.analysed} analysed, ${status.skipped} skipped; ${traces.length} volumes published`);
  return { out, traces };
}

it(`sim-volume-analysis (256² planes) with analysis: per-plane motion, 3-D summary images and voxel-ROI traces per volume, aligned and accurate against the truth${python.skipNote}`, async () => {
  const seconds = 19; // > 256 volumes at 15.6/s: time is the longest axis of the 256² volumes (nwbinspector)
  const rois = trueRois();
  const from = await earlierSession(rois);
  const analysis = `        motion: { reference_s: 1 }\n        summary_images: true\n        baseline: { window_s: 10, percentile: 8 }\n        rois_from_nwb: { file: ${JSON.stringify(from)}, segmentation: Cells }\n`;
  const { out, traces } = await record(smaller(SIZE, analysis), seconds);

  const f = await openRead(out);
  const volumes = dataset(f, `/acquisition/${SERIES}/data`).shape![0]!;
  const seg = `/processing/ophys/SegmentationContainer/${SERIES}Segmentation`;
  expect(attr(f, seg, "neurodata_type")).toBe("VolumetricSegmentation");
  expect(dataset(f, `${seg}/voxel_mask`).shape).toEqual([rois.reduce((n, r) => n + r.voxels.length, 0)]);
  for (const image of ["mean", "max", "correlation"]) {
    expect(attr(f, `${seg}/${image}`, "neurodata_type")).toBe("SummaryImage");
    expect(dataset(f, `${seg}/${image}/data`).shape).toEqual([SIZE, SIZE, DEPTHS]);
  }
  for (const name of ["Fluorescence", "DfOverF"]) {
    const path = `/processing/ophys/MicroscopyResponseSeriesContainer/${SERIES}${name}`;
    // Volume for volume with its source: as many rows, its timestamps (a link to the source's).
    expect(dataset(f, `${path}/data`).shape).toEqual([volumes, rois.length]);
    expect(f.get_link(`${path}/timestamps`)).toBe(`/acquisition/${SERIES}/timestamps`);
    expect(f.get_link(`${path}/microscopy_series`)).toBe(`/acquisition/${SERIES}`);
  }
  // A motion row per volume in the file with a shift (none for a volume left incomplete at stop), at its time.
  const times = dataset(f, `/acquisition/${SERIES}/timestamps`).value as Float64Array;
  const withShift = traces.filter((t) => times.includes(t.time) && t.depth_shifts_um!.some((s) => s));
  for (const axis of ["X", "Y"]) {
    const motion = dataset(f, `/processing/ophys/${SERIES}Motion${axis}/data`);
    expect(motion.attrs["unit"]?.value).toBe("micrometers");
    expect(motion.shape).toEqual([withShift.length, DEPTHS]);
    expect(Array.from(dataset(f, `/processing/ophys/${SERIES}Motion${axis}/timestamps`).value as Float64Array)).toEqual(withShift.map((t) => t.time));
  }
  // The rows of the last volume are the published values; its motion row is the published shifts in µm.
  const last = traces.filter((t) => times.includes(t.time)).at(-1)!;
  const row = times.indexOf(last.time);
  const dffRows = dataset(f, `/processing/ophys/MicroscopyResponseSeriesContainer/${SERIES}DfOverF/data`).value as Float32Array;
  expect(Array.from(dffRows.subarray(row * rois.length, (row + 1) * rois.length))).toEqual(last.dff.map((v) => (v === null ? NaN : Math.fround(v))));
  const motionX = dataset(f, `/processing/ophys/${SERIES}MotionX/data`).value as Float64Array;
  expect(Array.from(motionX.subarray((withShift.length - 1) * DEPTHS))).toEqual(withShift.at(-1)!.depth_shifts_um!.map((s) => s?.[0] ?? NaN));

  expect(violations(f)).toEqual([]);
  // The reference's one SummaryImage is planar; ndx-microscopy's SummaryImage data is (height, width) or (…, depth).
  expect(typedDifferently(layoutByType(f), layoutByType(await openRead(referenceFile())))).toEqual(["SummaryImage data: reference float32 rank2, rigd float32 rank3"]);
  expect((await summarize(out)).segmentations).toEqual([
    { path: seg, neurodata_type: "VolumetricSegmentation", rois: rois.length, summary_images: ["correlation", "max", "mean"].map((name) => ({ name, shape: [SIZE, SIZE, DEPTHS] })) },
  ]);
  if (python.path) {
    // Another reader: h5py sees the voxel masks' compound and the 3-D images, depth last.
    const script = `import h5py, sys, json\nwith h5py.File(sys.argv[1], "r") as f:\n  g = f[sys.argv[2]]\n  print(json.dumps([list(g["voxel_mask"].dtype.names), list(g["mean/data"].shape), str(g["mean/data"].dtype)]))\n`;
    expect(JSON.parse(execFileSync(python.path, ["-c", script, out, seg], { encoding: "utf8" }))).toEqual([["x", "y", "z", "weight"], [SIZE, SIZE, DEPTHS], "float32"]);
  }

  // Accuracy per plane against the truth, at each plane's scanner time: plane p of a volume is imaged p planes
  // after its first (hardware_time_s), on a clock running 25 ppm fast. Each depth's reference is its planes of
  // the first second aligned on its first analysed, which may not be volume 0's (planes are skipped while the
  // worker's code compiles): positions are relative to the reference, whose offset from the truth's origin is
  // taken as the median of the differences.
  const planeTime = (t: TracesMessage, p: number) => t.hardware_time_s! / hardwareClock(1) + p / PLANE_RATE;
  const figures = Array.from({ length: DEPTHS }, (_, p) => {
    const truth = sample().groundTruth(SIZE, SIZE, traces.map((t) => planeTime(t, p)), depthOf(p));
    const shifted = traces.flatMap((t, k) => (t.depth_shifts_px![p] ? [{ s: t.depth_shifts_px![p]!, at: truth.motion_px[k]! }] : []));
    const [rx, ry] = [0, 1].map((axis) => percentile(shifted.map(({ s, at }) => at[axis]! - s[axis]!), 50)) as [number, number];
    const errors = shifted.flatMap(({ s, at }) => [Math.abs(s[0] + rx - at[0]), Math.abs(s[1] + ry - at[1])]);
    return { p50: percentile(errors, 50), p99: percentile(errors, 99), samples: errors.length / 2 };
  });
  // ΔF/F per ROI against its cell's (the activity of a cell is one, at every depth), once the baseline has a few seconds.
  const start = traces.findIndex((t) => t.time - traces[0]!.time > 3);
  const truth = sample().groundTruth(SIZE, SIZE, traces.map((t) => planeTime(t, 0)));
  const r = rois.map((roi, i) => pearson(traces.slice(start).map((t) => t.dff[i] ?? NaN), truth.cells[roi.cell]!.dff.slice(start)));
  console.log(
    `accuracy on ${traces.length} volumes: motion |error| per plane ${figures.map((m, p) => `z${p} p50 ${m.p50.toFixed(3)} px, p99 ${m.p99.toFixed(3)} px (${m.samples})`).join("; ")}; ` +
      `ΔF/F Pearson r over ${rois.length} voxel ROIs median ${percentile(r, 50).toFixed(3)} (min ${Math.min(...r).toFixed(3)})`,
  );
  for (const m of figures) {
    expect(m.p50).toBeLessThanOrEqual(0.2);
    expect(m.p99).toBeLessThanOrEqual(0.5);
  }
  expect(percentile(r, 50)).toBeGreaterThanOrEqual(0.9);
}, 180_000);

it("sim-volume-analysis as shipped (no ROIs; 128² planes): per-depth motion and GrayscaleImages per depth in a core Images container", async () => {
  const size = 128;
  const seconds = 7; // > 128 volumes at 31/s: time is the longest axis of the 128² volumes (nwbinspector)
  const { out, traces } = await record(smaller(size), seconds);
  const f = await openRead(out);
  const images = `/processing/ophys/${SERIES}SummaryImages`;
  const names = ["mean", "max", "correlation"].flatMap((k) => Array.from({ length: DEPTHS }, (_, z) => `${k}_z${z}`)).sort();
  expect([attr(f, images, "neurodata_type"), (f.get(images) as unknown as { keys(): string[] }).keys().sort()]).toEqual(["Images", names]);
  for (const name of names) expect([attr(f, `${images}/${name}`, "neurodata_type"), dataset(f, `${images}/${name}`).shape]).toEqual(["GrayscaleImage", [size, size]]);
  // No ROIs: no segmentation, no response series; the motion has a column per depth.
  expect((f.get("/processing/ophys") as unknown as { keys(): string[] }).keys().sort()).toEqual([`${SERIES}MotionX`, `${SERIES}MotionY`, `${SERIES}SummaryImages`]);
  expect(traces.every((t) => t.dff.length === 0 && t.shift_px === null && t.depth_shifts_px!.length === DEPTHS)).toBe(true);
  const times = dataset(f, `/acquisition/${SERIES}/timestamps`).value as Float64Array;
  const withShift = traces.filter((t) => times.includes(t.time) && t.depth_shifts_um!.some((s) => s)).length;
  expect(withShift).toBeGreaterThan(0);
  for (const axis of ["X", "Y"]) expect(dataset(f, `/processing/ophys/${SERIES}Motion${axis}/data`).shape).toEqual([withShift, DEPTHS]);
  expect(violations(f)).toEqual([]);
  expect(typedDifferently(layoutByType(f), layoutByType(await openRead(referenceFile())))).toEqual([]);
  expect((await summarize(out)).images).toEqual([{ path: images, images: names.map((name) => ({ name, shape: [size, size] })) }]);
}, 120_000);
