// ndx-microscopy's get_FOV_size: the field of view in micrometers, dimensions × size element by
// element, in the order the imaging space stores them ([x, y] planar, [x, y, z] volumetric).
import type { ImagingSpace } from "./model.js";

export function getFOVSize(
  space: ImagingSpace,
  override: { dimensions?: readonly number[]; size_in_um?: readonly number[] } = {},
): number[] {
  const planar = space.neurodata_type === "PlanarImagingSpace";
  const dimensions = override.dimensions ?? (planar ? space.dimensions_in_pixels : space.dimensions_in_voxels);
  const size = override.size_in_um ?? (planar ? space.pixel_size_in_um : space.voxel_size_in_um);
  const [dimName, sizeName] = planar ? ["dimensions_in_pixels", "pixel_size_in_um"] : ["dimensions_in_voxels", "voxel_size_in_um"];
  if (!dimensions) throw new Error(`${space.name}: ${dimName} must be given or set on the imaging space`);
  if (!size) throw new Error(`${space.name}: ${sizeName} must be given or set on the imaging space`);
  if (dimensions.length !== size.length) {
    throw new Error(`${space.name}: ${dimensions.length} dimensions but ${size.length} sizes`);
  }
  return dimensions.map((n, i) => n * size[i]!);
}
