// The writer end to end: a real worker thread, real HDF5 files on disk, read back with h5wasm.
import { describe, expect, it } from "vitest";
import { NwbInputError, NwbWriter, imageToPixel, pixelToImage, voxelToVolume, volumeToVoxel, getFOVSize } from "../../src/nwb/index.js";
import { attr, dataset, openRead, tempPath } from "./h5read.js";
import { FrameSlots, releaseFrame, slotOf } from "../../src/frame-slots.js";

const session = { session_description: "Writer test session.", session_start_time: "2026-11-23T09:00:00+01:00" };

/** A writer with one rig, channel and the given imaging spaces. */
async function rigWriter(path: string, options = {}) {
  const w = await NwbWriter.create(path, session, options);
  await w.addDevice({ neurodata_type: "Microscope", name: "Microscope", description: "Test microscope." });
  await w.addRig({ name: "Rig", description: "Test rig.", microscope: "Microscope" });
  await w.addChannel({ name: "Green", description: "Green.", excitation_wavelength_in_nm: 920, emission_wavelength_in_nm: 525, indicator: { label: "GCaMP6f", description: "Calcium indicator." } });
  const pattern = { neurodata_type: "LineScan" as const, description: "Resonant scanning." };
  await w.addImagingSpace({ neurodata_type: "PlanarImagingSpace", name: "Plane", description: "Plane.", dimensions_in_pixels: [6, 4], pixel_size_in_um: [2, 2], illumination_pattern: pattern });
  await w.addImagingSpace({ neurodata_type: "VolumetricImagingSpace", name: "Volume", description: "Volume.", dimensions_in_voxels: [5, 4, 3], illumination_pattern: pattern });
  return w;
}

const planar = (name: string, extra = {}) => ({
  name,
  description: "Frames.",
  data_type: "uint16" as const,
  frame_shape: [4, 6] as [number, number],
  microscopy_rig: "Rig",
  microscopy_channel: "Green",
  imaging_space: "Plane",
  clock: { timestamps: true as const },
  ...extra,
});

/** Frame i: every pixel (r, c) holds i * 100 + r * 6 + c, so any misplaced value shows. */
const frame = (i: number, h = 4, w = 6) => Uint16Array.from({ length: h * w }, (_, k) => i * 100 + k);

describe("growing series", () => {
  it("single and batched appends land in order with their timestamps, across chunk boundaries", async () => {
    const path = tempPath("append.nwb");
    const w = await rigWriter(path);
    // 3 frames per chunk: appends of 1, 2, 4 and 5 frames cross chunk boundaries every way.
    const s = await w.createPlanarSeries(planar("Series", { storage: { chunkShape: [3, 4, 6] } }));
    let i = 0;
    const times: number[] = [];
    for (const n of [1, 2, 4, 5, 1]) {
      const batch = new Uint16Array(n * 24);
      const ts: number[] = [];
      for (let k = 0; k < n; k++, i++) batch.set(frame(i), k * 24), ts.push(0.1 + i * 0.033 + (i % 2) * 1e-4);
      times.push(...ts);
      await w.append(s, batch, ts);
    }
    const report = await w.close();
    expect(report.samples["Series"]).toBe(13);

    const f = await openRead(path);
    const data = dataset(f, "acquisition/Series/data");
    expect(data.shape).toEqual([13, 4, 6]);
    expect(data.metadata.chunks).toEqual([3, 4, 6]);
    const values = data.value as Uint16Array;
    for (let j = 0; j < 13; j++) expect(Array.from(values.subarray(j * 24, (j + 1) * 24))).toEqual(Array.from(frame(j)));
    expect(Array.from(dataset(f, "acquisition/Series/timestamps").value as Float64Array)).toEqual(times);
  });

  it("a regular clock writes starting_time and rate instead of timestamps", async () => {
    const path = tempPath("rate.nwb");
    const w = await rigWriter(path);
    const s = await w.createPlanarSeries(planar("Series", { clock: { starting_time: 0.25, rate: 30.9 } }));
    await w.append(s, new Uint16Array(30 * 24).fill(7));
    await w.close();
    const f = await openRead(path);
    const start = dataset(f, "acquisition/Series/starting_time");
    expect(start.value).toBe(0.25);
    expect(start.attrs["rate"]!.value).toBe(30.9);
    expect(f.get("acquisition/Series/timestamps")).toBeNull();
  });

  it("volumes keep depth as the last axis, given whole or as planes; multi-plane planes share one rig and channel by soft links", async () => {
    const path = tempPath("volume.nwb");
    const w = await rigWriter(path);
    const v = await w.createVolumetricSeries({ ...planar("Volumes"), frame_shape: [4, 5, 3], imaging_space: "Volume", clock: { starting_time: 0, rate: 5 } });
    // Volume i: voxel (row, col, depth) = i * 1000 + depth * 100 + row * 10 + col.
    const volume = (i: number) => Uint16Array.from({ length: 60 }, (_, k) => i * 1000 + (k % 3) * 100 + Math.floor(k / 15) * 10 + (Math.floor(k / 3) % 5));
    for (let i = 0; i < 6; i++) await w.append(v, volume(i));
    // Or as depth planes, as a camera delivers them: each is written in place, into the same layout.
    const plane = (i: number, d: number) => Uint16Array.from({ length: 20 }, (_, k) => i * 1000 + d * 100 + Math.floor(k / 5) * 10 + (k % 5));
    await w.appendVolume(v, [0, 1, 2].map((d) => plane(6, d)));
    // A plane given twice is sent twice (copied the second time: one buffer cannot be transferred twice).
    const same = plane(7, 0);
    await w.appendVolume(v, [same, same, same]);
    await expect(w.createVolumetricSeries({ ...planar("Deep"), frame_shape: [4, 5, 3], imaging_space: "Volume", storage: { chunkShape: [1, 4, 5, 3] } })).rejects.toThrow(
      "VolumetricMicroscopySeries 'Deep': chunkShape [1, 4, 5, 3] must be one sample and one depth plane, [1, rows, columns, 1]",
    );
    await expect(w.appendVolume(v, [plane(8, 0), plane(8, 1)])).rejects.toThrow("Volumes: expected 3 planes per volume, got 2");
    await expect(w.appendVolume(v, [plane(8, 0), plane(8, 1), new Uint16Array(21)])).rejects.toThrow("Volumes: expected uint16 samples of 4×5, got 21 values");
    // Planes in shared frame slots: the worker writes each in place and frees its slot.
    const slots = FrameSlots.create(40, 0, 3);
    const planesInSlots = [0, 1, 2].map((d) => {
      const view = slots.view(slots.acquire(40)!, Uint16Array, true);
      view.set(plane(9, d));
      return view;
    });
    expect(slots.acquire(40)).toBeUndefined();
    await w.appendVolume(v, planesInSlots);
    await w.checkpoint();
    expect([0, 1, 2].map(() => slots.acquire(40)?.slot)).toEqual([0, 1, 2]);
    slots.detach();
    await w.addContainer({ neurodata_type: "MultiPlaneMicroscopyContainer" });
    for (const p of [0, 1]) {
      const s = await w.createPlanarSeries(planar(`Plane${p}`, { container: "MultiPlaneMicroscopyContainer", clock: { starting_time: p * 0.01, rate: 15 } }));
      await w.append(s, frame(p));
    }
    await w.close();
    const f = await openRead(path);
    const data = dataset(f, "acquisition/Volumes/data");
    expect(data.shape).toEqual([9, 4, 5, 3]);
    // One sample and one depth plane per chunk: a plane fills whole chunks as it arrives.
    expect(data.metadata.chunks).toEqual([1, 4, 5, 1]);
    expect(Array.from(data.value as Uint16Array)).toEqual([
      ...Array.from({ length: 7 }, (_, i) => Array.from(volume(i))).flat(),
      ...Array.from({ length: 60 }, (_, k) => plane(7, 0)[Math.floor(k / 3)]!),
      ...Array.from(volume(9)),
    ]);
    expect(data.slice([[5, 6], [3, 4], [2, 3], [1, 2]])).toEqual(new Uint16Array([5132]));
    expect(f.get_link("/acquisition/MultiPlaneMicroscopyContainer/Plane0/Rig")).toBe("/acquisition/Volumes/Rig");
    expect(f.get_link("/acquisition/MultiPlaneMicroscopyContainer/Plane1/Green")).toBe("/acquisition/Volumes/Green");
    expect(attr(f, "acquisition/MultiPlaneMicroscopyContainer", "neurodata_type")).toBe("MultiPlaneMicroscopyContainer");
  });

  it("volumes given plane by plane as they arrive: one counts once its last plane is in, one never finished is taken back", async () => {
    const path = tempPath("planes.nwb");
    const w = await rigWriter(path);
    const v = await w.createVolumetricSeries({ ...planar("Volumes"), frame_shape: [4, 5, 3], imaging_space: "Volume", clock: { timestamps: true } });
    const plane = (i: number, d: number) => Uint16Array.from({ length: 20 }, (_, k) => i * 1000 + d * 100 + k);
    const volume = async (i: number, depths = 3) => {
      for (let d = 0; d < depths; d++) await w.appendPlane(v, d, plane(i, d), d === 2 ? i / 5 : undefined, d === 2 ? performance.timeOrigin + performance.now() : undefined);
    };
    await volume(0);
    await volume(1);
    await volume(2, 2); // two planes of volume 2 in the file, not yet a volume
    expect((await w.checkpoint()).samples["Volumes"]).toBe(2);
    await expect(w.appendPlane(v, 0, plane(2, 0))).rejects.toThrow("Volumes: expected plane 2 of volume 2, got plane 0");
    w.dropPartialVolume(v); // volume 2 will not be whole: its planes go
    await expect(w.appendPlane(v, 0, plane(3, 0), 0.6)).rejects.toThrow("Volumes: a volume's timestamp comes with its last plane (2), not with plane 0");
    await volume(3);
    await expect(w.appendPlane(v, 0, new Uint16Array(21))).rejects.toThrow("Volumes: expected uint16 samples of 4×5, got 21 values");
    await volume(4, 1); // still open when the file closes: not a volume
    const report = await w.close();
    expect(report.samples["Volumes"]).toBe(3);
    const f = await openRead(path);
    const data = dataset(f, "acquisition/Volumes/data");
    expect(data.shape).toEqual([3, 4, 5, 3]);
    expect(Array.from(dataset(f, "acquisition/Volumes/timestamps").value as Float64Array)).toEqual([0, 0.2, 0.6]);
    // Depth last: voxel (row, col, depth) of volume i is plane(i, depth)[row * 5 + col].
    const expected = [0, 1, 3].flatMap((i) => Array.from({ length: 60 }, (_, k) => plane(i, k % 3)[Math.floor(k / 3)]!));
    expect(Array.from(data.value as Uint16Array)).toEqual(expected);
    f.close();
  });

  it("telemetry series and the event record grow over time", async () => {
    const path = tempPath("telemetry.nwb");
    const w = await NwbWriter.create(path, session);
    const power = await w.createTelemetrySeries({ name: "LaserPower", description: "Laser power.", unit: "W", continuity: "continuous", clock: { timestamps: true } });
    for (let i = 0; i < 5; i++) await w.append(power, new Float64Array([1.5 + i / 100]), [i * 0.5 + 0.001 * i]);
    await w.addEvents([{ time: 0.7, kind: "fault", source: "Laser", message: "lost mode-lock" }]);
    await w.addEvents([{ time: 1.9, kind: "mark", source: "user", message: "stimulus on — ✓" }]);
    await w.close();
    const f = await openRead(path);
    expect(Array.from(dataset(f, "acquisition/LaserPower/data").value as Float64Array)).toEqual([1.5, 1.51, 1.52, 1.53, 1.54]);
    expect(attr(f, "acquisition/LaserPower", "continuity")).toBe("continuous");
    expect(dataset(f, "acquisition/rig_events/data").value).toEqual(["fault [Laser] lost mode-lock", "mark [user] stimulus on — ✓"]);
    expect(Array.from(dataset(f, "acquisition/rig_events/timestamps").value as Float64Array)).toEqual([0.7, 1.9]);
  });
});

describe("segmentation and responses", () => {
  it("writes ROIs given as pixel masks or image masks both ways, and traces tied to them", async () => {
    const path = tempPath("seg.nwb");
    const w = await rigWriter(path);
    const s = await w.createPlanarSeries(planar("Series"));
    await w.append(s, Uint16Array.from({ length: 48 }, (_, k) => k), [0.1, 0.2]);
    const roiA: [number, number, number][] = [[1, 1, 0.5], [1, 2, 0.75], [2, 1, 0.25]];
    const imageB = pixelToImage([[4, 3, 1], [5, 0, 0.5]], [6, 4]);
    await w.addPlanarSegmentation({ name: "Seg", description: "Two ROIs.", imaging_space: "Plane", rois: [{ pixel_mask: roiA }, { image_mask: imageB, id: 7 }] });
    await w.createResponseSeries({ name: "Traces", description: "ROI means.", segmentation: "Seg", rois_description: "Both ROIs.", microscopy_series: "Series", clock: "source" });
    await w.append("Traces", new Float32Array([1, 2, 3, 4]));
    // A third row would run past the two frames whose timestamps it shares: refused in the worker,
    // so the failure surfaces at the next call; what was written stays.
    await w.append("Traces", new Float32Array([5, 6]));
    await expect(w.close()).rejects.toThrow("Traces: shares the timestamps of 'Series', which has 2 samples; 3 would run past them");

    const f = await openRead(path);
    const seg = "processing/ophys/SegmentationContainer/Seg";
    expect(attr(f, seg, "colnames")).toEqual(["image_mask", "pixel_mask"]);
    expect(Array.from(dataset(f, `${seg}/id`).value as BigInt64Array)).toEqual([0n, 7n]);
    const masks = dataset(f, `${seg}/image_mask`);
    expect(masks.shape).toEqual([2, 6, 4]);
    const m = Array.from(masks.value as Float32Array);
    const imageA = pixelToImage(roiA, [6, 4]).flat();
    expect(m.slice(0, 24)).toEqual(imageA);
    expect(m.slice(24)).toEqual(imageB.flat());
    const pixels = dataset(f, `${seg}/pixel_mask`).value as [number, number, number][];
    expect(pixels.map(([x, y, wt]) => [x, y, Number(wt.toFixed(2))])).toEqual([...roiA, ...imageToPixel(imageB)]);
    expect(Array.from(dataset(f, `${seg}/pixel_mask_index`).value as Uint8Array)).toEqual([3, 5]);
    expect(f.get_link("/processing/ophys/MicroscopyResponseSeriesContainer/Traces/timestamps")).toBe("/acquisition/Series/timestamps");
    expect(Array.from(dataset(f, "processing/ophys/MicroscopyResponseSeriesContainer/Traces/data").value as Float32Array)).toEqual([1, 2, 3, 4]);
  });

  it("converts masks as ndx-microscopy does ([x][y], weights > 0) and sizes the field of view", () => {
    const voxels: [number, number, number, number][] = [[0, 1, 2, 0.5], [2, 0, 1, 1]];
    expect(volumeToVoxel(voxelToVolume(voxels, [3, 2, 3]))).toEqual(voxels);
    expect(imageToPixel([[0, -1], [0.25, 0]])).toEqual([[1, 0, 0.25]]);
    expect(() => pixelToImage([[9, 0, 1]], [2, 2])).toThrow(/outside/);
    const space = { neurodata_type: "PlanarImagingSpace" as const, name: "P", description: "p", dimensions_in_pixels: [512, 256] as [number, number], pixel_size_in_um: [0.8, 1.2] as [number, number], illumination_pattern: { neurodata_type: "LineScan" as const, description: "l" } };
    expect(getFOVSize(space)).toEqual([409.6, 307.2]);
  });
});

describe("checkpoints", () => {
  it("checkpoints on its own while data arrives, and closes cleanly after", async () => {
    const path = tempPath("auto.nwb");
    const w = await rigWriter(path, { checkpointIntervalMs: 100 });
    const reports: number[] = [];
    w.checkpoints.subscribe((r) => reports.push(r.samples["Series"] ?? 0));
    const s = await w.createPlanarSeries(planar("Series", { clock: { starting_time: 0, rate: 30 } }));
    for (let i = 0; i < 8; i++) {
      await w.append(s, frame(i));
      await new Promise((r) => setTimeout(r, 60));
    }
    await new Promise((r) => setTimeout(r, 300)); // a checkpoint falls due while idle
    expect(reports.length).toBeGreaterThanOrEqual(3);
    expect(reports[reports.length - 1]).toBe(8);
    expect((await w.close()).samples["Series"]).toBe(8);
    expect(reports).toEqual([...reports].sort((a, b) => a - b));
  });
});

describe("memory and transfer", () => {
  it("transfers whole-buffer frames, copies views, and never queues more than the bound", async () => {
    const path = tempPath("queue.nwb");
    const maxQueuedBytes = 4 * 48 * 1024;
    const w = await NwbWriter.create(path, session, { maxQueuedBytes });
    await w.addDevice({ neurodata_type: "Microscope", name: "Microscope", description: "m" });
    await w.addRig({ name: "Rig", description: "r", microscope: "Microscope" });
    await w.addChannel({ name: "Green", description: "g", excitation_wavelength_in_nm: 920, emission_wavelength_in_nm: 525, indicator: { label: "GCaMP6f", description: "i" } });
    await w.addImagingSpace({ neurodata_type: "PlanarImagingSpace", name: "Plane", description: "p", illumination_pattern: { neurodata_type: "LineScan", description: "l" } });
    const s = await w.createPlanarSeries({ ...planar("Series"), frame_shape: [128, 192], clock: { starting_time: 0, rate: 30 } });
    let peak = 0;
    const owned = new Uint16Array(128 * 192).fill(1);
    await w.append(s, owned);
    expect(owned.buffer.byteLength).toBe(0); // transferred, not copied
    const pool = new Uint16Array(2 * 128 * 192).fill(2);
    const view = pool.subarray(128 * 192);
    await w.append(s, view);
    expect(view.length).toBe(128 * 192); // a view is copied: the caller's pool stays usable
    for (let i = 0; i < 300; i++) {
      await w.append(s, new Uint16Array(128 * 192).fill(i));
      peak = Math.max(peak, w.queuedBytes);
    }
    expect(peak).toBeLessThanOrEqual(maxQueuedBytes);
    expect((await w.close()).samples["Series"]).toBe(302);
    const data = dataset(await openRead(path), "acquisition/Series/data");
    expect(data.slice([[301, 302], [0, 1], [0, 1]])).toEqual(new Uint16Array([299]));
  });
});

describe("frame memory and latency", () => {
  it("transfers each frame to the worker, and times every sample from arrival to written and durable", async () => {
    const path = tempPath("latency.nwb");
    const w = await rigWriter(path);
    await w.addImagingSpace({ neurodata_type: "PlanarImagingSpace", name: "Big", description: "p", illumination_pattern: { neurodata_type: "LineScan", description: "l" } });
    const s = await w.createPlanarSeries({ ...planar("Series"), frame_shape: [128, 256], imaging_space: "Big", clock: { timestamps: true } });
    const t0 = performance.timeOrigin + performance.now();
    const sent: ArrayBuffer[] = [];
    for (let i = 0; i < 20; i++) {
      const f = new Uint16Array(128 * 256).fill(i);
      sent.push(f.buffer);
      await w.append(s, f, [i / 30], performance.timeOrigin + performance.now());
    }
    await w.checkpoint();
    const elapsed = performance.timeOrigin + performance.now() - t0;
    expect(sent.every((b) => b.byteLength === 0)).toBe(true); // transferred, not copied
    const { latency } = w;
    expect(latency.samples).toBe(20);
    expect(latency.written!.p50).toBeGreaterThan(0);
    expect(latency.written!.p50).toBeLessThanOrEqual(latency.durable!.p50);
    expect(latency.durable!.max).toBeLessThanOrEqual(elapsed + 1);
    expect((await w.close()).samples["Series"]).toBe(20);
  });

  it("writes frames that sit in shared slots where they are, and the worker frees each slot once written", async () => {
    const path = tempPath("slots.nwb");
    const w = await rigWriter(path);
    await w.addImagingSpace({ neurodata_type: "PlanarImagingSpace", name: "Big", description: "p", illumination_pattern: { neurodata_type: "LineScan", description: "l" } });
    const s = await w.createPlanarSeries({ ...planar("Series"), frame_shape: [64, 64], imaging_space: "Big", clock: { timestamps: true } });
    const slots = FrameSlots.create(64 * 64 * 2, 0, 4);
    for (let i = 0; i < 12; i++) {
      let ref = slots.acquire(64 * 64 * 2);
      while (!ref) {
        await slots.freed(1000); // all four in flight: the worker frees them as it writes
        ref = slots.acquire(64 * 64 * 2);
      }
      const frame = slots.view(ref, Uint16Array, true).fill(i);
      expect(slotOf(frame)).toEqual(ref);
      await w.append(s, frame, [i / 30]);
    }
    expect((await w.close()).samples["Series"]).toBe(12);
    // Every slot is free again: four can be taken at once.
    expect([0, 1, 2, 3].map(() => slots.acquire(8))).not.toContain(undefined);
    const data = dataset(await openRead(path), "acquisition/Series/data");
    expect(Array.from({ length: 12 }, (_, i) => (data.slice([[i, i + 1], [0, 1], [0, 1]]) as Uint16Array)[0])).toEqual(Array.from({ length: 12 }, (_, i) => i));
    slots.detach();
  });

  it("frame slots: one use at a time, a late release cannot free a slot used again, a frame too big is refused", async () => {
    const slots = FrameSlots.create(1024, 2048, 2);
    const a = slots.acquire(1000)!;
    const b = slots.acquire(1024)!;
    expect(slots.acquire(8)).toBeUndefined();
    expect(() => slots.acquire(1025)).toThrow("a frame of 1025 bytes does not fit slots of 1024");
    const freed = slots.freed(5000);
    expect(slots.release(a)).toBe(true);
    await freed;
    const again = slots.acquire(512)!;
    expect(again.slot).toBe(a.slot);
    expect(slots.release(a)).toBe(false); // the old use's release, late: the slot stays in its new use
    expect(slots.acquire(8)).toBeUndefined();
    const view = slots.view(b, Uint8Array, true);
    releaseFrame(view);
    expect(slots.acquire(8)!.slot).toBe(b.slot);
    releaseFrame(new Uint8Array(4)); // not a slot: nothing to free
    slots.detach();
  });

});

describe("bad input", () => {
  it("refuses wrong shapes, types, timestamps and link targets with errors that name what was expected, and keeps what was written", async () => {
    const path = tempPath("bad.nwb");
    const w = await rigWriter(path);
    const s = await w.createPlanarSeries(planar("Series"));
    await w.append(s, frame(0), [1.0]);
    await expect(w.append(s, new Uint16Array(25), [2])).rejects.toThrow("Series: expected uint16 samples of 4×6, got 25 values, which is not a whole number of samples");
    await expect(w.append(s, new Float32Array(24), [2])).rejects.toThrow("Series: expected uint16 samples of 4×6, got float32 data");
    await expect(w.append(s, frame(1), [1.0])).rejects.toThrow("Series: timestamps must increase, but sample 1 is at 1 s after 1 s");
    await expect(w.append(s, frame(1), [2, 3])).rejects.toThrow("Series: expected 1 timestamps (one per sample), got 2");
    await expect(w.append(s, frame(1), [Number.NaN])).rejects.toThrow(/finite number of seconds/);
    await expect(w.createPlanarSeries(planar("Other", { microscopy_rig: "Nope" }))).rejects.toThrow("PlanarMicroscopySeries 'Other': MicroscopyRig 'Nope' was not added (known: Rig)");
    await expect(w.createPlanarSeries(planar("Other", { frame_shape: [6, 4] }))).rejects.toThrow(/does not match imaging space 'Plane' dimensions \[6, 4\]/);
    await expect(w.addRig({ name: "Rig2", description: "r", microscope: "Rig" })).rejects.toThrow("MicroscopyRig 'Rig2': microscope 'Rig' is not a device added before");
    await expect(w.addDevice({ neurodata_type: "Photodetector", name: "PMT", description: "p", model: "Microscope" })).rejects.toThrow("model 'Microscope' is a Microscope, expected PhotodetectorModel");
    await expect(w.addChannel({ name: "Bad", description: "b", excitation_wavelength_in_nm: -920, emission_wavelength_in_nm: 525, indicator: { label: "x", description: "y" } } as never)).rejects.toThrow(/excitation_wavelength_in_nm/);
    await expect(w.addPlanarSegmentation({ name: "Seg", description: "s", imaging_space: "Plane", rois: [{ image_mask: [[1, 0, 0, 0], [0, 1], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]] }] })).rejects.toThrow("PlanarSegmentation 'Seg': ROI 0 mask is ragged");
    await expect(w.addPlanarSegmentation({ name: "Seg", description: "s", imaging_space: "Plane", rois: [{ pixel_mask: [[6, 0, 1]] }] })).rejects.toThrow("PlanarSegmentation 'Seg': ROI 0 pixel (6, 0) lies outside [6, 4]");
    await w.append(s, frame(1), [1.5]);
    expect((await w.close()).samples["Series"]).toBe(2);
    const f = await openRead(path);
    expect(Array.from(dataset(f, "acquisition/Series/data").value as Uint16Array)).toEqual([...frame(0), ...frame(1)]);
  });

  it("never replaces an existing file without overwrite", async () => {
    const path = tempPath("exists.nwb");
    await (await NwbWriter.create(path, session)).close();
    await expect(NwbWriter.create(path, session)).rejects.toThrow(`${path} already exists; pass overwrite (--force on the command line) to replace it`);
    await expect(NwbWriter.create(tempPath("x.nwb"), { ...session, session_start_time: "yesterday" })).rejects.toBeInstanceOf(NwbInputError);
    await (await NwbWriter.create(path, session, { overwrite: true })).close();
  });
});
