// Volumes arrive as planes (a camera or an ETL delivers one depth at a time) but are stored depth last,
// (height, width, depths): the worker interleaves them, so the main thread never walks a whole volume.
import type { NumericArray } from "./element-types.js";

/** One volume (height, width, depths), depth last, from its depth planes (each height × width, row-major). */
export function interleavePlanes<T extends NumericArray>(planes: readonly T[]): T {
  const depths = planes.length;
  const pixels = planes[0]!.length;
  const volume = new (planes[0]!.constructor as new (n: number) => T)(pixels * depths);
  // Block by block of pixels, so the part of the volume a block fills (block × depths values) stays in
  // cache while every plane writes into it.
  const block = 4096;
  for (let start = 0; start < pixels; start += block) {
    const end = Math.min(pixels, start + block);
    for (let d = 0; d < depths; d++) {
      const src = planes[d]!;
      for (let k = start; k < end; k++) volume[k * depths + d] = src[k]!;
    }
  }
  return volume;
}
