// What an online analysis is asked to do, checked without computing anything: the main thread lays out a session's
// analysis with these, and so never loads the WebAssembly kernels or the FFT, which live in the analysis' worker.
import type { AnalysisConfig, VolumeAnalysisConfig, VoxelMask } from "./series-analysis.js";
import type { PixelMask } from "./traces.js";

/**
 * The correlation image's sums take one band of rows per frame, in turn: each pixel's correlations come from every
 * BANDS-th frame (about 230 a minute at 30 Hz, plenty for a correlation) and a frame costs a BANDS-th of them.
 */
export const BANDS = 8;

export const isVolume = (config: AnalysisConfig): config is VolumeAnalysisConfig => "depths" in config;

/** Throws naming the ROI (by index) with a pixel outside the width × height frame, or with no pixel of weight > 0. */
export function checkPixelMasks(masks: readonly PixelMask[], width: number, height: number): void {
  masks.forEach((m, i) => {
    const pixels = m.filter(([, , w]) => w > 0);
    if (pixels.length === 0) throw new Error(`ROI ${i} has no pixel with a weight > 0`);
    const outside = pixels.find(([x, y]) => !Number.isInteger(x) || !Number.isInteger(y) || x < 0 || y < 0 || x >= width || y >= height);
    if (outside) throw new Error(`ROI ${i} pixel (${outside[0]}, ${outside[1]}) lies outside the ${width} × ${height} frame (x < ${width}, y < ${height})`);
  });
}

/**
 * The ROIs' voxels split by depth plane: per depth, the ROIs with voxels of weight > 0 in it (their indices), those
 * voxels as pixel masks, and their weight sums. Throws naming an ROI with a voxel outside the width × height ×
 * depths volume, or without a voxel of weight > 0.
 */
export function voxelsByDepth(rois: readonly VoxelMask[], width: number, height: number, depths: number): { members: number[]; masks: PixelMask[]; weights: number[] }[] {
  const byDepth = Array.from({ length: depths }, () => ({ members: [] as number[], masks: [] as PixelMask[], weights: [] as number[] }));
  rois.forEach((roi, i) => {
    const voxels = roi.filter(([, , , w]) => w > 0);
    if (voxels.length === 0) throw new Error(`ROI ${i} has no voxel with a weight > 0`);
    const outside = voxels.find(([x, y, z]) => ![x, y, z].every(Number.isInteger) || x < 0 || y < 0 || z < 0 || x >= width || y >= height || z >= depths);
    if (outside) throw new Error(`ROI ${i} voxel (${outside.slice(0, 3).join(", ")}) lies outside the ${width} × ${height} × ${depths} volume (x < ${width}, y < ${height}, z < ${depths})`);
    for (let z = 0; z < depths; z++) {
      const mask = voxels.filter((v) => v[2] === z).map(([x, y, , w]) => [x, y, w] as const);
      if (!mask.length) continue;
      byDepth[z]!.members.push(i);
      byDepth[z]!.masks.push(mask);
      byDepth[z]!.weights.push(mask.reduce((sum, [, , w]) => sum + w, 0));
    }
  });
  return byDepth;
}
