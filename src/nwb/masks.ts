// The four ROI mask conversions of ndx-microscopy (PlanarSegmentation.pixel_to_image / image_to_pixel,
// VolumetricSegmentation.voxel_to_volume / volume_to_voxel), with its conventions: masks are indexed
// [x][y] (or [x][y][z]) with x the first axis, and a pixel belongs to the ROI when its weight is > 0.

export type PixelMask = [x: number, y: number, weight: number][];
export type VoxelMask = [x: number, y: number, z: number, weight: number][];
/** A dense mask: nested arrays indexed [x][y] or [x][y][z]. */
export type ImageMask = number[][];
export type VolumeMask = number[][][];

function zeros(n: number, fill: () => number[] | number[][]): any[] {
  return Array.from({ length: n }, fill);
}

function checkShape(shape: readonly number[], rank: number, what: string): void {
  if (shape.length !== rank || !shape.every((n) => Number.isInteger(n) && n > 0)) {
    throw new Error(`${what} must be ${rank} positive integers, got [${shape.join(", ")}]`);
  }
}

export function pixelToImage(pixelMask: PixelMask, imageShape?: readonly [number, number]): ImageMask {
  if (pixelMask.some((row) => row.length !== 3)) throw new Error("pixel_mask must have shape (N, 3) where each row is (x, y, weight)");
  const shape = imageShape ?? [Math.max(...pixelMask.map((r) => r[0])) + 1, Math.max(...pixelMask.map((r) => r[1])) + 1];
  checkShape(shape, 2, "image shape");
  const image: ImageMask = zeros(shape[0], () => new Array<number>(shape[1]).fill(0));
  for (const [x, y, weight] of pixelMask) {
    if (x >= shape[0] || y >= shape[1] || x < 0 || y < 0) throw new Error(`pixel (${x}, ${y}) lies outside the image [${shape.join(", ")}]`);
    image[x]![y] = weight;
  }
  return image;
}

export function imageToPixel(imageMask: ImageMask): PixelMask {
  if (!Array.isArray(imageMask[0])) throw new Error("image_mask must be 2D (height, width)");
  const mask: PixelMask = [];
  imageMask.forEach((column, x) => column.forEach((weight, y) => weight > 0 && mask.push([x, y, weight])));
  return mask;
}

export function voxelToVolume(voxelMask: VoxelMask, volumeShape?: readonly [number, number, number]): VolumeMask {
  if (voxelMask.some((row) => row.length !== 4)) throw new Error("voxel_mask must have shape (N, 4) where each row is (x, y, z, weight)");
  const max = (i: 0 | 1 | 2) => Math.max(...voxelMask.map((r) => r[i])) + 1;
  const shape = volumeShape ?? [max(0), max(1), max(2)];
  checkShape(shape, 3, "volume shape");
  const volume: VolumeMask = zeros(shape[0], () => zeros(shape[1], () => new Array<number>(shape[2]).fill(0)));
  for (const [x, y, z, weight] of voxelMask) {
    if (x >= shape[0] || y >= shape[1] || z >= shape[2] || x < 0 || y < 0 || z < 0) {
      throw new Error(`voxel (${x}, ${y}, ${z}) lies outside the volume [${shape.join(", ")}]`);
    }
    volume[x]![y]![z] = weight;
  }
  return volume;
}

export function volumeToVoxel(volumeMask: VolumeMask): VoxelMask {
  if (!Array.isArray(volumeMask[0]?.[0])) throw new Error("volume_mask must be 3D (depth, height, width)");
  const mask: VoxelMask = [];
  volumeMask.forEach((plane, x) => plane.forEach((column, y) => column.forEach((weight, z) => weight > 0 && mask.push([x, y, z, weight]))));
  return mask;
}
