// A growing series is written with its first sample: one that never gets a sample is not in the file, and
// close says which those were. The layout stays pynwb's: a rig, channel or imaging space lives in the first
// series written and is linked from the others.
import { describe, expect, it } from "vitest";
import { NwbWriter } from "../../src/nwb/index.js";
import packageJson from "../../package.json" with { type: "json" };
import { attr, dataset, openRead, tempPath } from "./h5read.js";
import { violations } from "./inspector-rules.js";

const session = {
  session_description: "Empty series test.",
  session_start_time: "2026-01-05T09:00:00Z",
  experimenter: ["Doe, Jane"],
  institution: "Example Institute",
  experiment_description: "Series declared and not all recorded.",
  keywords: ["test"],
  subject: { subject_id: "m1", species: "Mus musculus", sex: "F" as const, age: "P90D", description: "Test mouse." },
};

async function rigWriter(path: string) {
  const w = await NwbWriter.create(path, session);
  await w.addDevice({ neurodata_type: "Microscope", name: "Microscope", description: "Test microscope." });
  await w.addRig({ name: "Rig", description: "Test rig.", microscope: "Microscope" });
  await w.addChannel({ name: "Green", description: "Green.", excitation_wavelength_in_nm: 920, emission_wavelength_in_nm: 525, indicator: { label: "GCaMP6f", description: "Calcium indicator." } });
  await w.addImagingSpace({ neurodata_type: "PlanarImagingSpace", name: "Plane", description: "Plane.", dimensions_in_pixels: [8, 8], illumination_pattern: { neurodata_type: "LineScan", description: "Line scanning." } });
  return w;
}

const planar = (name: string, extra = {}) => ({
  name,
  description: "Frames.",
  data_type: "uint16" as const,
  frame_shape: [8, 8] as [number, number],
  microscopy_rig: "Rig",
  microscopy_channel: "Green",
  imaging_space: "Plane",
  clock: { timestamps: true as const },
  ...extra,
});

/** n frames of 8×8, frame i filled with i, at 30 frames/s with jitter (not evenly spaced). */
const frames = (n: number, from = 0) => ({
  data: Uint16Array.from({ length: n * 64 }, (_, k) => from + Math.floor(k / 64)),
  times: Array.from({ length: n }, (_, i) => 0.02 + (from + i) / 30 + ((from + i) % 3) * 1e-4),
});

describe("series with no samples", () => {
  it("are not in the file, closed or not, and the close report and the file's closing note name them", async () => {
    const path = tempPath("empty.nwb");
    const w = await rigWriter(path);
    const recorded = await w.createPlanarSeries(planar("Frames"));
    await w.addContainer({ neurodata_type: "MultiPlaneMicroscopyContainer" });
    await w.createPlanarSeries(planar("Plane1", { container: "MultiPlaneMicroscopyContainer" }));
    const power = await w.createTelemetrySeries({ name: "Power", description: "Laser power.", unit: "W", clock: { timestamps: true } });
    await w.createTelemetrySeries({ name: "Gain", description: "PMT gain.", unit: "V", clock: { timestamps: true } });
    // Before any sample nothing of the series is in the file; a checkpoint says they are empty.
    expect(await w.checkpoint()).toMatchObject({ samples: {}, empty: ["Frames", "Plane1", "Power", "Gain"] });
    const f0 = await openRead(path);
    expect(f0.get("acquisition/Frames")).toBeNull();
    f0.close();

    const { data, times } = frames(12);
    await w.append(recorded, data, times);
    await w.append(power, Float64Array.of(1.5, 1.52, 1.49), [0.1, 0.61, 1.13]);
    const report = await w.close();
    expect(report.samples).toEqual({ Frames: 12, Power: 3 });
    expect(report.empty).toEqual(["Plane1", "Gain"]);

    const f = await openRead(path);
    expect((f.get("acquisition") as { keys(): string[] }).keys().sort()).toEqual(["Frames", "Power"]);
    expect(dataset(f, "acquisition/Frames/data").shape).toEqual([12, 8, 8]);
    expect(Array.from(dataset(f, "acquisition/Power/timestamps").value as Float64Array)).toEqual([0.1, 0.61, 1.13]);
    // pynwb's source_script (with its file_name) says rigd wrote the file; data_collection that it was closed.
    expect(dataset(f, "general/source_script").value).toBe(`rigd ${packageJson.version}`);
    expect(attr(f, "general/source_script", "file_name")).toBe("rigd");
    expect(dataset(f, "general/data_collection").value).toMatch(
      new RegExp(`^rigd ${packageJson.version}: closed normally on \\d{4}-\\d\\d-\\d\\dT[^;]+; series created that got no sample, so are not in the file: Plane1, Gain\\.$`),
    );
    // 12 frames of 8×8: time is the longest axis, and no series is empty.
    expect(violations(f)).toEqual([]);
  });

  it("puts rig, channel and imaging space in the first series that gets a sample, wherever it was created, and links the others there", async () => {
    const path = tempPath("placement.nwb");
    const w = await rigWriter(path);
    const a = await w.createPlanarSeries(planar("A"));
    const b = await w.createPlanarSeries(planar("B"));
    await w.addPlanarSegmentation({ name: "Seg", description: "One ROI.", imaging_space: "Plane", rois: [{ pixel_mask: [[1, 1, 1]] }] });
    const traces = await w.createResponseSeries({ name: "Traces", description: "ROI means.", segmentation: "Seg", rois_description: "The ROI.", microscopy_series: "B", clock: "source" });
    const first = frames(10);
    await w.append(b, first.data, first.times);
    const second = frames(10, 10);
    await w.append(a, second.data, second.times);
    await w.append(traces, Float32Array.from({ length: 10 }, (_, i) => i / 10));
    // A derived TimeSeries (two columns a sample) in the processing module, beside the traces.
    const shift = await w.createTelemetrySeries({ name: "Shift", description: "A derived value.", unit: "micrometers", clock: { timestamps: true }, columns: 2, module: "ophys" });
    await w.append(shift, Float64Array.of(0.5, 1, 1.5, 2), [0.1, 0.2]);
    expect((await w.close()).empty).toEqual([]);

    const f = await openRead(path);
    // The segmentation was written before any series: the imaging space went there, as pynwb would put it.
    expect(attr(f, "processing/ophys/SegmentationContainer/Seg/Plane", "neurodata_type")).toBe("PlanarImagingSpace");
    expect(f.get_link("/acquisition/B/Plane")).toBe("/processing/ophys/SegmentationContainer/Seg/Plane");
    expect(attr(f, "acquisition/B/Rig", "neurodata_type")).toBe("MicroscopyRig");
    expect(f.get_link("/acquisition/B/Rig")).toBeFalsy();
    expect(f.get_link("/acquisition/A/Rig")).toBe("/acquisition/B/Rig");
    expect(f.get_link("/acquisition/A/Green")).toBe("/acquisition/B/Green");
    expect(f.get_link("/processing/ophys/MicroscopyResponseSeriesContainer/Traces/timestamps")).toBe("/acquisition/B/timestamps");
    expect(f.get_link("/processing/ophys/MicroscopyResponseSeriesContainer/Traces/microscopy_series")).toBe("/acquisition/B");
    expect(dataset(f, "processing/ophys/MicroscopyResponseSeriesContainer/Traces/data").shape).toEqual([10, 1]);
    expect([attr(f, "processing/ophys/Shift", "neurodata_type"), dataset(f, "processing/ophys/Shift/data").shape]).toEqual(["TimeSeries", [2, 2]]);
  });

  it("are still checked when created: a bad series is refused at once, and a trace cannot link to a series with no samples", async () => {
    const path = tempPath("refused.nwb");
    const w = await rigWriter(path);
    await expect(w.createPlanarSeries(planar("Bad", { storage: { chunkShape: [4, 9, 8] } }))).rejects.toThrow("PlanarMicroscopySeries 'Bad': chunkShape [4, 9, 8] does not fit samples of [8, 8]");
    await w.createPlanarSeries(planar("S"));
    await expect(w.createTelemetrySeries({ name: "S", description: "Taken.", unit: "W", clock: { timestamps: true } })).rejects.toThrow("/acquisition/S exists already");
    // A derived series goes in a processing module, under a name no other series has.
    await expect(w.createTelemetrySeries({ name: "S", description: "Taken.", unit: "W", clock: { timestamps: true }, module: "ophys" })).rejects.toThrow("/processing/ophys/S exists already");
    await w.addPlanarSegmentation({ name: "Seg", description: "One ROI.", imaging_space: "Plane", rois: [{ pixel_mask: [[1, 1, 1]] }] });
    const traces = await w.createResponseSeries({ name: "Traces", description: "ROI means.", segmentation: "Seg", rois_description: "The ROI.", microscopy_series: "S", clock: { starting_time: 0, rate: 30 } });
    // Refused in the worker: the failure surfaces at the next call, here close.
    await w.append(traces, new Float32Array([1]));
    await expect(w.close()).rejects.toThrow("MicroscopyResponseSeries 'Traces': its microscopy_series 'S' has no sample yet, so it is not in the file to link to");
    const f = await openRead(path);
    expect(f.get("acquisition/Bad")).toBeNull();
    expect(f.get("acquisition/S")).toBeNull();
    expect(f.get("processing/ophys/MicroscopyResponseSeriesContainer")).toBeNull();
  });

  it("names the rig, channel and imaging spaces no written series or segmentation used: not in the file, and said so", async () => {
    const path = tempPath("unused.nwb");
    const w = await rigWriter(path);
    // A second imaging space, a random-access one, that nothing uses (what the example file once did).
    await w.addImagingSpace({ neurodata_type: "PlanarImagingSpace", name: "Targets", description: "Targets.", dimensions_in_pixels: [8, 8], illumination_pattern: { neurodata_type: "RandomAccessScan", description: "AOD points." } });
    const report = await w.close();
    expect(report.unused).toEqual(["Rig", "Green", "Plane", "Targets"]);
    const f = await openRead(path);
    expect(String((f.get("general/data_collection") as { value: string }).value)).toMatch(/added but used by no series or segmentation, so not in the file: Rig, Green, Plane, Targets\.$/);
  });

  it("leaves a file closed right after it started (no sample yet) with no series at all, and passing the checks", async () => {
    const path = tempPath("short.nwb");
    const w = await NwbWriter.create(path, session);
    for (const name of ["LaserPower", "LaserShutter", "PMTGain"]) await w.createTelemetrySeries({ name, description: `${name}.`, unit: "n.a.", clock: { timestamps: true } });
    const report = await w.close();
    expect(report).toMatchObject({ samples: {}, events: 0, empty: ["LaserPower", "LaserShutter", "PMTGain"] });
    const f = await openRead(path);
    expect((f.get("acquisition") as { keys(): string[] }).keys()).toEqual([]);
    expect(violations(f)).toEqual([]);
  });
});
