// A VolumetricSegmentation of an earlier session read back as voxel masks (a real file the writer made): from its
// voxel_mask column, or from volume_mask ([x][y][z]) where it has none; a planar table asked for as volumetric is refused.
import { expect, it } from "vitest";
import { readVolumetricRois } from "../../src/analysis/rois-from-nwb.js";
import { NwbWriter, voxelToVolume, type VolumetricSegmentation } from "../../src/nwb/index.js";
import { tempPath } from "../nwb/h5read.js";

const a: [number, number, number, number][] = [[1, 1, 0, 0.5], [1, 2, 3, 0.75]];
const b: [number, number, number, number][] = [[4, 3, 1, 1], [5, 0, 2, 0.5]];

async function earlier(rois: VolumetricSegmentation["rois"]): Promise<string> {
  const path = tempPath("earlier.nwb");
  const w = await NwbWriter.create(path, { session_description: "Earlier.", session_start_time: "2026-11-30T09:00:00+01:00" });
  const pattern = { neurodata_type: "LineScan" as const, description: "Scanning." };
  await w.addImagingSpace({ neurodata_type: "VolumetricImagingSpace", name: "Volume", description: "Volume.", dimensions_in_voxels: [6, 4, 4], illumination_pattern: pattern });
  await w.addImagingSpace({ neurodata_type: "PlanarImagingSpace", name: "Plane", description: "Plane.", dimensions_in_pixels: [6, 4], illumination_pattern: pattern });
  await w.addVolumetricSegmentation({ name: "Cells", description: "Two cells.", imaging_space: "Volume", rois });
  await w.addPlanarSegmentation({ name: "Flat", description: "One cell.", imaging_space: "Plane", rois: [{ pixel_mask: [[1, 1, 1]] }] });
  await w.close();
  return path;
}

it("reads voxel masks in row order, or volume masks as voxel masks, and refuses a planar table", async () => {
  expect(await readVolumetricRois(await earlier([{ voxel_mask: a }, { voxel_mask: b, id: 9 }]), "Cells")).toEqual({ masks: [a, b], ids: [0, 9] });
  const dense = await earlier([{ volume_mask: voxelToVolume(a, [6, 4, 4]) }, { volume_mask: voxelToVolume(b, [6, 4, 4]) }]);
  expect(await readVolumetricRois(dense, "Cells")).toEqual({ masks: [a, b], ids: [0, 1] });
  await expect(readVolumetricRois(dense, "Flat")).rejects.toThrow(`${dense}: /processing/ophys/SegmentationContainer/Flat is a PlanarSegmentation, not a VolumetricSegmentation`);
});
