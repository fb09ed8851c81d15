// ROIs of an earlier session: a PlanarSegmentation read from an NWB file (ndx-microscopy 0.3.0 or what rigd
// writes), as the pixel masks the online analysis traces.
import h5wasm from "h5wasm/node";
import type { Dataset, Group } from "h5wasm/node";
import { existsSync } from "node:fs";
import type { PixelMask } from "./traces.js";

/**
 * The ROIs of the PlanarSegmentation `name` in `path`, looked for in every processing module's
 * SegmentationContainer, as [x, y, weight] pixel masks (x along the width), in the table's row order, and their ids.
 * From its pixel_mask column (with pixel_mask_index) if it has one, else from image_mask ([rois][x][y]).
 * Throws naming the file and what it lacks.
 */
export async function readPlanarRois(path: string, name: string): Promise<{ masks: PixelMask[]; ids: number[] }> {
  if (!existsSync(path)) throw new Error(`${path}: no such file`);
  await h5wasm.ready;
  const file = new h5wasm.File(path, "r");
  try {
    const processing = file.get("processing") as Group | null;
    const found = (processing?.keys() ?? []).flatMap((module) => {
      const m = processing!.get(module) as Group;
      return m instanceof h5wasm.Group ? m.keys().map((c) => m.get(c)).filter((c): c is Group => c instanceof h5wasm.Group && c.attrs["neurodata_type"]?.value === "SegmentationContainer") : [];
    });
    const table = found.map((c) => c.get(name)).find((t): t is Group => t instanceof h5wasm.Group);
    if (!table) throw new Error(`${path} has no segmentation '${name}' in a SegmentationContainer of /processing`);
    const type = table.attrs["neurodata_type"]?.value;
    if (type !== "PlanarSegmentation") throw new Error(`${path}: ${table.path} is a ${String(type)}, not a PlanarSegmentation`);
    const ids = Array.from((table.get("id") as Dataset).value as ArrayLike<number | bigint>, Number);
    const pixels = table.get("pixel_mask") as Dataset | null;
    if (pixels) {
      const rows = pixels.value as [number, number, number][];
      const ends = Array.from((table.get("pixel_mask_index") as Dataset).value as ArrayLike<number | bigint>, Number);
      return { masks: ends.map((end, i) => rows.slice(i === 0 ? 0 : ends[i - 1]!, end)), ids };
    }
    const images = table.get("image_mask") as Dataset | null;
    if (!images) throw new Error(`${path}: ${table.path} has neither a pixel_mask nor an image_mask column`);
    const [count, width, height] = images.shape as [number, number, number];
    const weights = images.value as ArrayLike<number>;
    const masks = Array.from({ length: count }, (_, i) => {
      const mask: [number, number, number][] = [];
      for (let x = 0; x < width; x++) {
        for (let y = 0; y < height; y++) {
          const w = weights[(i * width + x) * height + y]!;
          if (w > 0) mask.push([x, y, w]);
        }
      }
      return mask;
    });
    return { masks, ids };
  } finally {
    file.close();
  }
}
