// The online analysis' worker thread: frames come as slots of the analysis' own pool (copied there by the
// main thread, so the writer never waits for this thread), are analysed in arrival order and their slots freed.
import { parentPort } from "node:worker_threads";
import { FrameSlots } from "../frame-slots.js";
import type { PixelType, Request, Response } from "./protocol.js";
import { isVolume } from "./plan.js";
import { SeriesAnalysis, VolumeAnalysis, type VolumeResult } from "./series-analysis.js";

if (!parentPort) throw new Error("analysis/worker.ts runs as a worker thread of OnlineAnalysis");
const port = parentPort;
const TYPES = { Uint8Array, Uint16Array, Int16Array, Float32Array } satisfies Record<PixelType, unknown>;

let analyses: (SeriesAnalysis | VolumeAnalysis)[] = [];
let slots: FrameSlots | undefined;

/** Posts one frame's or volume's results, their arrays transferred. */
function post(series: number, r: Pick<VolumeResult, "time" | "shifts" | "f" | "dff" | "planes">, hardwareTime: number | null, received: number): void {
  const done = performance.timeOrigin + performance.now();
  const result: Response = { kind: "result", series, time: r.time, hardwareTime, received, shifts: r.shifts, planes: r.planes, f: r.f, dff: r.dff, done };
  port.postMessage(result, [result.f.buffer as ArrayBuffer, result.dff.buffer as ArrayBuffer]);
}

/** Per volumetric series, the volume under way: its time and the hardware time of its first plane analysed. */
const underWay = new Map<number, { time: number; hardwareTime: number | null }>();
const hardwareTimeOf = (series: number, time: number, otherwise: number | null) => (underWay.get(series)?.time === time ? underWay.get(series)!.hardwareTime : otherwise);

port.on("message", (req: Request) => {
  try {
    if (req.op === "start") {
      analyses = req.series.map((config) => (isVolume(config) ? new VolumeAnalysis(config) : new SeriesAnalysis(config)));
      slots = FrameSlots.attach(req.slots);
    } else if (req.op === "frame") {
      const bytes = slots!.view(req.slot, Uint8Array);
      const Type = TYPES[req.type];
      const frame = new Type(bytes.buffer, bytes.byteOffset, bytes.byteLength / Type.BYTES_PER_ELEMENT);
      try {
        // Traces are published before the frame goes into the summary images, which are only needed at stop.
        const analysis = analyses[req.series]!;
        if (analysis instanceof SeriesAnalysis) {
          const { shift, f, dff } = analysis.traces(frame);
          post(req.series, { time: req.time, shifts: [shift], f: f.slice(), dff: dff.slice(), planes: 1 }, req.hardwareTime, req.received);
          analysis.summarize(frame);
        } else {
          const done = analysis.traces(req.time, req.depth, frame);
          for (const v of done) post(req.series, v, hardwareTimeOf(req.series, v.time, req.hardwareTime), req.received);
          if (done.at(-1)?.time === req.time) underWay.delete(req.series);
          else if (underWay.get(req.series)?.time !== req.time) underWay.set(req.series, { time: req.time, hardwareTime: req.hardwareTime });
          analysis.summarize(req.depth, frame);
        }
      } finally {
        slots!.release(req.slot);
      }
    } else {
      // A volume still waiting for planes that will not come (skipped, or the recording stopped) ends here.
      analyses.forEach((a, i) => {
        const v = a instanceof VolumeAnalysis ? a.end() : undefined;
        if (v) post(i, v, hardwareTimeOf(i, v.time, null), performance.timeOrigin + performance.now());
      });
      const images = analyses.map((a) => (a instanceof SeriesAnalysis ? (a.config.summary_images ? [a.summaryImages()!] : undefined) : a.summaryImages()));
      port.postMessage({ kind: "summaries", images } satisfies Response);
    }
  } catch (e) {
    port.postMessage({ kind: "error", message: (e as Error).message } satisfies Response);
  }
});
