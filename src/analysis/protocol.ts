// Messages between OnlineAnalysis (main thread) and its worker (worker.ts).
import type { SlotRef, SlotsHandle } from "../frame-slots.js";
import type { Shift } from "./motion.js";
import type { AnalysisConfig } from "./series-analysis.js";
import type { SummaryImages } from "./summary.js";

/** Pixel types a frame may come in, by the name of their typed array. */
export type PixelType = "Uint8Array" | "Uint16Array" | "Int16Array" | "Float32Array";

export type Request =
  | { op: "start"; series: AnalysisConfig[]; slots: SlotsHandle }
  // A frame (or the plane at `depth` of the volume at `time`) in one of the analysis' own slots (never the
  // writer's): the worker frees the slot once analysed.
  | { op: "frame"; series: number; depth: number; slot: SlotRef; type: PixelType; time: number; hardwareTime: number | null; received: number }
  // After the last frame: answered with "summaries", once every frame before it is analysed.
  | { op: "finish" };

export type Response =
  // One frame's (or volume's) results: `shifts` per depth (one for a planar series), `planes` analysed in it.
  | { kind: "result"; series: number; time: number; hardwareTime: number | null; received: number; shifts: (Shift | null)[]; planes: number; f: Float32Array; dff: Float32Array; done: number }
  // Per series, per depth plane (one for a planar series): its summary images; undefined where not asked for.
  | { kind: "summaries"; images: (SummaryImages[] | undefined)[] }
  | { kind: "error"; message: string };
