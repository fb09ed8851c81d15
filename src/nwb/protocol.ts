// Messages between NwbWriter (main thread) and its worker.
import type { ElementType, NumericArray } from "./element-types.js";
import type { SlotRef, SlotsHandle } from "../frame-slots.js";
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
  | "addSummaryImages"
  | "addImages"
  | "addEvents";

/**
 * Appends are not answered one by one (at 2P rates the answers were a tenth of the writer's CPU): the worker
 * counts them done in shared memory, and posts "room" only when the main thread said it waits for some.
 */
export const APPENDS_DONE = 0;
export const WAITING_FOR_ROOM = 1;

// received: when the sample arrived, ms since the epoch (performance.timeOrigin + performance.now()), for its latency.
// Samples come by transfer, or as the slot they are in (frame-slots.ts): the worker frees it once written.
export type Append =
  | { op: "append"; series: string; data: Samples; timestamps?: Float64Array; received?: number }
  | { op: "appendPlanes"; series: string; planes: Samples[]; timestamps?: Float64Array; received?: number }
  // One plane of the volume being appended plane by plane; the last comes with the volume's timestamp.
  | { op: "appendPlane"; series: string; depth: number; plane: Samples; timestamps?: Float64Array; received?: number }
  | { op: "dropPartialVolume"; series: string };

/** Requests answered with a "result" of the same id. */
export type Call = { id: number } & (
  // progress: Int32Array(2) over it, [APPENDS_DONE, WAITING_FOR_ROOM].
  | { op: "open"; path: string; metadata: NwbFileMetadata; options: OpenOptions; checkpointIntervalMs: number; progress: SharedArrayBuffer }
  | { op: "call"; method: FileMethod; args: unknown[] }
  // A set of frame slots the worker is to read samples from (sent once, before the first append from it).
  | { op: "slots"; handle: SlotsHandle }
  | { op: "checkpoint" }
  | { op: "close" }
  // After a failed write closed the file: the session's events it lacks, and the closing note.
  | { op: "completeEvents"; path: string; events: RigEvent[]; note: string }
);

export type Request = Append | Call;

/** Samples as an array, or as the frame slot they are in and their element type. */
export type Samples = NumericArray | (SlotRef & { type: ElementType });

export type Response =
  // After a failed write every request is answered with an error carrying that failure (appends are never answered).
  | { kind: "result"; id: number; value?: unknown; error?: { name: string; message: string; failure?: WriteFailure } }
  // Appends were counted done since the main thread said it waits for room.
  | { kind: "room" }
  // An append the worker found wrong (the main thread checks them first, so a bug): the writer takes no more.
  | { kind: "appendRefused"; series: string; message: string }
  | { kind: "checkpoint"; report: CheckpointReport; latency: Latency }
  // Sent once, as soon as a write fails (the file is already cut back to its last checkpoint and closed).
  | { kind: "failed"; failure: WriteFailure };

/** p50, p99 and the largest, in ms. */
export interface Percentiles {
  p50: number;
  p99: number;
  max: number;
}

/**
 * How long samples took from arrival (the `received` time given to append) to being written into the file
 * (handed to HDF5 — frames wait in a batch for that, at most until the next checkpoint — which passes them to the
 * OS at the next checkpoint) and to being durable (fsynced by a checkpoint), over every sample of the file so far
 * that came with a `received` time; null before the first.
 */
export interface Latency {
  samples: number;
  written: Percentiles | null;
  durable: Percentiles | null;
}

export type FileMethods = Pick<NwbFile, FileMethod>;
