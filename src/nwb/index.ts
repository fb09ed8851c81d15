// rigd's NWB writer. Everything a caller needs: the async writer, the object models, the mask and FOV helpers.
export { NwbWriter, NwbWriterError, type WriterOptions } from "./writer.js";
export { NwbFile, type CheckpointReport, type OpenOptions, EVENTS_NAME, isoNow } from "./nwb-file.js";
export type { SeriesInfo } from "./append-check.js";
export { NwbInputError } from "./errors.js";
export * from "./model.js";
export { getFOVSize } from "./fov.js";
export { pixelToImage, imageToPixel, voxelToVolume, volumeToVoxel, type PixelMask, type VoxelMask, type ImageMask, type VolumeMask } from "./masks.js";
