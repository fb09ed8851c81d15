// ROIs of an earlier session read back from its NWB file (a real file the writer made), and a session's analysis
// refusing ROIs it cannot read or that do not fit its frames, naming the profile field.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SessionAnalysis } from "../../src/acquisition/analysis.js";
import { readPlanarRois } from "../../src/analysis/rois-from-nwb.js";
import { parseRigProfile, type RigProfile } from "../../src/config/index.js";
import { NwbWriter, pixelToImage } from "../../src/nwb/index.js";
import { tempPath } from "../nwb/h5read.js";

const space = { neurodata_type: "PlanarImagingSpace" as const, name: "Plane", description: "Plane.", dimensions_in_pixels: [6, 4] as [number, number], illumination_pattern: { neurodata_type: "LineScan" as const, description: "Scanning." } };

async function earlier(rois: Parameters<NwbWriter["addPlanarSegmentation"]>[0]["rois"]): Promise<string> {
  const path = tempPath("earlier.nwb");
  const w = await NwbWriter.create(path, { session_description: "Earlier.", session_start_time: "2026-11-30T09:00:00+01:00" });
  await w.addImagingSpace(space);
  await w.addPlanarSegmentation({ name: "Cells", description: "Two cells.", imaging_space: "Plane", rois });
  await w.close();
  return path;
}

/** The test fixture minimal.yaml (512 × 512 frames) with `analysis` on its series. */
function profileWith(analysis: string): RigProfile {
  const yaml = readFileSync("test/config/fixtures/minimal.yaml", "utf8").replace("      frames: { source: Frames, channel: 0 }\n", `      frames: { source: Frames, channel: 0 }\n      analysis: ${analysis}\n`);
  const checked = parseRigProfile(yaml, "minimal.yaml");
  if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
  return checked.value;
}

describe("ROIs from an earlier session's NWB file", () => {
  const a: [number, number, number][] = [[1, 1, 0.5], [1, 2, 0.75]];
  const b: [number, number, number][] = [[4, 3, 1], [5, 0, 0.5]];

  it("reads a PlanarSegmentation's pixel masks in row order", async () => {
    const path = await earlier([{ pixel_mask: a }, { pixel_mask: b, id: 7 }]);
    expect(await readPlanarRois(path, "Cells")).toEqual({ masks: [a, b], ids: [0, 7] });
  });

  it("reads image masks ([x][y]) as pixel masks where the table has no pixel_mask column", async () => {
    const path = await earlier([{ image_mask: pixelToImage(a, [6, 4]) }, { image_mask: pixelToImage(b, [6, 4]) }]);
    expect(await readPlanarRois(path, "Cells")).toEqual({ masks: [a, b], ids: [0, 1] });
  });

  it("says which file lacks which segmentation", async () => {
    const path = await earlier([{ pixel_mask: a }]);
    await expect(readPlanarRois(path, "Neurons")).rejects.toThrow(`${path} has no segmentation 'Neurons' in a SegmentationContainer of /processing`);
    await expect(readPlanarRois("/nonexistent/x.nwb", "Cells")).rejects.toThrow("/nonexistent/x.nwb: no such file");
  });

  it("fails a session's analysis naming the profile field: a file it cannot read, masks outside the frame", async () => {
    await expect(SessionAnalysis.start(profileWith("{ rois_from_nwb: { file: /nonexistent/x.nwb, segmentation: Cells } }"), () => undefined)).rejects.toThrow(
      "recording.series[0].analysis.rois_from_nwb: /nonexistent/x.nwb: no such file",
    );
    // The earlier file's field of view was 6 × 4: its masks fit a 512² frame, so one made for a larger frame.
    const big = tempPath("big.nwb");
    const w = await NwbWriter.create(big, { session_description: "Earlier.", session_start_time: "2026-11-30T09:00:00+01:00" });
    await w.addImagingSpace({ ...space, dimensions_in_pixels: [600, 600] });
    await w.addPlanarSegmentation({ name: "Cells", description: "One cell.", imaging_space: "Plane", rois: [{ pixel_mask: [[550, 10, 1]] }] });
    await w.close();
    await expect(SessionAnalysis.start(profileWith(`{ rois_from_nwb: { file: ${big}, segmentation: Cells } }`), () => undefined)).rejects.toThrow(
      "recording.series[0].analysis.rois_from_nwb: ROI 0 pixel (550, 10) lies outside the 512 × 512 frame (x < 512, y < 512)",
    );
  });
});
