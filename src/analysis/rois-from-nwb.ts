// ROIs of an earlier session: a PlanarSegmentation or VolumetricSegmentation read from an NWB file
// (ndx-microscopy 0.3.0 or what rigd writes), as the masks the online analysis traces.
import h5wasm from "h5wasm/node";
import type { Dataset, Group } from "h5wasm/node";
import { existsSync } from "node:fs";
import type { VoxelMask } from "./series-analysis.js";
import type { PixelMask } from "./traces.js";

/**
 * The ROIs of the PlanarSegmentation `name` in `path`, looked for in every processing module's
 * SegmentationContainer, as [x, y, weight] pixel masks (x along the width), in the table's row order, and their ids.
 * From its pixel_mask column (with pixel_mask_index) if it has one, else from image_mask ([rois][x][y]).
 * Throws naming the file and what it lacks.
 */
export async function readPlanarRois(path: string, name: string): Promise<{ masks: PixelMask[]; ids: number[] }> {
  return readRois<PixelMask>(path, name, "PlanarSegmentation", "pixel_mask", "image_mask");
}

/**
 * The ROIs of the VolumetricSegmentation `name` in `path`, as readPlanarRois finds them: [x, y, z, weight] voxel
 * masks, from its voxel_mask column (with voxel_mask_index), else from volume_mask ([rois][x][y][z]).
 */
export async function readVolumetricRois(path: string, name: string): Promise<{ masks: VoxelMask[]; ids: number[] }> {
  return readRois<VoxelMask>(path, name, "VolumetricSegmentation", "voxel_mask", "volume_mask");
}

/** Either kind: masks as rows of [coordinates…, weight], from the sparse column or else the dense one. */
async function readRois<Mask>(path: string, name: string, type: string, sparse: string, dense: string): Promise<{ masks: Mask[]; ids: number[] }> {
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
    const kind = table.attrs["neurodata_type"]?.value;
    if (kind !== type) throw new Error(`${path}: ${table.path} is a ${String(kind)}, not a ${type}`);
    const ids = Array.from((table.get("id") as Dataset).value as ArrayLike<number | bigint>, Number);
    const rows = table.get(sparse) as Dataset | null;
    if (rows) {
      const values = rows.value as number[][];
      const ends = Array.from((table.get(`${sparse}_index`) as Dataset).value as ArrayLike<number | bigint>, Number);
      return { masks: ends.map((end, i) => values.slice(i === 0 ? 0 : ends[i - 1]!, end) as Mask), ids };
    }
    const masks = table.get(dense) as Dataset | null;
    if (!masks) throw new Error(`${path}: ${table.path} has neither a ${sparse} nor a ${dense} column`);
    const [count, ...shape] = masks.shape as number[];
    const weights = masks.value as ArrayLike<number>;
    const size = shape.reduce((a, b) => a * b, 1);
    return {
      masks: Array.from({ length: count! }, (_, i) => {
        const mask: number[][] = [];
        for (let k = 0; k < size; k++) {
          const w = weights[i * size + k]!;
          if (!(w > 0)) continue;
          // k runs over [x][y] (or [x][y][z]) in C order: its coordinates, last axis fastest.
          const at: number[] = [];
          for (let axis = shape.length - 1, rest = k; axis >= 0; axis--) at.unshift(rest % shape[axis]!), (rest = Math.floor(rest / shape[axis]!));
          mask.push([...at, w]);
        }
        return mask as Mask;
      }),
      ids,
    };
  } finally {
    file.close();
  }
}
