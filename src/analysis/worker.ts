// The online analysis' worker thread: frames come as slots of the analysis' own pool (copied there by the
// main thread, so the writer never waits for this thread), are analysed in arrival order and their slots freed.
import { parentPort } from "node:worker_threads";
import { FrameSlots } from "../frame-slots.js";
import type { PixelType, Request, Response } from "./protocol.js";
import { SeriesAnalysis } from "./series-analysis.js";

if (!parentPort) throw new Error("analysis/worker.ts runs as a worker thread of OnlineAnalysis");
const port = parentPort;
const TYPES = { Uint8Array, Uint16Array, Int16Array, Float32Array } satisfies Record<PixelType, unknown>;

let analyses: SeriesAnalysis[] = [];
let slots: FrameSlots | undefined;

port.on("message", (req: Request) => {
  try {
    if (req.op === "start") {
      analyses = req.series.map((config) => new SeriesAnalysis(config));
      slots = FrameSlots.attach(req.slots);
    } else if (req.op === "frame") {
      const bytes = slots!.view(req.slot, Uint8Array);
      const Type = TYPES[req.type];
      const frame = new Type(bytes.buffer, bytes.byteOffset, bytes.byteLength / Type.BYTES_PER_ELEMENT);
      try {
        // Traces are published before the frame goes into the summary images, which are only needed at stop.
        const analysis = analyses[req.series]!;
        const { shift, f, dff } = analysis.traces(frame);
        const done = performance.timeOrigin + performance.now();
        const result: Response = { kind: "result", series: req.series, time: req.time, hardwareTime: req.hardwareTime, received: req.received, shift: shift && { ...shift }, f: f.slice(), dff: dff.slice(), done };
        port.postMessage(result, [result.f.buffer as ArrayBuffer, result.dff.buffer as ArrayBuffer]);
        analysis.summarize(frame);
      } finally {
        slots!.release(req.slot);
      }
    } else {
      port.postMessage({ kind: "summaries", images: analyses.map((a) => a.summaryImages()) } satisfies Response);
    }
  } catch (e) {
    port.postMessage({ kind: "error", message: (e as Error).message } satisfies Response);
  }
});
