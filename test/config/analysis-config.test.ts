// `analysis:` of a series in a profile: what is accepted beside what the broken profiles (test/config/broken) refuse.
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { formatConfigError, parseRigProfile } from "../../src/config/index.js";

const sim2p = readFileSync(new URL("../../profiles/sim-2p.yaml", import.meta.url), "utf8");
const GREEN = "      frames: { source: ScanFrames, channel: 0 }\n";

/** sim-2p.yaml with `analysis` under its green series: the errors as rigd prints them (none: accepted). */
function errors(analysis: string): string[] {
  expect(sim2p).toContain(GREEN);
  const result = parseRigProfile(sim2p.replace(GREEN, `${GREEN}      analysis: ${analysis}\n`), "sim-2p.yaml");
  return result.ok ? [] : result.errors.map(formatConfigError);
}

it("takes summary images without ROIs (images to draw the next session's ROIs on), alone or with motion, and motion alone", () => {
  expect(errors("{ summary_images: true }")).toEqual([]);
  expect(errors("{ summary_images: true, motion: { reference_s: 2 } }")).toEqual([]);
  expect(errors("{ motion: {} }")).toEqual([]);
  expect(errors("{ summary_images: false }")).toEqual([
    "sim-2p.yaml:154:17: recording.series[0].analysis: expected at least one of motion, summary_images: true, rois or rois_from_nwb, found an analysis that asks for nothing",
  ]);
});

const volume = readFileSync(new URL("../../profiles/sim-volume-analysis.yaml", import.meta.url), "utf8");
const SHIPPED = "      analysis:\n        motion: { reference_s: 2 }\n        summary_images: true\n";

/** sim-volume-analysis.yaml at 16 × 16 × 4 volumes (dense masks fit in a profile), with `analysis` instead of its own. */
function volumeErrors(analysis: string): string[] {
  expect(volume).toContain(SHIPPED);
  const small = volume.replace("frame_shape: [512, 512]", "frame_shape: [16, 16]").replace("dimensions_in_voxels: [512, 512, 4]", "dimensions_in_voxels: [16, 16, 4]");
  const result = parseRigProfile(small.replace(SHIPPED, `      analysis: ${analysis}\n`), "v.yaml");
  return result.ok ? [] : result.errors.map(formatConfigError);
}

it("takes a volumetric series' analysis with voxel or volume masks, refusing voxels outside the volume, masks of another size and a planar series' fields", () => {
  // A volume mask with one voxel of weight 1, at (1, 2, 0).
  const cube = (x: number, y: number, z: number) => JSON.stringify(Array.from({ length: x }, (_, i) => Array.from({ length: y }, (_, j) => Array.from({ length: z }, (_, k) => (i === 1 && j === 2 && k === 0 ? 1 : 0)))));
  expect(volumeErrors("{ motion: {}, rois: [{ voxel_mask: [[10, 12, 3, 1]] }] }")).toEqual([]);
  expect(volumeErrors(`{ rois: [{ volume_mask: ${cube(16, 16, 4)} }] }`)).toEqual([]);
  expect(volumeErrors("{ summary_images: true }")).toEqual([]);
  const line = volume.split("\n").findIndex((l) => l === "      analysis:") + 1;
  expect(volumeErrors("{ rois: [{ voxel_mask: [[10, 12, 4, 1]] }] }")).toEqual([
    `v.yaml:${line}:41: recording.series[0].analysis.rois[0].voxel_mask[0]: expected a voxel inside the 16 × 16 × 4 volumes of "ScanFrames" (x < 16, y < 16, z < 4), found [10, 12, 4]`,
  ]);
  expect(volumeErrors(`{ rois: [{ volume_mask: ${cube(16, 16, 3)} }] }`)[0]).toMatch(
    /recording\.series\[0\]\.analysis\.rois\[0\]\.volume_mask: expected a volume mask indexed \[x\]\[y\]\[z\]: 16 columns of 16 rows of 4 values, the 16 × 16 × 4 volumes of "ScanFrames", found \[0\]\[0\] of 3 values$/,
  );
  expect(volumeErrors("{ rois: [{ pixel_mask: [[1, 2, 1]] }] }")).toEqual([
    `v.yaml:${line}:26: recording.series[0].analysis.rois[0]: expected a voxel_mask or a volume_mask, found a mapping`,
    `v.yaml:${line}:28: recording.series[0].analysis.rois[0].pixel_mask: unknown key "pixel_mask" here: that is for a planar series' ROI; a volumetric series' ROI takes voxel_mask [x, y, z, weight] or volume_mask`,
  ]);
  // The full light sheet's volumes (2048 × 2048 × 16) would need 6.3 GiB for the summary images' sums.
  const lightsheet = readFileSync(new URL("../../profiles/sim-lightsheet.yaml", import.meta.url), "utf8");
  const frames = "      frames: { source: CameraFrames, channel: 0 }\n";
  const big = parseRigProfile(lightsheet.replace(frames, `${frames}      analysis: { motion: {}, summary_images: true }\n`), "l.yaml");
  const at = lightsheet.split("\n").findIndex((l) => l === frames.trimEnd()) + 2;
  expect(big.ok ? [] : big.errors.map(formatConfigError)).toEqual([
    `l.yaml:${at}:47: recording.series[0].analysis.summary_images: expected volumes of at most 10737418 voxels for summary images (their sums take ~100 bytes a voxel in memory, at most 1 GiB), found the 2048 × 2048 × 16 volumes of "CameraFrames": 6.3 GiB; bin the camera, or leave summary images out`,
  ]);
  // A volume's planes each build their own reference: no reference image.
  expect(volumeErrors("{ motion: { reference_image: [[1]] } }")).toEqual([
    `v.yaml:${line}:29: recording.series[0].analysis.motion.reference_image: unknown key "reference_image" here: that is for a planar series' motion; each depth plane of a volume builds its own reference from its first reference_s seconds`,
  ]);
  // And a volume's ROI field on a planar series.
  expect(errors("{ rois: [{ voxel_mask: [[1, 2, 0, 1]] }] }")[1]).toMatch(/rois\[0\]\.voxel_mask: unknown key "voxel_mask" here: that is for a volumetric series' ROI; a planar series' ROI takes pixel_mask or image_mask$/);
});

it("refuses mask rows of weight 0 or less, and dense masks of no pixel, at their place in the file", () => {
  const line = sim2p.split("\n").findIndex((l) => l === GREEN.trimEnd()) + 2;
  expect(errors("{ rois: [{ pixel_mask: [[10, 10, 0], [11, 10, -1], [12, 10, 0.5]] }] }")).toEqual([
    `sim-2p.yaml:${line}:50: recording.series[0].analysis.rois[0].pixel_mask[0][2]: expected a weight > 0: a row is a pixel of the ROI (leave out the pixels outside it), found 0`,
    `sim-2p.yaml:${line}:63: recording.series[0].analysis.rois[0].pixel_mask[1][2]: expected a weight > 0: a row is a pixel of the ROI (leave out the pixels outside it), found -1`,
  ]);
  expect(errors("{ rois: [{ image_mask: [[0, 1], [0, -2]] }] }")).toEqual([
    `sim-2p.yaml:${line}:53: recording.series[0].analysis.rois[0].image_mask[1][1]: expected a weight ≥ 0 (> 0 inside the ROI, 0 outside), found -2`,
  ]);
  expect(errors("{ rois: [{ image_mask: [[0, 0], [0, 0]] }] }")).toEqual([
    `sim-2p.yaml:${line}:40: recording.series[0].analysis.rois[0].image_mask: expected an image_mask with a weight > 0 somewhere: this ROI has no pixel, found a list of 2 items`,
  ]);
  expect(volumeErrors("{ rois: [{ voxel_mask: [[1, 2, 3, 0]] }] }")[0]).toMatch(/voxel_mask\[0\]\[3\]: expected a weight > 0: a row is a pixel of the ROI/);
});
