// rigd's NWB writer, for the main thread: the async writer, the object models, the mask and FOV helpers.
export { NwbWriter, NwbWriterError, NwbWriteFailure, type WriterOptions } from "./writer.js";
export type { WriteFailure } from "./failure.js";
export { DEFAULT_RESERVE_BYTES, freeBytes, removeStaleReserves } from "./disk.js";
// The synchronous NwbFile (./nwb-file.js) is the worker's; importing it here would load h5wasm on the caller's thread.
export type { CheckpointReport, OpenOptions } from "./nwb-file.js";
export { isoNow } from "./time.js";
export type { SeriesInfo } from "./append-check.js";
export type { Latency, Percentiles } from "./protocol.js";
export { NwbInputError } from "./errors.js";
export * from "./model.js";
export { getFOVSize } from "./fov.js";
export { pixelToImage, imageToPixel, voxelToVolume, volumeToVoxel, type PixelMask, type VoxelMask, type ImageMask, type VolumeMask } from "./masks.js";
