// The writer operation the online analysis adds its summary images with at stop: SummaryImages joining a
// segmentation written at start (ndx-microscopy's Segmentation.add_summary_images), read back.
import { expect, it } from "vitest";
import { NwbWriter } from "../../src/nwb/index.js";
import { attr, dataset, openRead, tempPath } from "../nwb/h5read.js";

it("adds SummaryImages to an existing segmentation, refusing an unknown one, a taken name and data of the wrong size", async () => {
  const path = tempPath("summary.nwb");
  const w = await NwbWriter.create(path, { session_description: "Summary images.", session_start_time: "2026-12-01T09:00:00+01:00" });
  await w.addImagingSpace({ neurodata_type: "PlanarImagingSpace", name: "Plane", description: "Plane.", dimensions_in_pixels: [3, 2], illumination_pattern: { neurodata_type: "LineScan", description: "Scanning." } });
  await w.addPlanarSegmentation({ name: "Cells", description: "One cell.", imaging_space: "Plane", rois: [{ pixel_mask: [[1, 1, 1]] }] });
  const mean = Float32Array.from([1, 2, 3, 4, 5, 6]);
  await w.addSummaryImages("Cells", [{ name: "mean", description: "Mean image.", shape: [3, 2], data: mean }]);
  await expect(w.addSummaryImages("Neurons", [{ name: "max", description: "Max.", shape: [3, 2], data: mean }])).rejects.toThrow("addSummaryImages 'Neurons': segmentation 'Neurons' was not added (known: Cells)");
  await expect(w.addSummaryImages("Cells", [{ name: "mean", description: "Again.", shape: [3, 2], data: mean }])).rejects.toThrow("addSummaryImages 'Cells': 'mean' is taken in /processing/ophys/SegmentationContainer/Cells");
  await expect(w.addSummaryImages("Cells", [{ name: "max", description: "Max.", shape: [3, 2], data: new Float32Array(5) }])).rejects.toThrow("SummaryImage 'max': data has 5 values, expected 6 for [3, 2]");
  await w.close();

  const f = await openRead(path);
  const at = "/processing/ophys/SegmentationContainer/Cells";
  expect(attr(f, `${at}/mean`, "neurodata_type")).toBe("SummaryImage");
  expect(attr(f, `${at}/mean`, "description")).toBe("Mean image.");
  expect(dataset(f, `${at}/mean/data`).shape).toEqual([3, 2]);
  expect(Array.from(dataset(f, `${at}/mean/data`).value as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
  expect(f.get(`${at}/max`)).toBeFalsy(); // a refused call writes nothing
});

it("adds a core Images container of GrayscaleImages (summary images without ROIs), refusing a taken name, twin images and data of the wrong size", async () => {
  const path = tempPath("images.nwb");
  const w = await NwbWriter.create(path, { session_description: "Images.", session_start_time: "2026-12-01T09:00:00+01:00" });
  const mean = Float32Array.from([1, 2, 3, 4, 5, 6]);
  const image = (name: string, data = mean) => ({ name, description: `${name} image.`, shape: [3, 2] as [number, number], data });
  await w.addImages({ name: "PlaneSummaryImages", description: "Summary images of Plane.", images: [image("mean"), image("max")] });
  await expect(w.addImages({ name: "PlaneSummaryImages", description: "Again.", images: [image("mean")] })).rejects.toThrow("Images 'PlaneSummaryImages': 'PlaneSummaryImages' is taken in /processing/ophys");
  await expect(w.addImages({ name: "Other", description: "Twins.", images: [image("mean"), image("mean")] })).rejects.toThrow("Images 'Other': two images are named 'mean'");
  await expect(w.addImages({ name: "Other", description: "Short.", images: [image("max", new Float32Array(5))] })).rejects.toThrow("GrayscaleImage 'max': data has 5 values, expected 6 for [3, 2]");
  await w.close();

  const f = await openRead(path);
  const at = "/processing/ophys/PlaneSummaryImages";
  expect(attr(f, "/processing/ophys", "neurodata_type")).toBe("ProcessingModule");
  expect([attr(f, at, "namespace"), attr(f, at, "neurodata_type"), attr(f, at, "description")]).toEqual(["core", "Images", "Summary images of Plane."]);
  expect([attr(f, `${at}/mean`, "namespace"), attr(f, `${at}/mean`, "neurodata_type"), attr(f, `${at}/mean`, "description")]).toEqual(["core", "GrayscaleImage", "mean image."]);
  expect(dataset(f, `${at}/mean`).dtype).toBe("<f");
  expect(dataset(f, `${at}/max`).shape).toEqual([3, 2]);
  expect(Array.from(dataset(f, `${at}/mean`).value as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
  expect(f.get("/processing/ophys/Other")).toBeFalsy(); // a refused call writes nothing
});
