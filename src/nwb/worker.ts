// The writer's worker thread: h5wasm is synchronous, so the file lives here and the main thread's
// event loop (serial ports, ZeroMQ) never waits on HDF5. Requests run strictly in arrival order.
import { parentPort } from "node:worker_threads";
import { type CheckpointReport, NwbFile } from "./nwb-file.js";
import type { NumericArray } from "./element-types.js";
import { interleavePlanes } from "./planes.js";
import type { Request, Response } from "./protocol.js";

if (!parentPort) throw new Error("worker.ts runs as a worker thread of NwbWriter");
const port = parentPort;

let file: NwbFile | undefined;
let checkpointIntervalMs = 1000;
let lastCheckpoint = Date.now();
let dirty = false;
let timer: NodeJS.Timeout | undefined;
let volume: NumericArray | undefined;

function checkpoint(): CheckpointReport {
  const report = file!.checkpoint();
  lastCheckpoint = Date.now();
  dirty = false;
  port.postMessage({ kind: "checkpoint", report } satisfies Response);
  return report;
}

// Checked after every request as well as on a timer: a busy queue must not starve the timer's checkpoints.
function checkpointIfDue(): void {
  if (file && dirty && Date.now() - lastCheckpoint >= checkpointIntervalMs) checkpoint();
}

function run(req: Request): unknown {
  if (req.op === "open") {
    checkpointIntervalMs = req.checkpointIntervalMs;
    return NwbFile.create(req.path, req.metadata, req.options).then((f) => {
      file = f;
      timer = setInterval(checkpointIfDue, Math.max(50, checkpointIntervalMs / 4));
    });
  }
  if (!file) throw new Error("the file is not open");
  switch (req.op) {
    case "checkpoint":
      return checkpoint();
    case "close": {
      clearInterval(timer);
      const closing = file;
      file = undefined; // nothing may touch it after this, not even a due checkpoint
      try {
        const report = closing.close();
        port.postMessage({ kind: "checkpoint", report } satisfies Response);
        return report;
      } catch (e) {
        // A failed close still closes: nothing more can be written, and what is in the file stays.
        closing.abandon();
        throw e;
      }
    }
    case "append":
      dirty = true;
      return file.append(req.series, req.data, req.timestamps);
    case "appendPlanes":
      dirty = true;
      // append() copies what it keeps (into a chunk's staging or HDF5), so one volume buffer serves every volume.
      volume = interleavePlanes(req.planes, volume);
      return file.append(req.series, volume, req.timestamps);
    case "call": {
      dirty = true;
      const method = file[req.method] as (...args: unknown[]) => unknown;
      return method.apply(file, req.args);
    }
  }
}

port.on("message", async (req: Request) => {
  try {
    const value = await run(req);
    port.postMessage({ kind: "result", id: req.id, value } satisfies Response);
  } catch (e) {
    const error = e instanceof Error ? { name: e.name, message: e.message } : { name: "Error", message: String(e) };
    port.postMessage({ kind: "result", id: req.id, error } satisfies Response);
  }
  checkpointIfDue();
});
