// Messages between NwbWriter (main thread) and its worker.
import type { NumericArray } from "./element-types.js";
import type { WriteFailure } from "./failure.js";
import type { CheckpointReport, NwbFile, OpenOptions } from "./nwb-file.js";
import type { NwbFileMetadata, RigEvent } from "./model.js";

/** NwbFile methods the main thread calls by name (appends, checkpoints and closing have their own messages). */
export type FileMethod =
  | "addDevice"
  | "addRig"
  | "addChannel"
  | "addImagingSpace"
  | "addContainer"
  | "createPlanarSeries"
  | "createVolumetricSeries"
  | "createTelemetrySeries"
  | "createResponseSeries"
  | "addPlanarSegmentation"
  | "addVolumetricSegmentation"
  | "addEvent";

export type Request = { id: number } & (
  | { op: "open"; path: string; metadata: NwbFileMetadata; options: OpenOptions; checkpointIntervalMs: number }
  | { op: "call"; method: FileMethod; args: unknown[] }
  | { op: "append"; series: string; data: NumericArray; timestamps?: Float64Array }
  | { op: "appendPlanes"; series: string; planes: NumericArray[]; timestamps?: Float64Array }
  | { op: "checkpoint" }
  | { op: "close" }
  // After a failed write closed the file: the session's events it lacks, and the closing note.
  | { op: "completeEvents"; path: string; events: RigEvent[]; note: string }
);

export type Response =
  // After a failed write every request is answered with an error carrying that failure.
  | { kind: "result"; id: number; value?: unknown; error?: { name: string; message: string; failure?: WriteFailure } }
  | { kind: "checkpoint"; report: CheckpointReport }
  // Sent once, as soon as a write fails (the file is already cut back to its last checkpoint and closed).
  | { kind: "failed"; failure: WriteFailure };

export type FileMethods = Pick<NwbFile, FileMethod>;
